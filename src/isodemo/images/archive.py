"""Reading an image tarball: what `docker save` writes, or an OCI image layout (image-spec, image-layout.md).

Two layouts, told apart by their top-level files:
- `docker save`: manifest.json, a list of {"Config", "RepoTags", "Layers"}. Docker before 25 names the config
  `<hex>.json` and each layer `<id>/layer.tar`; Docker 25 on names both `blobs/sha256/<hex>` (and also writes
  an OCI index.json beside it: manifest.json is read first).
- OCI image layout: oci-layout, then index.json -> a manifest (through an image index when there is one:
  the entry for this machine's architecture) -> a config and the layers, each a blob `blobs/sha256/<hex>`.

Every digest the format names is checked: a blob's sha256 against its name or its descriptor, the config's
against the image's id. The layers themselves are checked as they are unpacked (layers.py): there the
uncompressed tar must match the config's rootfs.diff_ids. Nothing here writes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile

from isodemo.errors import ImageError
from isodemo.i18n import _
from isodemo.images.config import ImageConfig, config_from_json, diff_ids_from_json, hex_of_digest

MAX_JSON = 16 << 20  # a manifest or config larger than this is not one
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")
ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le"}


class LayerBlob:
    """One layer as the tarball holds it: its member, the blob's sha256 where the format names it, and the
    sha256 of its uncompressed tar (the config's diff_id), all hex."""

    __slots__ = ("blob_digest", "diff_id", "member")

    def __init__(self, member: str, blob_digest: str | None, diff_id: str) -> None:
        self.member = member
        self.blob_digest = blob_digest
        self.diff_id = diff_id


class Archive:
    """What an image tarball says: its kind, name, id (the config's sha256, hex), config and layers."""

    def __init__(self, tar: tarfile.TarFile, where: str) -> None:
        self.tar = tar
        self.where = where
        self.members = {_normal(member.name): member for member in tar.getmembers()}
        self.kind = ""
        self.name = ""
        self.id = ""
        self.config = ImageConfig()
        self.layers: list[LayerBlob] = []

    # -- reading members ---------------------------------------------------------------------------------

    def read(self, name: str, limit: int = MAX_JSON) -> bytes:
        member = self.members.get(name)
        if member is None:
            raise ImageError(_("{where}: {name} is missing from the tarball", where=self.where, name=name))
        if member.size > limit:
            raise ImageError(_("{where}: {name} is too large for what it should be", where=self.where, name=name))
        try:
            stream = self.tar.extractfile(member)
            data = stream.read() if stream is not None else None
        except (tarfile.TarError, KeyError, OSError, EOFError) as error:
            raise ImageError(
                _(
                    "{where}: cannot read {name}, the tarball is cut short or corrupt: {reason}",
                    where=self.where,
                    name=name,
                    reason=error,
                )
            ) from None
        if data is None:
            raise ImageError(_("{where}: {name} is not a file", where=self.where, name=name))
        return data

    def json(self, name: str, data: bytes | None = None) -> object:
        try:
            return json.loads(self.read(name) if data is None else data)
        except ValueError as error:
            raise ImageError(
                _("{where}: {name} is not valid JSON: {reason}", where=self.where, name=name, reason=error)
            ) from None

    def blob(self, digest: object, what: str) -> tuple[str, bytes]:
        """A blob named by an OCI descriptor's digest: its member name and its bytes, sha256 checked."""
        if not isinstance(digest, str):
            raise ImageError(_("{where}: the {what} descriptor has no digest", where=self.where, what=what))
        hexdigits = hex_of_digest(digest, self.where)
        name = f"blobs/sha256/{hexdigits}"
        data = self.read(name)
        self.check(name, hexdigits, data)
        return name, data

    def check(self, name: str, expected: str, data: bytes) -> None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ImageError(
                _(
                    "{where}: digest mismatch in {name}: the image says sha256:{expected}, "
                    "the content is sha256:{actual}",
                    where=self.where,
                    name=name,
                    expected=expected,
                    actual=actual,
                )
            )

    # -- the two layouts ---------------------------------------------------------------------------------

    def parse(self) -> Archive:
        if "manifest.json" in self.members:
            self.docker_save()
        elif "index.json" in self.members:
            self.oci_layout()
        else:
            raise ImageError(
                _(
                    "{where}: no manifest.json (docker save) and no index.json (OCI image layout): "
                    "not an image tarball",
                    where=self.where,
                )
            )
        return self

    def docker_save(self) -> None:
        self.kind = "docker-save"
        manifest = self.json("manifest.json")
        entry = manifest[0] if isinstance(manifest, list) and manifest else None
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ImageError(_("{where}: manifest.json names no image config", where=self.where))
        layers = entry.get("Layers")
        if not isinstance(layers, list) or not all(isinstance(item, str) for item in layers):
            raise ImageError(_("{where}: manifest.json has no Layers list", where=self.where))
        config_name = _normal(entry["Config"])
        data = self.read(config_name)
        named = _digest_in_name(config_name)
        if named is not None:
            self.check(config_name, named, data)
        diff_ids = self.set_config(config_name, data)
        self.match(len(layers), diff_ids)
        for path, diff_id in zip(layers, diff_ids, strict=True):
            name = _normal(path)
            self.layers.append(LayerBlob(name, _digest_in_name(name, plain=False), diff_id))
        tags = entry.get("RepoTags")
        if isinstance(tags, list) and tags and isinstance(tags[0], str):
            self.name = tags[0]

    def oci_layout(self) -> None:
        self.kind = "oci-layout"
        layout = self.json("oci-layout")
        if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
            raise ImageError(_("{where}: oci-layout has no imageLayoutVersion", where=self.where))
        descriptor = self.choose(self.json("index.json"), "index.json")
        annotations = descriptor.get("annotations")
        if descriptor.get("mediaType") in INDEX_TYPES:
            name, data = self.blob(descriptor.get("digest"), "index")
            descriptor = self.choose(self.json(name, data), name)
        name, data = self.blob(descriptor.get("digest"), "manifest")
        manifest = self.json(name, data)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            raise ImageError(_("{where}: {name} is not an image manifest", where=self.where, name=name))
        config_name, config = self.blob(manifest["config"].get("digest"), "config")
        diff_ids = self.set_config(config_name, config)
        layers = manifest.get("layers")
        if not isinstance(layers, list) or not all(isinstance(item, dict) for item in layers):
            raise ImageError(_("{where}: {name} has no layers list", where=self.where, name=name))
        self.match(len(layers), diff_ids)
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            digest = layer.get("digest")
            if not isinstance(digest, str):
                raise ImageError(_("{where}: the {what} descriptor has no digest", where=self.where, what="layer"))
            hexdigits = hex_of_digest(digest, self.where)
            self.layers.append(LayerBlob(f"blobs/sha256/{hexdigits}", hexdigits, diff_id))
        if isinstance(annotations, dict):
            for key in NAME_ANNOTATIONS:
                if isinstance(annotations.get(key), str) and annotations[key]:
                    self.name = annotations[key]
                    break

    def choose(self, index: object, name: str) -> dict[str, object]:
        """The manifest of an index for this machine: the first one whose platform fits, else the first."""
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(manifests, list) or not manifests or not all(isinstance(m, dict) for m in manifests):
            raise ImageError(_("{where}: {name} lists no manifest", where=self.where, name=name))
        machine = ARCHITECTURES.get(os.uname().machine, os.uname().machine)
        for candidate in manifests:
            platform = candidate.get("platform")
            if isinstance(platform, dict) and platform.get("architecture") == machine:
                chosen: dict[str, object] = candidate
                return chosen
        first: dict[str, object] = manifests[0]
        return first

    def set_config(self, name: str, data: bytes) -> list[str]:
        self.id = hashlib.sha256(data).hexdigest()
        document = self.json(name, data)
        self.config = config_from_json(document, f"{self.where}: {name}")
        return diff_ids_from_json(document, f"{self.where}: {name}")

    def match(self, layers: int, diff_ids: list[str]) -> None:
        if layers != len(diff_ids):
            raise ImageError(
                _(
                    "{where}: the manifest lists {layers} layers, the config's rootfs.diff_ids {diff_ids}",
                    where=self.where,
                    layers=layers,
                    diff_ids=len(diff_ids),
                )
            )


def _normal(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def _digest_in_name(name: str, *, plain: bool = True) -> str | None:
    """The sha256 a member's name states: blobs/sha256/<hex>, or (`plain`) <hex>.json as Docker < 25 names
    the config. None when the name states none (a legacy <id>/layer.tar)."""
    if name.startswith("blobs/sha256/"):
        candidate = name[len("blobs/sha256/") :]
    elif plain and name.endswith(".json") and "/" not in name:
        candidate = name[: -len(".json")]
    else:
        return None
    if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
        return candidate
    return None
