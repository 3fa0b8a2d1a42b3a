"""Time namespaces (Linux 5.6, man 7 time_namespaces): per-namespace offsets of two clocks.

CLOCK_MONOTONIC and CLOCK_BOOTTIME (and /proc/uptime, which reads the boot time) can be shifted;
CLOCK_REALTIME cannot: the wall clock is the same everywhere. unshare(CLONE_NEWTIME) does not move the
caller, it decides the namespace of its later children (/proc/self/ns/time_for_children); the offsets are
written to /proc/self/timens_offsets after the unshare and before the first child is created.
"""

from __future__ import annotations

import ctypes
import os
import time

from isodemo.kernel.libc import check, libc, syscall_number

MIN_KERNEL = (5, 6)  # the first Linux with time namespaces
CLOCKS = {"monotonic": time.CLOCK_MONOTONIC, "boottime": time.CLOCK_BOOTTIME}


def write_offsets(offsets: dict[str, int]) -> str:
    """`echo 'monotonic SECS 0' > /proc/self/timens_offsets` for each clock; returns what was written."""
    text = "".join(f"{clock} {seconds} 0\n" for clock, seconds in offsets.items())
    fd = os.open("/proc/self/timens_offsets", os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return text


def parse_offsets(text: str) -> dict[str, float]:
    """/proc/PID/timens_offsets: `monotonic 86400 0` lines (seconds, nanoseconds) -> clock -> seconds."""
    offsets = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            offsets[fields[0]] = int(fields[1]) + int(fields[2]) / 1e9
    return offsets


def read_offsets(pid: int | str = "self") -> dict[str, float]:
    with open(f"/proc/{pid}/timens_offsets") as f:
        return parse_offsets(f.read())


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def clock_gettime(clock: int) -> float:
    """The clock_gettime(2) syscall itself, in seconds. time.clock_gettime() asks the vDSO instead, which
    answers in user space (it applies the namespace's offsets too) and never shows in strace."""
    try:
        number = syscall_number("clock_gettime")
    except OSError:  # an architecture isodemo has no number for: the vDSO's answer is the same
        return time.clock_gettime(clock)
    call = libc()["syscall"]  # a fresh function object: its prototype is not pivot_root's
    call.restype = ctypes.c_long
    call.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.POINTER(_Timespec)]
    now = _Timespec()
    check(call(number, clock, ctypes.byref(now)), "clock_gettime")
    return float(now.tv_sec + now.tv_nsec / 1e9)


def clocks() -> dict[str, float]:
    """clock_gettime(2) of each clock a time namespace shifts, plus CLOCK_REALTIME, which it does not."""
    now = {name: clock_gettime(clock) for name, clock in CLOCKS.items()}
    now["realtime"] = clock_gettime(time.CLOCK_REALTIME)
    return now


def uptime() -> float:
    """The first field of /proc/uptime: seconds since boot, as this time namespace tells it."""
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])
