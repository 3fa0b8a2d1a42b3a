"""openat2(2) with RESOLVE_IN_ROOT: open a path of a container's root filesystem from the host, resolving it
as the container would (absolute symlinks and `..` stay inside the root), never reaching a host file.

An image decides what its /etc/passwd is: a symlink to /etc/shadow, a device node, a FIFO. The host reads
it only after looking at what it is (O_PATH, then fstat), and only when it is a regular file. Linux 5.6.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from isodemo.kernel.libc import libc

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable

SYS_OPENAT2 = 437  # the same number on every architecture (new syscalls share one table since Linux 5.1)
RESOLVE_NO_MAGICLINKS = 0x02  # no /proc/PID/fd/N-style jumps out of the root
RESOLVE_NO_SYMLINKS = 0x04  # no symlink at all, anywhere in the path (what the kubelet wants for a subPath)
RESOLVE_BENEATH = 0x08  # refuse (EXDEV) any path that would leave the directory given
RESOLVE_IN_ROOT = 0x10  # "/" and ".." stop at the directory given


class _OpenHow(ctypes.Structure):
    """struct open_how from <linux/openat2.h>."""

    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


# Loaded once, on first use (functools.cache would do it, but functools brings collections: ~1 ms of every start).
_loaded: dict[str, Callable[..., int]] = {}


def _syscall() -> Callable[..., int]:
    if "syscall" in _loaded:
        return _loaded["syscall"]
    prototype = ctypes.CFUNCTYPE(
        ctypes.c_long, ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, use_errno=True
    )
    function: Callable[..., int] = prototype(("syscall", libc()))
    _loaded["syscall"] = function
    return function


def open_in_root(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """openat2(root_fd, path, {flags, mode, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS}): a descriptor, or OSError."""
    return _openat2(root_fd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)


def open_beneath(dir_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """openat2(dir_fd, path, {flags, mode, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS}): a descriptor of a path under
    dir_fd reached without following any symlink (ELOOP) and without leaving dir_fd (EXDEV), or OSError. The
    kubelet opens a subPath so (pkg/volume/util/subpath/subpath_linux.go doSafeOpen: openat with O_NOFOLLOW
    component by component)."""
    return _openat2(dir_fd, path, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)


def _openat2(dir_fd: int, path: str, flags: int, mode: int, resolve: int) -> int:
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _syscall()(SYS_OPENAT2, dir_fd, path.encode(), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    return int(fd)


def read_regular(root: str, path: str, limit: int = 1 << 20) -> str | None:
    """The text of root/path as the container resolves it, when it is a regular file; else None."""
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        found = open_in_root(root_fd, path, os.O_PATH)
    except OSError:
        return None
    finally:
        os.close(root_fd)
    try:
        if not stat.S_ISREG(os.fstat(found).st_mode):
            return None
        # Reopened through the O_PATH descriptor: the same inode that fstat saw, not a path looked up again.
        fd = os.open(f"/proc/self/fd/{found}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    finally:
        os.close(found)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit).decode(errors="replace")


def present(root: str, path: str) -> bool:
    """Whether root/path names anything (a file, a link, a device: an overlayfs whiteout too), resolved inside
    the root without following its last component."""
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.close(open_in_root(root_fd, path, os.O_PATH | os.O_NOFOLLOW))
    except OSError:
        return False
    finally:
        os.close(root_fd)
    return True


def create_file(root: str, path: str, mode: int = 0o644) -> bool:
    """Create the empty regular file root/path (a mount point), resolved inside the root; False when it
    exists already or cannot be made there."""
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.close(open_in_root(root_fd, path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode))
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES, errno.EXDEV):
            raise
        return False
    finally:
        os.close(root_fd)
    return True
