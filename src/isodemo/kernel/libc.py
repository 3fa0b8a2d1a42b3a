"""The C library, loaded once through ctypes, and the one way isodemo turns a failed call into an error."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform


@functools.cache
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, call: str) -> int:
    """Raise OSError with the call's errno when a libc function returned -1 (the C convention)."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}")
    return result


# Syscall numbers for calls that glibc has no wrapper for (asm/unistd_64.h, asm-generic/unistd.h).
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155},
    "aarch64": {"pivot_root": 41},
    "riscv64": {"pivot_root": 41},
}


def syscall_number(name: str) -> int:
    machine = platform.machine()
    try:
        return _SYSCALLS[machine][name]
    except KeyError:
        raise OSError(errno.ENOSYS, f"isodemo does not know the number of {name}(2) on {machine}") from None
