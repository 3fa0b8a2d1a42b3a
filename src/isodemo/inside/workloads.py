"""Workloads that run inside a cgroup: allocate memory, burn CPU, fork, move bytes with O_DIRECT.

Like every module of `isodemo.inside`: plain module-level functions that a demo runs inside the Isolated
child with `box.call(fn, ...)`. They import only `isodemo.kernel` and `isodemo.errors`. Each is bounded: a
fork loop stops at a fixed count, a CPU burner ends when it is killed, memory grows one requested step at a
time.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import select
import signal
import time

from isodemo.i18n import _
from isodemo.kernel import process

_held: list[bytes] = []  # memory allocated by `allocate`, kept alive until the process ends


def allocate(step: int) -> int:
    """Allocate `step` more bytes and touch every page (so the kernel must really provide them).

    Returns the total allocated so far.
    """
    _held.append(b"\x01" * step)  # bytes(...) of a non-zero value writes every page
    return sum(len(chunk) for chunk in _held)


def start_burner(cpu: int | None = None) -> int:
    """Fork a child that spins on the CPU until killed (optionally pinned to one CPU); returns its pid."""
    child = os.fork()
    if child == 0:
        try:
            process.set_pdeathsig(signal.SIGKILL)  # never outlive the child that started it
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            while True:
                pass
        finally:
            os._exit(0)
    return child


def stop(pid: int) -> int:
    """SIGKILL a child of this process and reap it; returns its exit code (137)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def fork_until_refused(attempts: int) -> dict[str, object]:
    """fork() up to `attempts` times, each child blocked on a pipe, until the kernel refuses.

    Never a fork bomb: the loop is bounded and the children do nothing but wait. Then they are released
    (the pipe is closed, they see EOF and exit) and reaped. Returns how many forks succeeded and the error.
    """
    read_end, write_end = os.pipe()
    children: list[int] = []
    refused: str | None = None
    for _attempt in range(attempts):
        try:
            child = os.fork()
        except OSError as error:
            refused = errno.errorcode.get(error.errno or 0, str(error.errno))
            break
        if child == 0:
            try:
                os.close(write_end)
                select.select([read_end], [], [])
            finally:
                os._exit(0)
        children.append(child)
    os.close(write_end)
    for child in children:
        os.waitpid(child, 0)
    os.close(read_end)
    return {"forks_succeeded": len(children), "fork_error": refused}


def direct_transfer(device: str, total: int, block: int, *, write: bool) -> float:
    """Move `total` bytes to or from `device` with O_DIRECT (no page cache), `block` bytes per call.

    `total` must be a whole number of blocks. Returns the seconds it took. O_DIRECT needs an aligned buffer:
    an anonymous mmap is page-aligned.
    """
    flags = (os.O_WRONLY if write else os.O_RDONLY) | os.O_DIRECT
    fd = os.open(device, flags)
    buffer = mmap.mmap(-1, block)
    buffer.write(b"\xa5" * block)
    try:
        start = time.monotonic()
        done = 0
        while done < total:
            moved = os.pwritev(fd, [buffer], done) if write else os.preadv(fd, [buffer], done)
            if moved <= 0:
                raise OSError(_("{device} ended after {done} bytes", device=device, done=done))
            done += moved
        if write:
            os.fsync(fd)
        return time.monotonic() - start
    finally:
        os.close(fd)
        buffer.close()
