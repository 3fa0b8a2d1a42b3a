"""Length-prefixed messages over a socket: how the parent and the Isolated child talk.

Both ends are the same program (the child is a fork of the parent), so a function travels by reference (its
module and name, looked up again on the other side) and an exception by value; nothing else ever connects to
this socketpair. When the child drops from root to another user, it stays non-dumpable, so no process of
that user can ptrace it and speak on its end of the socket to the root parent.

The conversation, each message a tuple whose first item is one of the names below:

    helper -> parent   (PAUSED, (stage, info))      waiting at `stage`; the parent answers (GO,)
    helper -> parent   (STARTED, child_pid)         the child runs: from now on the child answers
    helper -> parent   (ERROR, exception)           the helper could not start the child, and exits
    parent -> child    (CALL, probe, args, kwargs)  the child answers (OK, result) or (ERROR, exception)

The parent ends the child by closing its end (or by SIGKILL); a message the child does not expect ends it too.

The wire format: plain data (None, bools, ints, floats, strings, bytes, and tuples, lists and dicts of them)
as `marshal` writes it, the format of .pyc files, built into the interpreter; the rest as tagged tuples
(`encode` says which). An object that is none of these (a set, a dataclass, an enum) is pickled, and only
then is the pickler imported (channel_pickle.py): `_pickle` brings functools and collections, ~1.5 ms of
every container's start, and no message of `isodemo run` needs it.

A message may hold open file descriptors, each as a kernel.fdpass.Descriptor: it travels as the descriptor
itself (SCM_RIGHTS), not as its number, and changes hands: the sender's copy is closed once sent, the
receiver's Descriptor holds a descriptor of its own. This is how the child hands the master of the
container's terminal, opened in the container's own devpts, to the parent (`isodemo run -t`).
"""

from __future__ import annotations

import marshal
import struct
import sys

from isodemo.kernel import fdpass

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import _socket as socket  # socket.socket is a _socket.socket: both are accepted
    from typing import Any

_HEADER = struct.Struct("!I")
# The types that travel as marshal writes them, compared exactly: a subclass (a bool is an int, an IntEnum
# is too) would come back as its base class, so it is pickled instead.
_PLAIN = frozenset({type(None), bool, int, float, str, bytes})
# The tags of what is not plain data: each travels as a tuple (tag, ...), which plain data never is.
_TUPLE, _LIST, _DICT, _REF, _REDUCE, _FD, _PICKLED = "t", "l", "d", "r", "x", "D", "p"

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


def _a_function() -> None:
    """Only its type matters: a function defined in Python (builtins such as len have type(len))."""


_FUNCTIONS = (type(_a_function), type(len))


def send(sock: socket.socket, message: Any) -> None:
    fds: list[int] = []
    try:
        payload = marshal.dumps(encode(message, fds))
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
        decoder = Decoder(fds)
        message = decoder.decode(marshal.loads(_recv_exact(sock, size, fds)))
    except BaseException:
        fdpass.close_all(fds)
        raise
    fdpass.close_all([fd for index, fd in enumerate(fds) if index not in decoder.used])
    return message


def encode(value: Any, fds: list[int]) -> Any:
    """`value` as what marshal can write: plain data as it is, a tuple, list or dict as a tagged tuple of its
    items, a function or class as (REF, module, name), an exception as what pickle would make of it
    (REDUCE: its class or rebuilding function, the arguments, its attributes), a Descriptor as the index of
    its descriptor in `fds` (sent beside the bytes); anything else pickled (PICKLED)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is tuple:
        return (_TUPLE, tuple(encode(item, fds) for item in value))
    if kind is list:
        return (_LIST, tuple(encode(item, fds) for item in value))
    if kind is dict:
        return (_DICT, tuple(encode(item, fds) for pair in value.items() for item in pair))
    if kind is fdpass.Descriptor:
        if value.fd not in fds:
            fds.append(value.fd)
        return (_FD, fds.index(value.fd))
    if (kind in _FUNCTIONS or isinstance(value, type)) and _found_by_name(value):
        return (_REF, value.__module__, value.__qualname__)
    if isinstance(value, BaseException):
        reduced = value.__reduce__()  # (class or rebuilding function, arguments[, attributes])
        if isinstance(reduced, tuple) and len(reduced) <= 3:
            return (_REDUCE, *(encode(part, fds) for part in reduced))
    from isodemo import channel_pickle  # imported only now: see the module's docstring

    return (_PICKLED, channel_pickle.dumps(value, fds))


class Decoder:
    """Turns what `encode` made back into objects; `used` holds the indices of the descriptors it handed out
    as Descriptors (the caller closes the others)."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds
        self.used: set[int] = set()

    def decode(self, node: Any) -> Any:
        if type(node) is not tuple:
            return node
        tag = node[0]
        if tag == _TUPLE:
            return tuple(self.decode(item) for item in node[1])
        if tag == _LIST:
            return [self.decode(item) for item in node[1]]
        if tag == _DICT:
            items = node[1]
            return {self.decode(items[i]): self.decode(items[i + 1]) for i in range(0, len(items), 2)}
        if tag == _REF:
            return _lookup(node[1], node[2])
        if tag == _REDUCE:
            rebuild, arguments, *attributes = (self.decode(part) for part in node[1:])
            value = rebuild(*arguments)
            if attributes and attributes[0]:
                value.__setstate__(attributes[0])  # BaseException's: the attributes go into its __dict__
            return value
        if tag == _FD:
            return self.descriptor(node[1])
        if tag == _PICKLED:
            from isodemo import channel_pickle

            return channel_pickle.loads(node[1], self)
        raise ValueError(f"a channel message with an unknown tag {tag!r}")

    def descriptor(self, index: Any) -> fdpass.Descriptor:
        if not isinstance(index, int) or not 0 <= index < len(self.fds):
            raise ValueError(f"no descriptor {index!r} came with this message")
        self.used.add(index)
        return fdpass.Descriptor(self.fds[index])


def _lookup(module: str, qualname: str) -> Any:
    """The object a module's attribute path names, as pickle finds a function (None if there is none).
    The module is already imported in every process of a run (sys.modules): the child may have no files."""
    value: Any = sys.modules.get(module) or __import__(module, fromlist=["_"])
    for name in qualname.split("."):
        value = getattr(value, name, None)
    return value


def _found_by_name(value: Any) -> bool:
    """Whether the other side finds this function or class by its module and name (not one defined inside a
    function, or a lambda): pickle's test too."""
    try:
        return _lookup(value.__module__, value.__qualname__) is value
    except Exception:
        return False


def portable_exception(error: BaseException) -> BaseException:
    """The exception itself when it survives the channel's encoding, otherwise a RuntimeError that says what
    it was (a class defined inside a function, arguments that cannot travel)."""
    try:
        fds: list[int] = []
        Decoder(fds).decode(marshal.loads(marshal.dumps(encode(error, fds))))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
