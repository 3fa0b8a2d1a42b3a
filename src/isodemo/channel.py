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

A message may hold open file descriptors, each as a kernel.fdpass.Descriptor: it travels as the descriptor
itself (SCM_RIGHTS), not as its number, and changes hands: the sender's copy is closed once sent, the
receiver's Descriptor holds a descriptor of its own. This is how the child hands the master of the
container's terminal, opened in the container's own devpts, to the parent (`isodemo run -t`).
"""

from __future__ import annotations

# The C pickler itself: pickle.py would import _compat_pickle and more (~0.6 ms of `isodemo run`'s start).
# Pickles made with it are pickle's own (pickle.Pickler is _pickle.Pickler on CPython).
import _pickle as pickle
import io
import struct

from isodemo.kernel import fdpass

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import _socket as socket  # socket.socket is a _socket.socket: both are accepted
    from typing import Any

_HEADER = struct.Struct("!I")
PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL of every Python isodemo runs on (3.8+)

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


class _Pickler(pickle.Pickler):
    """Pickles each Descriptor as a reference (its index in `fds`) to a descriptor sent beside the bytes."""

    def __init__(self, file: io.BytesIO, fds: list[int]) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self.fds = fds

    def persistent_id(self, obj: Any) -> int | None:
        if type(obj) is not fdpass.Descriptor:
            return None
        if obj.fd not in self.fds:
            self.fds.append(obj.fd)
        return self.fds.index(obj.fd)


class _Unpickler(pickle.Unpickler):
    """Turns each reference back into a Descriptor of a descriptor received with the message."""

    def __init__(self, file: io.BytesIO, fds: list[int]) -> None:
        super().__init__(file)
        self.fds = fds
        self.used: set[int] = set()

    def persistent_load(self, pid: Any) -> fdpass.Descriptor:
        if not isinstance(pid, int) or not 0 <= pid < len(self.fds):
            raise pickle.UnpicklingError(f"no descriptor {pid!r} came with this message")
        self.used.add(pid)
        return fdpass.Descriptor(self.fds[pid])


def send(sock: socket.socket, message: Any) -> None:
    fds: list[int] = []
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, fds).dump(message)
        payload = buffer.getvalue()
        data = _HEADER.pack(len(payload)) + payload
        if not fds:
            sock.sendall(data)
            return
        sent = fdpass.sendmsg(sock, data, fds)  # the descriptors go with the first byte
        if sent < len(data):
            sock.sendall(data[sent:])
    finally:
        fdpass.close_all(fds)  # handed over: the receiver has its own


def _recv_exact(sock: socket.socket, size: int, fds: list[int]) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = fdpass.recvmsg(sock, size - len(chunks), fds)
        if not chunk:
            raise ChannelClosed
        chunks += chunk
    return bytes(chunks)


def recv(sock: socket.socket) -> Any:
    fds: list[int] = []
    try:
        (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, fds))
        payload = _recv_exact(sock, size, fds)
        if not fds:
            return pickle.loads(payload)
        unpickler = _Unpickler(io.BytesIO(payload), fds)
        message = unpickler.load()
    except BaseException:
        fdpass.close_all(fds)
        raise
    fdpass.close_all([fd for index, fd in enumerate(fds) if index not in unpickler.used])
    return message


def portable_exception(error: BaseException) -> BaseException:
    """The exception itself when it survives pickling, otherwise a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
