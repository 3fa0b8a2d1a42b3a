"""The `busybox` image, built here from Debian's busybox-static: one layer, no network, the same bytes each time.

The layer tar holds bin/busybox, a relative symlink bin/<applet> -> busybox for every applet it lists
(`busybox --list`), etc/passwd (root, nobody), etc/group, and the empty directories a root filesystem needs
(proc, sys, dev, tmp with mode 1777, root, etc). Its entries are sorted, their mtime is 0, their owner 0:0,
so the same busybox binary always gives the same tar, and the image's id is that tar's sha256. Built once;
afterwards `resolve("busybox")` reads two small files and stats the binary (rebuilt when the package is
upgraded: a new inode, size or mtime).
"""

from __future__ import annotations

import os

from isodemo.errors import ImageError
from isodemo.i18n import _
from isodemo.images.config import DEFAULT_PATH, Image, ImageConfig
from isodemo.images.records import stat_key
from isodemo.images.store import Store

NAME = "busybox"
BUSYBOX = "/bin/busybox"  # Debian's busybox-static puts it here
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "proc": 0o555, "root": 0o700, "sys": 0o555, "tmp": 0o1777}
TYPE_CHECKING = False  # `typing` is not needed to find the image already built
if TYPE_CHECKING:
    from typing import IO

CONFIG = ImageConfig(cmd=("sh",), env=(DEFAULT_PATH,))


def ensure(store: Store) -> Image:
    """The busybox image of `store`, built the first time (and again after busybox itself changed)."""
    image_id = store.read_ref(NAME)
    record = store.record(image_id) if image_id is not None else None
    if record is not None:
        try:
            info = os.stat(str(record.get("source_path")))
        except OSError:
            info = None
        if info is not None and record.get("source") == stat_key(info):
            image = store.image(record)
            if image is not None:
                return image
    return build(store, find_busybox())


def find_busybox() -> str:
    """The real path of a statically linked busybox: /bin/busybox, else the one on PATH."""
    from isodemo import host

    path = BUSYBOX if os.path.exists(BUSYBOX) else host.which("busybox")
    if path is None:
        raise ImageError(
            _("busybox is not installed: the busybox image is built from it"), f"{host.APT_INSTALL} busybox-static"
        )
    real = os.path.realpath(path)
    if not host.is_static_elf(real):
        raise ImageError(
            _("{path} is dynamically linked: a container has no libraries for it to load", path=path),
            f"{host.APT_INSTALL} busybox-static",
        )
    return real


def applets(busybox: str) -> list[str]:
    """The applets this busybox has (`busybox --list`), but itself."""
    import subprocess

    try:
        listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ImageError(_("{path} --list failed: {reason}", path=busybox, reason=error)) from None
    return sorted({name for name in listed.split() if name != NAME and "/" not in name and name not in (".", "..")})


def write_layer(out: IO[bytes], busybox: str, names: list[str]) -> None:
    """The layer tar, deterministic: sorted entries, mtime 0, uid/gid 0, no user or group names."""
    import io
    import tarfile

    with open(busybox, "rb") as file:
        binary = file.read()
    entries: dict[str, tuple[bytes, int, bytes | str | None]] = {}  # name -> (type, mode, data or link)
    for directory, mode in DIRS.items():
        entries[directory] = (tarfile.DIRTYPE, mode, None)
    entries["bin/busybox"] = (tarfile.REGTYPE, 0o755, binary)
    for applet in names:
        entries[f"bin/{applet}"] = (tarfile.SYMTYPE, 0o777, "busybox")
    entries["etc/passwd"] = (tarfile.REGTYPE, 0o644, PASSWD)
    entries["etc/group"] = (tarfile.REGTYPE, 0o644, GROUP)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries):
            kind, mode, content = entries[name]
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kind, mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if isinstance(content, str):
                info.linkname = content
            data = io.BytesIO(content) if isinstance(content, bytes) else None
            info.size = len(content) if isinstance(content, bytes) else 0
            tar.addfile(info, data)


def build(store: Store, busybox: str) -> Image:
    """Write the layer tar in staging, unpack it there (the same safe path as any image), commit."""
    import hashlib

    from isodemo.images.blobs import stage_layer
    from isodemo.images.staging import Staging

    info = os.stat(busybox)
    with Staging(store.root) as staging, open(os.path.join(staging.path, "layer.tar"), "w+b") as out:
        write_layer(out, busybox, applets(busybox))
        out.seek(0)
        digest = hashlib.sha256()
        while chunk := out.read(1 << 20):
            digest.update(chunk)
        layer = digest.hexdigest()
        new = {}
        if not store.has_layer(layer):
            out.seek(0)
            new[layer] = stage_layer(out, staging.path, layer, _("the busybox image ({path})", path=busybox))
        record: dict[str, object] = {
            "name": NAME,
            "id": "sha256:" + layer,  # the layer's digest: the config is derived from it, nothing else
            "layers": [layer],
            "config": CONFIG.as_dict(),
            "created_by": f"busybox-static {busybox}",
            "source": stat_key(info),
            "source_path": busybox,
        }
        return store.commit(record, new)
