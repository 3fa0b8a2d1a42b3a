"""mount(2), umount2(2) and pivot_root(2) through libc: the os module has none of them."""

from __future__ import annotations

from isodemo.kernel.libc import check, libc, syscall_number

# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MNT_DETACH = 2


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


def pivot_root(new_root: str, put_old: str) -> None:
    """man 2 pivot_root: new_root becomes / of this mount namespace, the old root moves to put_old.

    EINVAL when new_root is not a mount point, or when / or new_root's parent has shared propagation.
    """
    check(libc().syscall(syscall_number("pivot_root"), _c(new_root), _c(put_old)), "pivot_root")
