"""The image store: images by name or id, their layers unpacked once, shared by every image that has them.

    <root>/images/<id hex>.json      one record per image: name, layers (lowest first), config, size, source
    <root>/layers/<diff_id hex>/diff a layer, unpacked (an overlayfs lower directory); layer.json beside it
    <root>/refs/<name>               the id of the image of that name (the name %-escaped)
    <root>/sources/<path>.json       a tarball already imported: its stat, so it is not read again
    <root>/tmp/                      what is being made (staging.py); <root>/containers/: for the runtime

Who may reach it: made by root, <root> is 0711 (a --userns container's root, a host uid of its own, passes
through it to its container's directory, which the runtime makes) and everything the store makes in it 0700:
an image's setuid files and device nodes are no host user's to run or open. A user's store is 0700.

A layer is keyed by the sha256 of its uncompressed tar (the config's rootfs.diff_ids entry), so two images
with a layer in common store it once. Every change is made in <root>/tmp and renamed into place under a lock
(<root>/lock, flock), with the signals that end a run held for those few renames.

Resolving an image already stored reads two small files; tarfile and hashlib are imported only to import or
build one (this is on `isodemo run`'s start-up path).

A run notes the layers it stacks in its run record (`claim`: `layer <dir>` lines, under the lock), and `rmi`
refuses while a live run noted one of the layers it would remove: a rootless container's overlay is mounted in
its own mount namespace, which the host's mount table (also checked) does not show.
"""

from __future__ import annotations

import builtins
import os

from isodemo.errors import ImageError
from isodemo.i18n import _
from isodemo.images.config import DEFAULT_PATH, Image, ImageConfig
from isodemo.images.records import Lock, default_root, escape, make_root, mounted_among, stat_key

TYPE_CHECKING = False  # `typing` is not needed on `isodemo run`'s start-up path; mypy takes this as true
if TYPE_CHECKING:
    from collections.abc import Callable

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
MIN_ID_PREFIX = 6


