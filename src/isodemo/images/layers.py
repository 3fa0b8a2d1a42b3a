"""One layer tar, unpacked safely into a directory that overlayfs can stack (blobs.py reads and checks it).

A layer is untrusted input. The rules, checked member by member as the tar streams past (nothing is extracted
by tarfile itself):
- a member's name is relative and stays inside the layer: an absolute name or a `..` component is refused;
- nothing is written THROUGH a symbolic link: every directory on the way to a member must be a real
  directory of this layer (a layer with `etc -> /etc` and then `etc/passwd` would write the host's
  /etc/passwd: refused). A symbolic link itself may point anywhere: it is resolved inside the container;
- no mode, owner or time is set through a symbolic link either: each is set on what was just made, through a
  descriptor of it (the new file's own; a directory opened with O_DIRECTORY|O_NOFOLLOW one component at a
  time; O_PATH for the rest, its type checked first), or by lchown/utimensat, which never follow a link.
  A symbolic link has no mode of its own, so a hard link to one (`h` -> `evil`, `evil` -> /etc/shadow) is
  only a second name for it: its mode is not applied, as Docker does not apply it;
- a member replaces an earlier one of the same name (tar's rule): a directory replaced, with everything under
  it, is forgotten, so its mode and time (set last, deepest first) never reach what replaced it;
- a hard link's target must be a file already unpacked in this layer (same rules as a name);
- device nodes are made only by root (mknod); without root they are skipped, as rootless podman does. Made,
  they keep the image's major:minor (Docker keeps them: the container's device cgroup decides which may be
  opened) but only their permission bits: a setuid, setgid or sticky bit on a device node or a FIFO is dropped.
  FIFOs are kept. Nothing here opens a device node or a FIFO: a regular file is created with O_EXCL|O_NOFOLLOW
  (a name taken by anything is removed first), directories are opened with O_DIRECTORY, the rest with O_PATH;
- the store's filesystem keeps a margin free (`Limits`: 5% of it or 256 MiB, whichever is smaller), checked
  before each regular file is written with the size its header states, and a layer has at most 1,000,000
  members: a gzip bomb is refused before it fills the disk (and the import leaves nothing).

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
MAX_MEMBERS = 1_000_000
KEEP_FREE_MAX = 256 << 20  # the margin left free: 5% of the filesystem, at most this
PERMISSIONS = 0o777  # what a device node or a FIFO keeps of its mode: no setuid, setgid or sticky bit
STORE_FS_HINT = N_("keep the image store (ISODEMO_STORE) on ext4, xfs, btrfs or tmpfs, not on an overlayfs")


def opaque_xattr() -> str:
    """The xattr overlayfs reads for an opaque directory: trusted.* needs CAP_SYS_ADMIN, user.* does not."""
    return "trusted.overlay.opaque" if os.geteuid() == 0 else "user.overlay.opaque"


class Limits:
    """What one layer may take: `max_members` members, and the store's filesystem must keep `margin()` bytes
    free (`keep_free` when given: tests make it small; else 5% of the filesystem or KEEP_FREE_MAX)."""

    __slots__ = ("keep_free", "max_members")

    def __init__(self, *, keep_free: int | None = None, max_members: int = MAX_MEMBERS) -> None:
        self.keep_free = keep_free
        self.max_members = max_members

    def margin(self, vfs: os.statvfs_result) -> int:
        if self.keep_free is not None:
            return self.keep_free
        return min(vfs.f_blocks * vfs.f_frsize // 20, KEEP_FREE_MAX)


LIMITS = Limits()


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

    def __init__(self, dest: str, where: str, limits: Limits | None = None) -> None:
        self.dest = dest
        self.where = where
        self.limits = limits or LIMITS
        self.size = 0
        self.members = 0
        self.free_at_start = _free_bytes(os.statvfs(dest))
        self.root = os.geteuid() == 0
        self.dirs: dict[str, tarfile.TarInfo] = {}  # their owner, mode and time are set last (finish)
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
        self.members += 1
        if self.members > self.limits.max_members:
            raise ImageError(
                _(
                    "{where}: the layer has more than {limit} members: refused (a layer that large is most "
                    "likely made to exhaust the disk)",
                    where=self.where,
                    limit=self.limits.max_members,
                )
            )
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
            self.dirs[path] = member
            return
        if member.isreg():
            self.room(member)
        self.clear(path)
        if member.isreg():
            self.write(tar, member, path)
            return
        if member.issym():
            os.symlink(member.linkname, path)
            kind = stat.S_IFLNK
        elif member.islnk():
            kind = self.hard_link(member, path)
        elif member.isfifo():
            os.mkfifo(path, 0o600)
            kind = stat.S_IFIFO
        elif member.ischr() or member.isblk():
            made = self.mknod(path, member)
            if made is None:
                return
            kind = made
        else:
            return  # a kind of member that is no file (GNU volume header): nothing to make
        self.settle(path, member, kind)

    def room(self, member: tarfile.TarInfo) -> None:
        """Refuse a regular file whose size (as its header states it) would eat into the margin left free."""
        if member.size <= 0:
            return
        vfs = os.statvfs(self.dest)
        margin = self.limits.margin(vfs)
        if _free_bytes(vfs) - member.size >= margin:
            return
        from isodemo.values import format_bytes

        raise ImageError(
            _(
                "{where}: not enough free space in the image store for {name}: the image needs at least {needed} "
                "for this layer, {free} was free when it began, and isodemo keeps {margin} free",
                where=self.where,
                name=member.name,
                needed=format_bytes(self.size + member.size),
                free=format_bytes(self.free_at_start),
                margin=format_bytes(margin),
            ),
            _("free some space, or set ISODEMO_STORE to a directory on a larger filesystem"),
        )

    def clear(self, path: str, *, keep_dir: bool = False) -> bool:
        """Make room at `path` (a later member replaces an earlier one, as tar does); with keep_dir an existing
        real directory stays: True then. A directory replaced drops what was known about it and its contents:
        its pending mode and time must never be set on what takes its place."""
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
            inside = path + "/"
            self.dirs = {key: value for key, value in self.dirs.items() if key != path and not key.startswith(inside)}
        else:
            os.unlink(path)
        return False

    def write(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        """A regular file: created (never opened if anything is there), written, its owner, mode and time set
        through its own descriptor."""
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
            self.own(fd, member)
            os.chmod(fd, member.mode & 0o7777)
            os.utime(fd, ns=_times(member))
        finally:
            os.close(fd)
        self.size += member.size

    def hard_link(self, member: tarfile.TarInfo, path: str) -> int:
        """link(2) to a file of this layer; the type of what it links (a symbolic link is linked, not followed)."""
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
        return stat.S_IFMT(mode)

    def mknod(self, path: str, member: tarfile.TarInfo) -> int | None:
        """A device node, as root only; its type, or None when skipped (no root, or no CAP_MKNOD in a user
        namespace). Its mode is set by settle(), without setuid, setgid or sticky bits."""
        if not self.root:
            return None
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        try:
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        except PermissionError:
            return None
        return kind

    def settle(self, path: str, member: tarfile.TarInfo, kind: int) -> None:
        """Owner, mode and time of what was just made at `path` (of type `kind`), never through a symbolic link.

        A symbolic link (or a hard link to one) gets lchown and utimensat(AT_SYMLINK_NOFOLLOW), no mode. Anything
        else is held by an O_PATH|O_NOFOLLOW descriptor, which opens nothing (a FIFO or a device stays closed),
        its type checked, and changed through /proc/self/fd/N: that inode, whatever the path names by then."""
        if kind == stat.S_IFLNK:
            self.own(path, member, follow=False)
            os.utime(path, ns=_times(member), follow_symlinks=False)
            return
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if stat.S_IFMT(os.fstat(fd).st_mode) != kind:
                raise self.fail(member.name, _("it changed while it was unpacked"))
            inode = f"/proc/self/fd/{fd}"
            self.own(inode, member)
            os.chmod(inode, member.mode & (0o7777 if kind == stat.S_IFREG else PERMISSIONS))
            os.utime(inode, ns=_times(member))
        finally:
            os.close(fd)

    def own(self, target: str | int, member: tarfile.TarInfo, *, follow: bool = True) -> None:
        if not self.root:
            return  # without root every file is the importer's (a user namespace maps it to root inside)
        try:
            os.chown(target, member.uid, member.gid, follow_symlinks=follow)
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
        """The directories' owner, mode and time, deepest first (writing into a directory changes its mtime),
        each through a descriptor of the directory itself (open_dir): never through a symbolic link."""
        for path, member in sorted(self.dirs.items(), key=lambda item: item[0].count("/"), reverse=True):
            try:
                fd = self.open_dir(path)
            except OSError as error:
                raise self.fail(member.name, str(error)) from None
            try:
                self.own(fd, member)
                os.chmod(fd, member.mode & 0o7777)
                os.utime(fd, ns=_times(member))
            except (OSError, ValueError, OverflowError) as error:  # a time too large, or NaN, in a PAX header
                raise self.fail(member.name, str(error)) from None
            finally:
                os.close(fd)

    def open_dir(self, path: str) -> int:
        """A descriptor of the directory `path` of this layer, opened one component at a time from `dest`, each
        with O_DIRECTORY|O_NOFOLLOW: a symbolic link anywhere on the way fails (ELOOP or ENOTDIR)."""
        parts = os.path.relpath(path, self.dest).split("/")
        fd = os.open(self.dest, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                flags = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_RDONLY if last else os.O_PATH)
                inner = os.open(part, flags, dir_fd=fd)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd


def _free_bytes(vfs: os.statvfs_result) -> int:
    return vfs.f_bavail * vfs.f_frsize


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in ns for utime: both the member's mtime."""
    mtime = int(member.mtime * 1e9)
    return (mtime, mtime)
