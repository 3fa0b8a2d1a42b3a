"""The C library, loaded once through ctypes, and the one way isodemo turns a failed call into an error."""

from __future__ import annotations

import ctypes
import errno
import os

from isodemo.i18n import _

# C prototypes of what isodemo calls. Without them ctypes passes Python ints as C `int`: wrong for the
# unsigned long arguments of prctl(2) and mount(2), and undefined for variadic syscall(2).
_c_str = ctypes.c_char_p
_PROTOTYPES: dict[str, tuple[type, list[type]]] = {
    "unshare": (ctypes.c_int, [ctypes.c_int]),
    "setns": (ctypes.c_int, [ctypes.c_int, ctypes.c_int]),
    "mount": (ctypes.c_int, [_c_str, _c_str, _c_str, ctypes.c_ulong, _c_str]),
    "umount2": (ctypes.c_int, [_c_str, ctypes.c_int]),
    "prctl": (ctypes.c_int, [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]),
    "syscall": (ctypes.c_long, [ctypes.c_long, _c_str, _c_str]),  # only pivot_root(new_root, put_old)
    "msgget": (ctypes.c_int, [ctypes.c_int, ctypes.c_int]),
    "msgctl": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]),
}


# Loaded once, on first use (functools.cache would do it, but functools brings collections: ~1 ms of every start).
_loaded: dict[str, ctypes.CDLL] = {}


def libc() -> ctypes.CDLL:
    if "libc" in _loaded:
        return _loaded["libc"]
    library = ctypes.CDLL(None, use_errno=True)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        function = getattr(library, name)
        function.restype = restype
        function.argtypes = argtypes
    _loaded["libc"] = library
    return library


def check(result: int, call: str) -> int:
    """Raise OSError with the call's errno when a libc function returned -1 (the C convention)."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}")
    return result


# Syscall numbers for calls that glibc has no wrapper for (asm/unistd_64.h, asm-generic/unistd.h).
# clock_gettime has a wrapper, but it answers from the vDSO without entering the kernel; the timens demo
# makes the real syscall, so that strace shows what the demo names.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "clock_gettime": 228},
    "aarch64": {"pivot_root": 41, "clock_gettime": 113},
    "riscv64": {"pivot_root": 41, "clock_gettime": 113},
}


def syscall_number(name: str) -> int:
    machine = os.uname().machine  # platform.machine(), without importing platform (~1 ms)
    try:
        return _SYSCALLS[machine][name]
    except KeyError:
        raise OSError(
            errno.ENOSYS, _("isodemo does not know the number of {name}(2) on {machine}", name=name, machine=machine)
        ) from None
