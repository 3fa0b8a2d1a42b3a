"""The host side of one container's root filesystem: its directories and the overlay mounted on the host.

    <store>/containers/isodemo-<run>-ctr/
        upper/    the container's writes (overlayfs upperdir): removed with the container
        work/     overlayfs's scratch directory (workdir), on the same filesystem as upper/
        merged/   where the overlay is mounted: the image's layers (read-only, shared by every container of
                  that image) under upper/; `findmnt` on the host shows it, as it shows Docker's
        etc/      hostname, hosts, resolv.conf: bound over the image's files inside, as Docker does

`ContainerDirs` owns the directory tree, `OverlayMount` the mount on it; both undo themselves at any point
of their creation (isodemo.owned), and `isodemo cleanup` finds them by the run's record after a SIGKILL.
"""

from __future__ import annotations

import errno
import os
from types import TracebackType

from isodemo.errors import KernelError
from isodemo.i18n import _
from isodemo.kernel import mount

TYPE_CHECKING = False  # collections.abc imports collections (~1 ms of every start); mypy treats this as true
if TYPE_CHECKING:
    from collections.abc import Sequence

ROLE = "ctr"
# {"taken": False} once this kernel refused overlayfs's `volatile` option (before Linux 5.10): not asked again.
_VOLATILE: dict[str, bool] = {}


class ContainerDirs:
    """Owns <containers>/isodemo-<run>-ctr and everything under it; never deletes through a mount.

    The containers directory is root's alone (0700): an image's setuid files are in upper/ and merged/, and a
    host user must not reach them. With `group` (a --userns container: its root is that host uid) it is
    root:group 0710, so that the container's root, and nobody else, passes through to merged/."""

    def __init__(self, containers_dir: str, name: str, *, group: int | None = None) -> None:
        self.path = os.path.join(containers_dir, name)
        self.group = group
        self.upper = os.path.join(self.path, "upper")
        self.work = os.path.join(self.path, "work")
        self.merged = os.path.join(self.path, "merged")
        self.etc = os.path.join(self.path, "etc")

    def __enter__(self) -> ContainerDirs:
        parent = os.path.dirname(self.path)
        os.makedirs(parent, mode=0o700, exist_ok=True)
        if self.group is not None:
            os.chown(parent, 0, self.group)
        os.chmod(parent, 0o700 if self.group is None else 0o710)  # whatever the umask or an older isodemo made
        os.mkdir(self.path, 0o711)
        for directory in (self.upper, self.work, self.merged, self.etc):
            os.mkdir(directory, 0o755)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        remove(self.path)

    def write_etc(self, files: dict[str, str]) -> dict[str, str]:
        """Write /etc files of the container here; {"/etc/hosts": host path} for the bind mounts."""
        bound = {}
        for target, text in files.items():
            path = os.path.join(self.etc, os.path.basename(target))
            with open(path, "w") as f:
                f.write(text)
            bound[target] = path
        return bound


def remove(path: str) -> None:
    """Remove a container directory: first whatever is still mounted under it (a run killed midway), then
    the tree, without ever following a mount into someone's data (os.path.ismount is checked again)."""
    if not os.path.lexists(path):
        return
    merged = os.path.join(path, "merged")
    if os.path.ismount(merged):
        mount.umount2(merged, mount.MNT_DETACH)
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            if os.path.ismount(os.path.join(root, name)):
                raise OSError(errno.EBUSY, _("{path} is a mount point; refusing to delete through it", path=root))
    if os.geteuid() != 0:
        _open_up(path)
    _remove_tree(path)


def _remove_tree(path: str) -> None:
    """rm -r through directory descriptors: a symlink is removed, never followed (shutil.rmtree's safe mode;
    written out because importing shutil costs every run ~2 ms)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _empty(fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _empty(directory: int) -> None:
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
            try:
                _empty(child)
            finally:
                os.close(child)
            os.rmdir(entry.name, dir_fd=directory)
        else:
            os.unlink(entry.name, dir_fd=directory)


def _open_up(path: str) -> None:
    """overlayfs leaves work/work with mode 000 (owned by root in the container's user namespace, so by this
    user): without root, rmtree cannot enter it until this user, its owner, opens the mode up again."""
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            child = os.path.join(root, name)
            if not os.path.islink(child):
                os.chmod(child, 0o700)


class OverlayMount:
    """The overlay on the host: mount("overlay", merged, "overlay", 0, "lowerdir=...,upperdir=...,workdir=...").

    lowerdir lists the image's layers highest first (overlayfs's order); the lowest is the image's base.

    Mounted `volatile` where the kernel has it (Linux 5.10): overlayfs then never syncs the upper dir, not
    on fsync(2), syncfs(2) nor at the unmount, which is ~0.3 ms faster (umount2 no longer flushes the upper
    filesystem). Safe here because the upper dir lives exactly as long as the run, as podman mounts its
    transient (--rm) containers: what the container wrote is removed with it, so nothing ever needs it on
    disk; after a crash, `isodemo cleanup` removes it (overlayfs would refuse to mount it again, marked by
    work/incompat/volatile). Volumes are bind mounts of host directories, not in the upper dir: their writes
    sync as usual."""

    def __init__(self, layers: Sequence[str], upper: str, work: str, merged: str) -> None:
        self.lower = tuple(reversed(layers))  # layers come lowest first, as images are built
        self.upper = upper
        self.work = work
        self.merged = merged
        self.mounted = False
        self.volatile = False  # mounted with `volatile`

    @property
    def options(self) -> str:
        volatile = ",volatile" if self.volatile else ""
        return f"lowerdir={':'.join(self.lower)},upperdir={self.upper},workdir={self.work}{volatile}"

    @property
    def syscall(self) -> str:
        return f'mount("overlay", "{self.merged}", "overlay", 0, "{self.options}")'

    @property
    def shell(self) -> str:
        return f"mount -t overlay overlay -o {self.options} {self.merged}"

    def __enter__(self) -> OverlayMount:
        try:
            self._mount()
        except OSError as error:
            code = error.errno or 0
            raise KernelError(
                "mount(overlay)",
                code,
                os.strerror(code),
                _(
                    "overlayfs refused these directories: the upper and work directories must be on one "
                    "filesystem that supports extended attributes (not an overlay itself); set ISODEMO_STORE "
                    "to a directory on ext4, xfs or tmpfs"
                )
                if code == errno.EINVAL
                else _("`modprobe overlay` loads overlayfs; `isodemo doctor` shows what this machine supports"),
            ) from None
        self.mounted = True
        return self

    def _mount(self) -> None:
        """With `volatile`, unless this kernel refused it once: EINVAL, and the same mount without it works."""
        self.volatile = _VOLATILE.get("taken", True)
        try:
            mount.mount("overlay", self.merged, "overlay", 0, self.options)
        except OSError as error:
            if not self.volatile or error.errno != errno.EINVAL:
                raise
            self.volatile = False
            mount.mount("overlay", self.merged, "overlay", 0, self.options)  # raises for any other cause
            _VOLATILE["taken"] = False

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if os.path.ismount(self.merged):
            mount.umount2(self.merged, mount.MNT_DETACH)
        self.mounted = False
