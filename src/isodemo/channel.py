"""Length-prefixed pickles over a socket: how the parent and the Isolated child talk.

Both ends are the same program (the child is a fork of the parent), so pickling functions by reference
and exceptions by value is safe here; nothing else ever connects to this socketpair. When the child drops
from root to another user, it stays non-dumpable, so no process of that user can ptrace it and speak on
its end of the socket to the root parent.

The conversation, each message a tuple whose first item is one of the names below:

    helper -> parent   (PAUSED, (stage, info))      waiting at `stage`; the parent answers (GO,)
    helper -> parent   (STARTED, child_pid)         the child runs: from now on the child answers
    helper -> parent   (ERROR, exception)           the helper could not start the child, and exits
    parent -> child    (CALL, probe, args, kwargs)  the child answers (OK, result) or (ERROR, exception)

The parent ends the child by closing its end (or by SIGKILL); a message the child does not expect ends it too.
"""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")

CALL = "call"
OK = "ok"
ERROR = "error"
PAUSED = "paused"
GO = "go"
STARTED = "started"

# Where the helper pauses: before it unshares anything (the parent moves it into a cgroup), and in its new
# user namespace before the maps (the parent writes them: only a process outside may).
PAUSE_BEFORE_UNSHARE = "before-unshare"
PAUSE_USERNS = "userns"


class ChannelClosed(EOFError):
    """The other end closed the socket: usually it exited."""


def send(sock: socket.socket, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ChannelClosed
        chunks += chunk
    return bytes(chunks)


def recv(sock: socket.socket) -> Any:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return pickle.loads(_recv_exact(sock, size))


def portable_exception(error: BaseException) -> BaseException:
    """The exception itself when it survives pickling, otherwise a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
