"""Image tarballs for tests, written here from layers given as dicts: what `docker save` and an OCI image layout
would hold, so every test builds exactly the image it needs (nothing is pulled from a registry).

A layer is a dict from path to content, in the order the members go into the layer tar (or a list of
(path, content) pairs, for a layer that names a path twice: a later member replaces an earlier one):
    bytes                  a regular file (mode 0644)          File(data, mode, uid, gid)   the same, its owner
    Symlink("target")      a symbolic link                     HardLink("path", mode)   a hard link to an earlier
    Dir(mode)              a directory                                                  member
    Device(major, minor, "c"|"b", mode)   a device node        Fifo(mode)   a named pipe
    WHITEOUT               `.wh.NAME`: deletes NAME below
    OPAQUE                 the directory, made opaque (`.wh..wh..opq` in it): hides what lower layers have there
Parent directories are added (mode 0755) before their first entry unless the dict names them itself. A layer
may also be given as bytes: the blob as is (a layer that is not a tar, a truncated one).

    docker_save(path, [layer, ...])   manifest.json + config + layers, Docker's legacy or its blobs/ layout
    oci_layout(path, [layer, ...])    oci-layout + index.json -> manifest -> config + layers (gzip or plain)
    busybox_two_layers(path)          busybox-static in two layers, with a whiteout and an opaque directory
    store_root(tmp_path)              where a test keeps its image store (not on an overlayfs)
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = "/bin/busybox"
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


@dataclass(frozen=True)
class File:
    data: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Device:
    """A device node: "c" (character) or "b" (block)."""

    major: int
    minor: int
    kind: str = "c"
    mode: int = 0o666


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class HardLink:
    target: str
    mode: int = 0o644


@dataclass(frozen=True)
class Fifo:
    mode: int = 0o644


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


WHITEOUT = _Marker("WHITEOUT")
OPAQUE = _Marker("OPAQUE")

Entry = bytes | File | Symlink | HardLink | Dir | Device | Fifo | _Marker
Entries = Mapping[str, Entry] | Sequence[tuple[str, Entry]]
Layer = Entries | bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def layer_tar(entries: Entries) -> bytes:
    """The tar of one layer, members in the dict's (or the list's) order (see the module's docstring)."""
    out = io.BytesIO()
    made: set[str] = set()
    pairs = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
    named = {path for path, _entry in pairs}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(info: tarfile.TarInfo, data: bytes | None = None) -> None:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
            made.add(info.name)

        for path, entry in pairs:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent and parent not in made and parent not in named and ".." not in parts and parent[0] != "/":
                    add(_info(parent, tarfile.DIRTYPE, 0o755))
            head, _, base = path.rpartition("/")
            prefix = f"{head}/" if head else ""
            if entry is WHITEOUT:
                add(_info(f"{prefix}.wh.{base}", tarfile.REGTYPE, 0o644), b"")
            elif entry is OPAQUE:
                add(_info(path, tarfile.DIRTYPE, 0o755))
                add(_info(f"{path}/.wh..wh..opq", tarfile.REGTYPE, 0o644), b"")
            elif isinstance(entry, bytes):
                add(_info(path, tarfile.REGTYPE, 0o644, len(entry)), entry)
            elif isinstance(entry, File):
                info = _info(path, tarfile.REGTYPE, entry.mode, len(entry.data))
                info.uid, info.gid = entry.uid, entry.gid
                add(info, entry.data)
            elif isinstance(entry, Device):
                info = _info(path, tarfile.CHRTYPE if entry.kind == "c" else tarfile.BLKTYPE, entry.mode)
                info.devmajor, info.devminor = entry.major, entry.minor
                add(info)
            elif isinstance(entry, Symlink):
                add(_info(path, tarfile.SYMTYPE, 0o777, link=entry.target))
            elif isinstance(entry, HardLink):
                add(_info(path, tarfile.LNKTYPE, entry.mode, link=entry.target))
            elif isinstance(entry, Fifo):
                add(_info(path, tarfile.FIFOTYPE, entry.mode))
            elif isinstance(entry, Dir):
                add(_info(path, tarfile.DIRTYPE, entry.mode))
            else:
                raise TypeError(f"{path}: unknown entry {entry!r}")
    return out.getvalue()


def _blob(layer: Layer) -> bytes:
    return layer if isinstance(layer, bytes) else layer_tar(layer)


def image_config(diff_ids: Sequence[str], settings: Mapping[str, object] | None = None) -> bytes:
    """An image config JSON: `settings` is its `config` object (Cmd, Entrypoint, Env, WorkingDir, User)."""
    document = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": dict(settings) if settings is not None else {"Cmd": ["sh"], "Env": DEFAULT_ENV},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [{"created_by": "tests/imagetar.py"} for _ in diff_ids],
    }
    return json.dumps(document, sort_keys=True).encode()


