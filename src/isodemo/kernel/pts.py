"""Pseudo-terminals of one devpts filesystem (man 7 pty, man 4 pts): what posix_openpt(3), unlockpt(3) and
ptsname(3) do, as the calls under them.

Opening a devpts's `ptmx` makes a new pair: the descriptor returned is the master, and slave number N
appears as `pts/N` in that same devpts, locked until unlockpt. A devpts mounted with `newinstance` (the
one in a container's /dev/pts) numbers its own ptys from 0 and shows none of the host's.
"""

from __future__ import annotations

import fcntl
import os
import struct

# <asm-generic/ioctls.h> (x86, arm, arm64, riscv, s390): _IOR('T', 0x30, unsigned int), _IOW('T', 0x31, int).
# Python's termios module does not have them.
TIOCGPTN = 0x80045430  # the pty number of a master: its slave is pts/N
TIOCSPTLCK = 0x40045431  # lock (1) or unlock (0) the slave
MASTER_FLAGS = os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC


def open_master(ptmx: str) -> int:
    """A new pty pair of the devpts whose ptmx is `ptmx`; returns the master (close-on-exec, never the
    caller's controlling terminal)."""
    return os.open(ptmx, MASTER_FLAGS)


def unlockpt(master: int) -> None:
    """Let the slave be opened (unlockpt(3): ioctl TIOCSPTLCK 0)."""
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))


def number(master: int) -> int:
    """N of the slave pts/N, in the master's devpts (what ptsname(3) asks: ioctl TIOCGPTN)."""
    (value,) = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, bytes(4)))
    return int(value)
