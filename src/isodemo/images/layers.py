"""One layer tar, unpacked safely into a directory that overlayfs can stack (blobs.py reads and checks it).

A layer is untrusted input. The rules, checked member by member as the tar streams past (nothing is extracted
by tarfile itself):
- a member's name is relative and stays inside the layer: an absolute name or a `..` component is refused;
- nothing is written THROUGH a symbolic link: every directory on the way to a member must be a real
  directory of this layer (a layer with `etc -> /etc` and then `etc/passwd` would write the host's
  /etc/passwd: refused). A symbolic link itself may point anywhere: it is resolved inside the container;
- a hard link's target must be a file already unpacked in this layer (same rules as a name);
- device nodes are made only by root (mknod); without root they are skipped, as rootless podman does.

Whiteouts become what overlayfs reads in a lower layer (Documentation/filesystems/overlayfs.rst):
`.wh.NAME` -> a 0:0 character device NAME (it hides NAME of the layers below), `.wh..wh..opq` -> the
xattr `trusted.overlay.opaque=y` on its directory (`user.overlay.opaque` without root: overlayfs mounted with
`userxattr` in a user namespace reads that one). The `.wh.` files themselves are never written.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from isodemo.errors import ImageError
from isodemo.i18n import N_, _

if TYPE_CHECKING:
    import tarfile

    from isodemo.images.blobs import Readable


WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20
STORE_FS_HINT = N_("keep the image store (ISODEMO_STORE) on ext4, xfs, btrfs or tmpfs, not on an overlayfs")


def opaque_xattr() -> str:
    """The xattr overlayfs reads for an opaque directory: trusted.* needs CAP_SYS_ADMIN, user.* does not."""
    return "trusted.overlay.opaque" if os.geteuid() == 0 else "user.overlay.opaque"


def unpack_tar(stream: Readable, dest: str, where: str) -> tuple[int, int]:
    """Unpack the tar read from `stream` into `dest`: (bytes of regular files, offset of its end)."""
    import tarfile

    unpacker = Unpacker(dest, where)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                unpacker.add(tar, member)
            end = tar.offset
    except tarfile.TarError as error:
        raise ImageError(
            _("{where}: the layer is not a tar archive, or is cut short: {reason}", where=where, reason=error)
        ) from None
    unpacker.finish()
    return unpacker.size, end


class Unpacker:
    """Writes the members of one layer into `dest`, refusing every unsafe one (see the module's docstring)."""

    def __init__(self, dest: str, where: str) -> None:
        self.dest = dest
        self.where = where
        self.size = 0
        self.root = os.geteuid() == 0
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []  # their mode and time are set last (finish)
        self.checked: set[str] = set()  # directories known to be real directories of this layer

    def fail(self, name: str, reason: str) -> ImageError:
        return ImageError(_("{where}: refusing {name}: {reason}", where=self.where, name=name, reason=reason))

    def parts(self, name: str) -> list[str]:
        """The components of a member's name, refused when it is absolute or climbs out with `..`."""
        if name.startswith("/"):
            raise self.fail(name, _("an absolute path (a layer's paths are relative to its root)"))
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self.fail(name, _("the path leaves the layer with .."))
        return parts

    def parent(self, name: str, parts: list[str], *, create: bool = True) -> str:
        """The directory that holds `parts[-1]`, every step a real directory of this layer (made if missing)."""
        path = self.dest
        for part in parts[:-1]:
            if part.startswith(WHITEOUT):
                raise self.fail(name, _("a whiteout name used as a directory"))
            path = os.path.join(path, part)
            if path in self.checked:
                continue
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                if not create:
                    raise self.fail(name, _("it names a file that is not in this layer")) from None
                os.mkdir(path, 0o755)
                mode = stat.S_IFDIR
            if stat.S_ISLNK(mode):
                link = os.path.relpath(path, self.dest)
                raise self.fail(name, _("it would be written through the symbolic link {link}", link=link))
            if not stat.S_ISDIR(mode):
                raise self.fail(name, _("{path} is not a directory", path=os.path.relpath(path, self.dest)))
            self.checked.add(path)
        return path

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self.parts(member.name)
        if not parts:
            return  # the layer's root directory itself: the container's / keeps the upper layer's
        try:
            self._add(tar, member, parts)
        except ImageError:
            raise
        except (OSError, ValueError, OverflowError) as error:  # ValueError: a NUL in a name; Overflow: a time
            raise self.fail(member.name, str(error)) from None

    def _add(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str]) -> None:
        base = parts[-1]
        if base.startswith(WHITEOUT):
            self.whiteout(member.name, parts)
            return
        path = os.path.join(self.parent(member.name, parts), base)
        if member.isdir():
            if not self.clear(path, keep_dir=True):
                os.mkdir(path, 0o700)
            self.own(path, member)
            self.dirs.append((path, member))
            return
        self.clear(path)
        if member.isreg():
            self.write(tar, member, path)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self.hard_link(member, path)
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        elif member.ischr() or member.isblk():
            if not self.mknod(path, member):
                return
        else:
            return  # a kind of member that is no file (GNU volume header): nothing to make
        self.own(path, member)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, ns=(int(member.mtime * 1e9),) * 2, follow_symlinks=False)

    def clear(self, path: str, *, keep_dir: bool = False) -> bool:
        """Make room at `path` (a later member replaces an earlier one, as tar does); with keep_dir an existing
        real directory stays: True then. A directory replaced drops what was known about its contents."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(mode):
            if keep_dir:
                return True
            from isodemo.images.staging import remove_tree

            remove_tree(path)
            self.checked.clear()
        else:
            os.unlink(path)
        return False

    def write(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        source = tar.extractfile(member)
        if source is None:  # tarfile gives no data only for members that are no regular file
            raise self.fail(member.name, _("no data for a regular file"))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                os.write(fd, chunk)
        finally:
            os.close(fd)
        self.size += member.size

    def hard_link(self, member: tarfile.TarInfo, path: str) -> None:
        target_parts = self.parts(member.linkname)
        if not target_parts:
            raise self.fail(member.name, _("a hard link to the layer's root"))
        target = os.path.join(self.parent(member.name, target_parts, create=False), target_parts[-1])
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            raise self.fail(member.name, _("a hard link to a file that is not in this layer")) from None
        if stat.S_ISDIR(mode):
            raise self.fail(member.name, _("a hard link to a directory"))
        os.link(target, path, follow_symlinks=False)

    def mknod(self, path: str, member: tarfile.TarInfo) -> bool:
        """A device node, as root only; False when skipped (no root, or no CAP_MKNOD in a user namespace)."""
        if not self.root:
            return False
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        try:
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        except PermissionError:
            return False
        return True

    def own(self, path: str, member: tarfile.TarInfo) -> None:
        if not self.root:
            return  # without root every file is the importer's (a user namespace maps it to root inside)
        try:
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
        except OSError as error:  # an id this (user) namespace does not map
            if error.errno not in (errno.EINVAL, errno.EPERM):
                raise

    def whiteout(self, name: str, parts: list[str]) -> None:
        base = parts[-1]
        if base == OPAQUE:
            directory = self.parent(name, parts)
            try:
                os.setxattr(directory, opaque_xattr(), b"y", follow_symlinks=False)
            except OSError as error:
                raise ImageError(
                    _(
                        "{where}: cannot mark {name} opaque with the xattr {xattr}: {reason}",
                        where=self.where,
                        name=name,
                        xattr=opaque_xattr(),
                        reason=error.strerror,
                    ),
                    _(STORE_FS_HINT),
                ) from None
            return
        hidden = base[len(WHITEOUT) :]
        if hidden.startswith(WHITEOUT) or hidden in ("", ".", ".."):
            return  # aufs's own bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing for overlayfs
        path = os.path.join(self.parent(name, parts), hidden)
        self.clear(path)
        try:
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        except PermissionError:
            if not self.root:
                raise ImageError(
                    _(
                        "{where}: {name} is a whiteout (it deletes {hidden} of a lower layer); overlayfs wants it as "
                        "a 0:0 character device, and this kernel lets only a process with CAP_MKNOD make one",
                        where=self.where,
                        name=name,
                        hidden=hidden,
                    ),
                    _(
                        "import the image as root (sudo), or use a kernel from 5.8 on, which lets anyone make "
                        "0:0 devices"
                    ),
                ) from None
            raise self.unfit_filesystem(name) from None
        if not os.path.lexists(path):  # made through an overlayfs, which took it for a whiteout of its own
            raise self.unfit_filesystem(name)

    def unfit_filesystem(self, name: str) -> ImageError:
        return ImageError(
            _(
                "{where}: the store's filesystem cannot keep the whiteout {name} (a 0:0 character device); "
                "an overlayfs cannot",
                where=self.where,
                name=name,
            ),
            _(STORE_FS_HINT),
        )

    def finish(self) -> None:
        """The directories' own mode and time, deepest first: writing into a directory changes its mtime."""
        for path, member in sorted(self.dirs, key=lambda item: item[0].count("/"), reverse=True):
            try:
                os.chmod(path, member.mode & 0o7777)
                os.utime(path, ns=(int(member.mtime * 1e9),) * 2, follow_symlinks=False)
            except OSError as error:
                raise self.fail(member.name, str(error)) from None
