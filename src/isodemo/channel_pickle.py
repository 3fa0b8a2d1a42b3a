"""The channel's way for what is not plain data (channel.py): a pickle, whose Descriptors travel beside it.

Imported only when a message holds such an object (a set, a dataclass, an enum): `_pickle`, the C pickler
(pickle.py would also import re and _compat_pickle), brings functools and collections, ~1.5 ms that no
message of `isodemo run` needs. Pickles made with it are pickle's own (pickle.Pickler is _pickle.Pickler).
"""

from __future__ import annotations

import _pickle as pickle
import io

from isodemo.kernel import fdpass

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Any

    from isodemo.channel import Decoder

PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL of every Python isodemo runs on (3.8+)


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

    def __init__(self, file: io.BytesIO, decoder: Decoder) -> None:
        super().__init__(file)
        self.decoder = decoder

    def persistent_load(self, pid: Any) -> fdpass.Descriptor:
        return self.decoder.descriptor(pid)


def dumps(value: Any, fds: list[int]) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, fds).dump(value)
    return buffer.getvalue()


def loads(payload: bytes, decoder: Decoder) -> Any:
    return _Unpickler(io.BytesIO(payload), decoder).load()