def _write_outer(path: Path, members: Sequence[tuple[str, bytes]], *, gzip_outer: bool = False) -> Path:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name, data in members:
            head = name.rpartition("/")[0]
            parts = head.split("/") if head else []
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in dirs:
                    dirs.add(directory)
                    tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755))
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    data = out.getvalue()
    path.write_bytes(gzip.compress(data, mtime=0) if gzip_outer else data)
    return path


def docker_save(
    path: Path,
    layers: Sequence[Layer],
    *,
    tag: str | None = "isodemo-test:latest",
    settings: Mapping[str, object] | None = None,
    layout: str = "legacy",
    diff_ids: Sequence[str] | None = None,
    gzip_outer: bool = False,
    skip: Sequence[str] = (),
) -> Path:
    """A `docker save` tarball. layout "legacy" (Docker < 25: <id>/layer.tar, <config hex>.json) or "blobs"
    (Docker 25 on: blobs/sha256/<hex>, with an OCI index.json beside manifest.json). `diff_ids` replaces the
    config's (a digest mismatch); `skip` leaves those member names out (a missing manifest)."""
    blobs = [_blob(layer) for layer in layers]
    ids = list(diff_ids) if diff_ids is not None else [sha256(blob) for blob in blobs]
    config = image_config(ids, settings)
    members: list[tuple[str, bytes]] = []
    if layout == "legacy":
        names = []
        for index, blob in enumerate(blobs):
            layer_id = sha256(f"{index}:{sha256(blob)}".encode())
            names.append(f"{layer_id}/layer.tar")
            members += [(f"{layer_id}/VERSION", b"1.0"), (f"{layer_id}/json", b"{}"), (names[-1], blob)]
        config_name = f"{sha256(config)}.json"
        members.append((config_name, config))
    elif layout == "blobs":
        names = [f"blobs/sha256/{sha256(blob)}" for blob in blobs]
        members += list(zip(names, blobs, strict=True))
        config_name = f"blobs/sha256/{sha256(config)}"
        members.append((config_name, config))
        manifest = _oci_manifest(config, blobs, "application/vnd.oci.image.layer.v1.tar")
        members.append((f"blobs/sha256/{sha256(manifest)}", manifest))
        members.append(("index.json", _oci_index(manifest, tag)))
        members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    else:
        raise ValueError(layout)
    entry = {"Config": config_name, "RepoTags": [tag] if tag else None, "Layers": names}
    members.append(("manifest.json", json.dumps([entry]).encode()))
    if tag:
        name, _, version = tag.rpartition(":")
        members.append(("repositories", json.dumps({name: {version: sha256(blobs[-1])}}).encode()))
    return _write_outer(path, [m for m in members if m[0] not in skip], gzip_outer=gzip_outer)


def _oci_manifest(config: bytes, blobs: Sequence[bytes], media_type: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{sha256(config)}",
                "size": len(config),
            },
            "layers": [
                {"mediaType": media_type, "digest": f"sha256:{sha256(blob)}", "size": len(blob)} for blob in blobs
            ],
        }
    ).encode()


