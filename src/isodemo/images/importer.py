"""Importing an image tarball into the store: read it (archive.py), unpack the layers the store lacks
(layers.py) in a staging directory, then put everything in place at once (Store.commit).

Any failure (a bad digest, a truncated tarball, an unsafe member) raises ImageError and leaves nothing: the
staging directory is removed as the exception passes, and nothing reached the store before the commit.
The tarball is opened only once it is known to be the regular file that was stat'd (a FIFO would hang the
import, a device node would be opened).
"""

from __future__ import annotations

import os
import stat
import tarfile
import zlib

from isodemo.errors import ImageError
from isodemo.i18n import _
from isodemo.images.archive import Archive, LayerBlob
from isodemo.images.blobs import stage_layer
from isodemo.images.config import Image
from isodemo.images.records import stat_key
from isodemo.images.staging import Staging
from isodemo.images.store import Store


def import_tarball(store: Store, path: str, info: os.stat_result) -> Image:
    """Import the docker-save or OCI image-layout tarball at `path` (absolute; `info` is its stat)."""
    try:
        with os.fdopen(_open_regular(path, info), "rb") as file, tarfile.open(fileobj=file, mode="r:*") as tar:
            archive = Archive(tar, path).parse()
            record: dict[str, object] = {
                "name": archive.name or archive.id[:12],
                "id": "sha256:" + archive.id,
                "layers": [layer.diff_id for layer in archive.layers],
                "config": archive.config.as_dict(),
                "created_by": f"{archive.kind} {path}",
                "source": stat_key(info),
            }
            with Staging(store.root) as staging:
                new: dict[str, str] = {}
                for number, layer in enumerate(archive.layers, start=1):
                    if layer.diff_id in new or store.has_layer(layer.diff_id):
                        continue  # unpacked once: by an earlier image, or earlier in this one
                    new[layer.diff_id] = _stage_from(archive, layer, number, staging.path)
                return store.commit(record, new, source=path)
    except FileNotFoundError:
        raise ImageError(_("{path}: no such image tarball", path=path)) from None
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise ImageError(
            _("{path}: not a tar archive, or cut short or corrupt: {reason}", path=path, reason=error)
        ) from None
    except OSError as error:
        raise ImageError(_("{path}: cannot read the image tarball: {reason}", path=path, reason=error)) from None


def _open_regular(path: str, info: os.stat_result) -> int:
    """A descriptor to read `path`, opened only after an O_PATH look (which opens nothing) found it to be the
    regular file `info` describes; then reopened through /proc/self/fd: that very inode."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise ImageError(_("{path} is not a regular file: an image tarball is one", path=path))
        if (found.st_dev, found.st_ino) != (info.st_dev, info.st_ino):
            raise ImageError(_("{path} was replaced while it was read: try again", path=path))
        return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(fd)


def _stage_from(archive: Archive, layer: LayerBlob, number: int, staging: str) -> str:
    member = archive.members.get(layer.member)
    raw = archive.tar.extractfile(member) if member is not None else None
    if raw is None:
        raise ImageError(_("{where}: {name} is missing from the tarball", where=archive.where, name=layer.member))
    where = _("{path}: layer {number} ({member})", path=archive.where, number=number, member=layer.member)
    return stage_layer(raw, staging, layer.diff_id, where, layer.blob_digest)
