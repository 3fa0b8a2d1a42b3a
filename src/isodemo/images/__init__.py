"""The image store of `isodemo run`: the busybox image, docker-save and OCI tarballs, --rootfs directories.

store.py     Store: resolve a name, a tarball or "busybox" to an Image; list, remove
config.py    Image, ImageConfig (Cmd, Entrypoint, Env, WorkingDir, User of the image config)
busybox.py   the busybox image, built locally from busybox-static as one deterministic layer
archive.py   reading a docker-save or OCI image-layout tarball, its digests checked
importer.py  importing one into the store
blobs.py     a layer blob read as a stream (plain or gzip), its digests checked
layers.py    unpacking a layer safely; whiteouts as overlayfs reads them
staging.py   the temporary directories everything is made in, and what a killed import left (cleanup)
"""

from __future__ import annotations

from isodemo.images.config import Image, ImageConfig
from isodemo.images.records import default_root
from isodemo.images.staging import remove_temp, stale_temp
from isodemo.images.store import Store

__all__ = ["Image", "ImageConfig", "Store", "default_root", "remove_temp", "stale_temp"]
