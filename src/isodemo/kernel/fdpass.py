"""Handing an open file descriptor to another process over a unix socket: SCM_RIGHTS (man 7 unix).

sendmsg(2) with an SCM_RIGHTS control message makes the kernel install, in the process that receives it, a
new descriptor for each open file sent, as dup(2) would across two processes: the same open file, its own
number. runc hands the master of a container's terminal to the runtime this way (its console socket);
isodemo's child hands its /dev/pts/ptmx back to the parent: a probe returns a Descriptor, and channel.py
sends it as the descriptor itself.
"""

from __future__ import annotations

# _socket, the C module itself: socket.py would add selectors and four enums (~1.5 ms of `isodemo run`'s start)
import _socket as socket
import errno
import os
import struct

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

MAX_FDS = 8  # descriptors one message may carry: the receiver's control buffer has room for this many
_INT = struct.calcsize("i")
_CONTROL_SIZE = socket.CMSG_SPACE(MAX_FDS * _INT)


class Descriptor:
    """An open file descriptor that a channel message carries as itself, not as its number.

    The sender hands it over: its own copy is closed once the message is sent. The receiver finds a
    Descriptor holding a descriptor of its own (close-on-exec) for the same open file, and owns it."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __repr__(self) -> str:
        return f"Descriptor({self.fd})"

    def __reduce__(self) -> NoReturn:
        # Pickled anywhere but in a channel message, it would arrive as a number that means nothing there.
        raise TypeError("a Descriptor travels only in a channel message (SCM_RIGHTS)")


def sendmsg(sock: socket.socket, data: bytes, fds: Sequence[int]) -> int:
    """sendmsg(2) of `data` with `fds` in one SCM_RIGHTS message; the bytes sent (all of them on a blocking
    unix socket, unless a signal interrupts it)."""
    if len(fds) > MAX_FDS:
        raise ValueError(f"at most {MAX_FDS} descriptors in one message, not {len(fds)}")
    rights = struct.pack(f"{len(fds)}i", *fds)
    return sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])


def recvmsg(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    """recvmsg(2) of at most `size` bytes; descriptors that came with them are appended to `fds`, close-on-exec
    (MSG_CMSG_CLOEXEC). Raises EMSGSIZE when the kernel had to drop some (more than MAX_FDS)."""
    data, control, flags, _address = sock.recvmsg(size, _CONTROL_SIZE, socket.MSG_CMSG_CLOEXEC)
    for level, kind, payload in control:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            count = len(payload) // _INT
            fds.extend(struct.unpack(f"{count}i", payload[: count * _INT]))
    if flags & socket.MSG_CTRUNC:
        raise OSError(errno.EMSGSIZE, "recvmsg: descriptors dropped (MSG_CTRUNC)")
    return data


def close_all(fds: Sequence[int]) -> None:
    """Close each descriptor of `fds`, even when one of them fails."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            continue
