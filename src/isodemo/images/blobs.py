"""A layer blob as a tarball holds it: plain or gzip, read once as a stream, every digest checked on the way.

The blob's sha256 is checked against the name or descriptor the format gives it, the uncompressed tar's
against the image config's rootfs.diff_ids entry (its diff_id, which keys the layer in the store). The tar
itself is unpacked by layers.Unpacker as it streams past; only zeros may follow its end-of-archive blocks
(tarfile stops quietly at a bad header in the middle of an archive: that is a cut or damaged layer).
"""

from __future__ import annotations

import errno
import os
from typing import Protocol

from isodemo.errors import ImageError
from isodemo.i18n import _
from isodemo.images.layers import CHUNK, unpack_tar


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class DigestReader:
    """A read-only stream that hashes (sha256) every byte read through it, and remembers where its last
    non-zero byte was: after a tar's end-of-archive blocks only zeros may follow."""

    def __init__(self, raw: Readable) -> None:
        import hashlib

        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.position = 0
        self.last_nonzero = 0
        self._pushback = b""

    def _fill(self, size: int) -> bytes:
        data = self.raw.read(size)
        if data:
            self.sha256.update(data)
            kept = len(data.rstrip(b"\0"))
            if kept:
                self.last_nonzero = self.position + kept
            self.position += len(data)
        return data

    def peek(self, size: int) -> bytes:
        data = self._fill(size)
        self._pushback = data
        return data

    def read(self, size: int = -1) -> bytes:
        if self._pushback:
            data = self._pushback if size < 0 else self._pushback[:size]
            self._pushback = self._pushback[len(data) :]
            return data
        return self._fill(size)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        raise OSError(errno.ESPIPE, "a layer is read as a stream")

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def hexdigest(self) -> str:
        return self.sha256.hexdigest()


def unpack_layer(raw: Readable, dest: str, where: str, diff_id: str, blob_digest: str | None = None) -> int:
    """Unpack the layer blob `raw` (a tar, plain or gzip) into the empty directory `dest`; check the sha256 of
    the uncompressed tar against `diff_id` and, where the format names it, of the blob against `blob_digest`
    (both hex). Returns the bytes of its regular files. ImageError on any bad input."""
    import zlib

    blob = DigestReader(raw)
    try:
        magic = blob.peek(6)
        if magic[:2] == b"\x1f\x8b":
            import gzip

            tar_stream = DigestReader(gzip.GzipFile(fileobj=blob, mode="rb"))
        elif magic[:4] == b"\x28\xb5\x2f\xfd" or magic[:6] == b"\xfd7zXZ\x00" or magic[:3] == b"BZh":
            raise ImageError(
                _(
                    "{where}: the layer is compressed with zstd, xz or bzip2; isodemo reads plain and gzip layers",
                    where=where,
                )
            )
        else:
            tar_stream = blob
        size, end = unpack_tar(tar_stream, dest, where)
        tar_stream.drain()
        blob.drain()
    except (EOFError, zlib.error) as error:
        raise ImageError(_("{where}: the layer is cut short or corrupt: {reason}", where=where, reason=error)) from None
    except OSError as error:  # gzip.BadGzipFile, a read error of the tarball
        raise ImageError(_("{where}: cannot read the layer: {reason}", where=where, reason=error)) from None
    if tar_stream.last_nonzero > end:
        raise ImageError(
            _(
                "{where}: the layer is not a well-formed tar (it is cut short, or has data after a bad header)",
                where=where,
            )
        )
    if blob_digest is not None and blob.hexdigest() != blob_digest:
        raise ImageError(_digest_mismatch(where, "sha256:" + blob_digest, "sha256:" + blob.hexdigest()))
    if tar_stream.hexdigest() != diff_id:
        raise ImageError(_digest_mismatch(where, "sha256:" + diff_id, "sha256:" + tar_stream.hexdigest()))
    return size


def stage_layer(raw: Readable, staging: str, diff_id: str, where: str, blob_digest: str | None = None) -> str:
    """Unpack one layer blob into <staging>/<diff_id>/diff (unpack_layer), its size in layer.json beside it;
    returns <staging>/<diff_id>, ready for Store.commit."""
    import json

    staged = os.path.join(staging, diff_id)
    diff = os.path.join(staged, "diff")
    os.makedirs(diff, 0o755)
    size = unpack_layer(raw, diff, where, diff_id, blob_digest)
    with open(os.path.join(staged, "layer.json"), "w", encoding="utf-8") as file:
        json.dump({"diff_id": "sha256:" + diff_id, "size": size}, file)
    return staged


def _digest_mismatch(where: str, expected: str, actual: str) -> str:
    return _(
        "{where}: digest mismatch: the image says {expected}, the content is {actual}",
        where=where,
        expected=expected,
        actual=actual,
    )
