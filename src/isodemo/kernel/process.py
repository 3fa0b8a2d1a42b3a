"""Per-process kernel controls: prctl(2) parent-death signal and thread name, sethostname(2)."""

from __future__ import annotations

import _socket  # socket.py would add selectors and four enums for this one call
import ctypes
import os

from isodemo.kernel.libc import check, libc

TYPE_CHECKING = False  # mypy treats this name as always true
if TYPE_CHECKING:
    import signal
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)

# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
COMM_LEN = 15  # TASK_COMM_LEN - 1


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent thread dies (man 2 PR_SET_PDEATHSIG)."""
    check(libc().prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def drop_to(uid: int, gid: int) -> None:
    """Become an ordinary user for good: no supplementary groups, then the gid, then the uid (that order:
    after setuid() there is no privilege left to change groups)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def set_comm(name: str) -> None:
    """Set /proc/self/comm (what ps -o comm and top show); the kernel keeps 15 bytes."""
    buffer = ctypes.create_string_buffer(name.encode()[:COMM_LEN])
    check(libc().prctl(PR_SET_NAME, ctypes.addressof(buffer), 0, 0, 0), "prctl(PR_SET_NAME)")


def comm(pid: int | str) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


def sethostname(name: str) -> None:
    """man 2 sethostname: changes the hostname of the caller's UTS namespace."""
    _socket.sethostname(name)


def gethostname() -> str:
    return os.uname().nodename