class Store:
    """One image store, at `root` (default_root(): $ISODEMO_STORE, /var/lib/isodemo, ~/.local/share/isodemo)."""

    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or default_root())

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def containers_dir(self) -> str:
        """<root>/containers: where the runtime puts each container's directories. The store never makes it:
        the runtime does, 0700 (and <root>/containers-<uid>/ for --userns containers)."""
        return self.path("containers")

    def layer_dir(self, diff_id: str) -> str:
        """The unpacked layer (an overlayfs lower directory) of a diff_id (hex)."""
        return self.path("layers", diff_id, "diff")

    def has_layer(self, diff_id: str) -> bool:
        return os.path.isdir(self.layer_dir(diff_id))

    # -- finding images ----------------------------------------------------------------------------------

    def resolve(self, ref: str) -> Image:
        """The image `ref` names: busybox (built once), a path to a docker-save or OCI tarball (imported once),
        or the name or id of an image in the store. ImageError for anything else."""
        if ref == "busybox":
            from isodemo.images import busybox

            return busybox.ensure(self)
        path_like = "/" in ref or ref.endswith(TAR_SUFFIXES)
        if path_like and os.path.exists(ref):
            return self.tarball(ref)
        found = self.find(ref)
        record = self.record(found) if found is not None else None
        if record is not None:
            image = self.image(record)
            if image is None:
                raise ImageError(
                    _("the image {ref} has lost a layer of the store", ref=ref),
                    _("remove it with `isodemo rmi`, then import its tarball again"),
                )
            return image
        if path_like:
            raise ImageError(_("{ref}: no such image tarball", ref=ref))
        raise ImageError(
            _("no image {ref} in the store {root}", ref=ref, root=self.root),
            _("`isodemo images` lists the images; `isodemo run ./image.tar` imports a docker save tarball"),
        )

    def tarball(self, path: str) -> Image:
        """A docker-save or OCI image-layout tarball: imported the first time, then found by its stat."""
        path = os.path.abspath(path)
        try:
            info = os.stat(path)
        except OSError as error:
            raise ImageError(
                _("{path}: cannot read the image tarball: {reason}", path=path, reason=error.strerror)
            ) from None
        if (info.st_mode & 0o170000) == 0o040000:
            raise ImageError(
                _("{path} is a directory, not an image tarball", path=path),
                _("use --rootfs DIR to run a root filesystem directory"),
            )
        if (info.st_mode & 0o170000) != 0o100000:  # a FIFO would hang the import, a device node be opened
            raise ImageError(_("{path} is not a regular file: an image tarball is one", path=path))
        cached = self._source(path, info)
        if cached is not None:
            return cached
        from isodemo.images import importer

        return importer.import_tarball(self, path, info)

    def rootfs(self, path: str) -> Image:
        """--rootfs DIR: one read-only layer, the directory itself (nothing is copied into the store)."""
        real = os.path.realpath(path)
        if not os.path.isdir(real):
            raise ImageError(_("--rootfs {path}: not a directory", path=path))
        return Image(path, "", (real,), ImageConfig(env=(DEFAULT_PATH,)), created_by=f"--rootfs {real}")

    def find(self, ref: str) -> str | None:
        """The id (hex) of the image named `ref` (or `ref:latest`), or whose id starts with `ref`."""
        for name in (ref, f"{ref}:latest") if ":" not in ref else (ref,):
            found = self.read_ref(name)
            if found is not None:
                return found
        prefix = ref.removeprefix("sha256:")
        if len(prefix) < MIN_ID_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
            return None
        matches = [name[:-5] for name in self._record_names() if name.startswith(prefix)]
        if len(matches) > 1:
            raise ImageError(_("{ref} is the start of {n} image ids: give more of it", ref=ref, n=len(matches)))
        return matches[0] if matches else None

    def read_ref(self, name: str) -> str | None:
        try:
            # bytes decoded by bytes.decode's own ASCII path: a text file with encoding="ascii" would import
            # encodings.ascii for its codec (~0.1 ms of `isodemo run`'s start)
            with open(self.path("refs", escape(name)), "rb") as file:
                image_id = file.read().decode("ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return image_id if is_id(image_id) else None

    def record(self, image_id: str) -> dict[str, object] | None:
        """The stored record of an image (id hex), None when there is none or it cannot be read."""
        if not is_id(image_id):
            return None
        from isodemo.json_read import loads

        try:
            with open(self.path("images", image_id + ".json"), "rb") as file:
                record = loads(file.read())
        except (FileNotFoundError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def load(self, image_id: str) -> Image | None:
        """The image of a record whose layers are all there; None when any is missing."""
        record = self.record(image_id)
        return self.image(record) if record is not None else None

    def image(self, record: dict[str, object]) -> Image | None:
        layers = record.get("layers")
        config = record.get("config")
        if not isinstance(layers, list) or not isinstance(config, dict) or not all(map(is_id, map(str, layers))):
            return None
        dirs = tuple(self.layer_dir(str(layer)) for layer in layers)
        if not all(os.path.isdir(path) for path in dirs):
            return None
        size = record.get("size_bytes")
        return Image(
            str(record.get("name", "")),
            str(record.get("id", "")),
            dirs,
            ImageConfig.from_dict(config),
            size_bytes=size if isinstance(size, int) else 0,
            created_by=str(record.get("created_by", "")),
        )

    def list(self) -> builtins.list[Image]:
        images = []
        for name in self._record_names():
            record = self.record(name[:-5])
            image = self.image(record) if record is not None else None
            if image is not None:
                images.append(image)
        return sorted(images, key=lambda image: (image.name, image.id))

    def _record_names(self) -> builtins.list[str]:
        try:
            return sorted(name for name in os.listdir(self.path("images")) if name.endswith(".json"))
        except FileNotFoundError:
            return []

    def _source(self, path: str, info: os.stat_result) -> Image | None:
        """A tarball imported before and not changed since (same device, inode, size and mtime)."""
        key = escape(path) + ".json"
        if len(key) > 250:
            return None
        from isodemo.json_read import loads

        try:
            with open(self.path("sources", key), "rb") as file:
                source = loads(file.read())
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(source, dict) or source.get("stat") != stat_key(info):
            return None
        return self.load(str(source.get("id")))

    # -- changing the store (importer.py and busybox.py call commit) -----------------------------------

    def commit(self, record: dict[str, object], new_layers: dict[str, str], source: str | None = None) -> Image:
        """Put an image in place: the layers unpacked in staging (`new_layers`: diff_id hex -> staged dir with
        diff/ and layer.json), then its record, its name and its source. A layer another import put in place
        meanwhile is kept and ours discarded (it is the same content: it has the same digest)."""
        from isodemo import signals
        from isodemo.images import staging

        image_id = str(record["id"]).removeprefix("sha256:")
        layers = [str(layer) for layer in record["layers"]]  # type: ignore[attr-defined]
        make_root(self.root)
        os.makedirs(self.path("layers"), 0o700, exist_ok=True)
        with self.locked(), signals.held():
            for diff_id, staged in new_layers.items():
                staging.install(staged, self.path("layers", diff_id))
            missing = [layer for layer in layers if not self.has_layer(layer)]
            if missing:  # an `isodemo rmi` removed a layer this import counted on
                raise ImageError(_("a layer was removed while the image was imported: try again"))
            record["size_bytes"] = sum(self.layer_size(layer) for layer in layers)
            self._write_json(self.path("images", image_id + ".json"), record)
            self._name(str(record["name"]), image_id)
            if source is not None:
                key = escape(source) + ".json"
                if len(key) <= 250:
                    self._write_json(self.path("sources", key), {"stat": record.get("source"), "id": image_id})
        image = self.load(image_id)
        if image is None:
            raise ImageError(_("the image {name} vanished from the store as it was stored", name=record["name"]))
        return image

    def layer_size(self, diff_id: str) -> int:
        import json

        try:
            with open(self.path("layers", diff_id, "layer.json"), "rb") as file:
                size = json.load(file).get("size", 0)
        except (OSError, ValueError, AttributeError):
            return 0
        return size if isinstance(size, int) else 0

    def _name(self, name: str, image_id: str) -> None:
        """Point `name` at `image_id`; an image that had the name before keeps only its short id."""
        previous = self.read_ref(name)
        if previous is not None and previous != image_id:
            old = self.record(previous)
            if old is not None:
                old["name"] = previous[:12]
                self._write_json(self.path("images", previous + ".json"), old)
        self._write(self.path("refs", escape(name)), image_id.encode())

    def _write_json(self, target: str, data: object) -> None:
        import json

        self._write(target, json.dumps(data, indent=1, sort_keys=True).encode() + b"\n")

    def _write(self, target: str, data: bytes) -> None:
        from isodemo.images import staging

        make_root(self.root)
        os.makedirs(os.path.dirname(target), 0o700, exist_ok=True)
        staging.write_file(self.root, target, data)

    def locked(self) -> Lock:
        make_root(self.root)
        return Lock(self.path("lock"))

    def claim(self, image: Image, note: Callable[[str, str], None]) -> None:
        """Note each layer `image` stacks in a run's record (`note` is Run.note: `layer <dir>` lines), then
        check they are all still there, under the store's lock: an `isodemo rmi` (which holds it to check the
        records and remove) either came first, and this fails, or comes after and sees the notes. Nothing for
        a --rootfs image: its one layer is no layer of the store."""
        if not image.id:
            return
        with self.locked():
            for layer in image.layers:
                note("layer", layer)
            if not all(os.path.isdir(layer) for layer in image.layers):
                raise ImageError(
                    _("the image {name} was removed from the store as this container started", name=image.name),
                    _("import it again, or run another image"),
                )

    def remove(self, ref: str) -> Image:
        """Remove an image (by name or id) and the layers no other image uses."""
        return self.remove_with_layers(ref)[0]

    def remove_with_layers(self, ref: str) -> tuple[Image, builtins.list[str]]:
        """remove(), also returning the layer directories removed with it."""
        from isodemo.images import staging

        with self.locked():
            image_id = self.find(ref)
            record = self.record(image_id) if image_id is not None else None
            if image_id is None or record is None:
                raise ImageError(_("no image {ref} in the store {root}", ref=ref, root=self.root))
            image = self.image(record) or Image(str(record.get("name")), str(record.get("id")), (), ImageConfig())
            mine = {str(layer) for layer in record.get("layers") or []}  # type: ignore[attr-defined]
            for other in self._record_names():
                if other[:-5] != image_id:
                    theirs = self.record(other[:-5]) or {}
                    mine -= {str(layer) for layer in theirs.get("layers") or []}  # type: ignore[attr-defined]
            mounted = mounted_among([self.layer_dir(layer) for layer in sorted(mine)])
            if mounted:
                raise ImageError(
                    _("{ref} is in use: a container's overlay is mounted on {path}", ref=ref, path=mounted[0]),
                    _("let the container end first"),
                )
            using = runs_using([self.layer_dir(layer) for layer in sorted(mine)])
            if using:
                run, path = using[0]
                raise ImageError(
                    _("{ref} is in use: the running container of {run} stacks {path}", ref=ref, run=run, path=path),
                    _("let the container end first"),
                )
            for directory in ("refs", "sources"):
                self._unlink_pointing_at(directory, image_id)
            os.unlink(self.path("images", image_id + ".json"))
            removed = []
            for layer in sorted(mine):
                staging.discard(self.root, self.path("layers", layer))
                removed.append(self.layer_dir(layer))
        return image, removed

    def _unlink_pointing_at(self, directory: str, image_id: str) -> None:
        try:
            names = os.listdir(self.path(directory))
        except FileNotFoundError:
            return
        for name in names:
            path = self.path(directory, name)
            try:
                with open(path, "rb") as file:
                    content = file.read(4096)
            except OSError:
                continue
            if image_id.encode() in content:
                os.unlink(path)


def runs_using(layers: builtins.list[str]) -> builtins.list[tuple[str, str]]:
    """(run name, layer) for each of `layers` that a live run noted (Store.claim) in its record. A user's
    record vouches only for what that user owns (a rootless run, in the user's own store), root's for all."""
    from isodemo import runs

    owners: dict[str, int] = {}
    for layer in layers:
        try:
            owners[layer] = os.lstat(layer).st_uid
        except OSError:
            continue
    found = []
    for run_id, record in sorted(runs.recorded_runs().items()):
        noted = [line[len("layer ") :] for line in record.text.splitlines()[1:] if line.startswith("layer ")]
        held = [path for path in noted if path in owners and record.owner in (0, owners[path])]
        if held and runs.owner_alive(record):
            found += [(runs.Run(run_id).name, path) for path in held]
    return found


def is_id(text: str) -> bool:
    """64 lowercase hex digits: an image id or a diff_id as the store names its files."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