def _oci_index(manifest: bytes, name: str | None) -> bytes:
    descriptor: dict[str, object] = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": f"sha256:{sha256(manifest)}",
        "size": len(manifest),
    }
    if name:
        descriptor["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "latest"}
    return json.dumps({"schemaVersion": 2, "manifests": [descriptor]}).encode()


def oci_layout(
    path: Path,
    layers: Sequence[Layer],
    *,
    name: str | None = "isodemo-oci:latest",
    settings: Mapping[str, object] | None = None,
    gzip_layers: bool = True,
    diff_ids: Sequence[str] | None = None,
) -> Path:
    """An OCI image-layout tarball: oci-layout, index.json -> manifest -> config + layers (gzip or plain)."""
    tars = [_blob(layer) for layer in layers]
    ids = list(diff_ids) if diff_ids is not None else [sha256(t) for t in tars]
    blobs = [gzip.compress(t, mtime=0) for t in tars] if gzip_layers else tars
    config = image_config(ids, settings)
    media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else "")
    manifest = _oci_manifest(config, blobs, media)
    members = [(f"blobs/sha256/{sha256(blob)}", blob) for blob in [*blobs, config, manifest]]
    members += [("index.json", _oci_index(manifest, name)), ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')]
    return _write_outer(path, members)


# -- where a test keeps its image store -------------------------------------------------------------


def filesystem_of(path: Path) -> str:
    """The type of the filesystem `path` is on (the mount with the longest matching mount point)."""
    from isodemo.kernel import procfs

    real = os.path.realpath(path)
    best = max(
        (
            m
            for m in procfs.mountinfo("self")
            if real == m.mount_point or real.startswith(m.mount_point.rstrip("/") + "/")
        ),
        key=lambda m: len(m.mount_point),
    )
    return best.fstype


@contextlib.contextmanager
def store_root(tmp_path: Path) -> Iterator[Path]:
    """A directory for a test's image store: in tmp_path, unless that is on an overlayfs (the VM stage's /tmp),
    which cannot keep whiteouts (a 0:0 device made through it becomes its own whiteout): then in /dev/shm."""
    if filesystem_of(tmp_path) != "overlay":
        yield tmp_path / "store"
        return
    directory = Path(tempfile.mkdtemp(prefix="isodemo-store-", dir="/dev/shm"))
    try:
        yield directory / "store"
    finally:
        shutil.rmtree(directory)


# -- busybox-static in two layers, with a whiteout -----------------------------------------------------

MOTD = b"written by layer 1, deleted by layer 2's whiteout\n"
# What the merged image holds: present in the container, and hidden by layer 2.
VISIBLE = {"data/three": b"from layer 2\n", "bin/busybox": None, "etc/passwd": None}
HIDDEN = ("etc/motd", "data/one", "data/two")


def busybox_layer(busybox: str = BUSYBOX) -> dict[str, Entry]:
    """busybox, a symlink per applet, /etc/passwd and /etc/group, the usual empty directories."""
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries: dict[str, Entry] = {name: Dir() for name in ("bin", "dev", "etc", "proc", "sys", "root")}
    entries["tmp"] = Dir(0o1777)
    entries["bin/busybox"] = File(Path(busybox).read_bytes(), 0o755)
    for applet in sorted(set(listed) - {"busybox"}):
        entries[f"bin/{applet}"] = Symlink("busybox")
    entries["etc/passwd"] = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    entries["etc/group"] = b"root:x:0:\nnogroup:x:65534:\n"
    return entries


def busybox_two_layers(
    path: Path, *, tag: str = "isodemo-whiteout:latest", layout: str = "legacy", busybox: str = BUSYBOX
) -> Path:
    """Layer 1: busybox + etc/motd + data/{one,two}. Layer 2: etc/motd deleted by a whiteout, data made
    opaque with data/three. Run, the container has data/three and no etc/motd, data/one, data/two."""
    first = {**busybox_layer(busybox), "etc/motd": MOTD, "data/one": b"1\n", "data/two": b"2\n"}
    second: dict[str, Entry] = {"etc/motd": WHITEOUT, "data": OPAQUE, "data/three": b"from layer 2\n"}
    return docker_save(path, [first, second], tag=tag, layout=layout)
