"""mount(2), umount2(2) and pivot_root(2) through libc: the os module has none of them."""

from __future__ import annotations

import os

from isodemo.kernel.libc import check, libc, syscall_number

# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# In the order strace prints them, for the steps `isodemo run --verbose` shows.
FLAG_NAMES = (
    (MS_RDONLY, "MS_RDONLY"),
    (MS_NOSUID, "MS_NOSUID"),
    (MS_NODEV, "MS_NODEV"),
    (MS_NOEXEC, "MS_NOEXEC"),
    (MS_REMOUNT, "MS_REMOUNT"),
    (MS_NOATIME, "MS_NOATIME"),
    (MS_NODIRATIME, "MS_NODIRATIME"),
    (MS_BIND, "MS_BIND"),
    (MS_REC, "MS_REC"),
    (MS_PRIVATE, "MS_PRIVATE"),
    (MS_SLAVE, "MS_SLAVE"),
    (MS_SHARED, "MS_SHARED"),
    (MS_RELATIME, "MS_RELATIME"),
    (MS_STRICTATIME, "MS_STRICTATIME"),
)

# statvfs(3) f_flag bits -> the mount flags a bind remount must repeat. In a user namespace the kernel locks
# nosuid, nodev, noexec and the atime flags of a mount it did not make: a remount that drops one is EPERM.
_LOCKED = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


def flag_names(flags: int) -> str:
    """`MS_NOSUID|MS_NODEV`, or `0`: the flags argument as strace shows it."""
    names = [name for bit, name in FLAG_NAMES if flags & bit]
    return "|".join(names) or "0"


def call_text(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> str:
    """The mount(2) call as strace prints it: `mount("proc", "/proc", "proc", MS_NOSUID, NULL)`."""
    args = [_quoted(source), _quoted(target), _quoted(fstype), flag_names(flags), _quoted(data)]
    return f"mount({', '.join(args)})"


def _quoted(value: str | None) -> str:
    return "NULL" if value is None else f'"{value}"'


def locked_flags(path: str) -> int:
    """The per-mount flags of the mount at `path` (statvfs(3) f_flag) that a bind remount must keep."""
    f_flag = os.statvfs(path).f_flag
    return sum(flag for st, flag in _LOCKED if f_flag & st)


def _c(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """man 2 mount."""
    check(libc().mount(_c(source), _c(target), _c(fstype), flags, _c(data)), f"mount {target}")


def umount2(target: str, flags: int = 0) -> None:
    """man 2 umount2; MNT_DETACH is a lazy unmount, what `umount -l` does."""
    check(libc().umount2(_c(target), flags), f"umount2 {target}")


def make_rprivate(target: str = "/") -> None:
    """`mount --make-rprivate /`: no mount event under target propagates to or from any peer group."""
    mount(None, target, None, MS_REC | MS_PRIVATE)


def bind(source: str, target: str, *, recursive: bool = False) -> None:
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))


def remount_bind(target: str, flags: int) -> int:
    """`mount -o remount,bind,FLAGS TARGET`: change the per-mount flags of one mount (not its submounts), keeping
    the ones a user namespace locks. Returns the flags passed to mount(2)."""
    flags |= MS_BIND | MS_REMOUNT | locked_flags(target)
    mount(None, target, None, flags)
    return flags


def pivot_root(new_root: str, put_old: str) -> None:
    """man 2 pivot_root: new_root becomes / of this mount namespace, the old root moves to put_old.

    EINVAL when new_root is not a mount point, or when / or new_root's parent has shared propagation.
    """
    check(libc().syscall(syscall_number("pivot_root"), _c(new_root), _c(put_old)), "pivot_root")
