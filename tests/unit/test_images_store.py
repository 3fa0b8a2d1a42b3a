"""The store itself: the busybox image (built once, deterministic), --rootfs, names, the temporary directories a
killed import leaves (for `isodemo cleanup`), and the `isodemo images` / `isodemo rmi` bodies."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from isodemo import images, runs
from isodemo.errors import ImageError
from isodemo.images import Store, busybox, staging
from isodemo.images.config import DEFAULT_PATH
from isodemo.images.records import default_root, escape
from isodemo.narrate.base import Narrator
from isodemo.tools import images as images_tool
from tests.imagetar import OPAQUE, WHITEOUT, docker_save, store_root

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

needs_busybox = pytest.mark.skipif(not os.path.exists(busybox.BUSYBOX), reason="needs busybox-static")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with store_root(tmp_path) as root:
        yield Store(str(root))


def test_the_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ISODEMO_STORE", str(tmp_path))
    assert default_root() == str(tmp_path) == Store().root
    monkeypatch.delenv("ISODEMO_STORE")
    expected = "/var/lib/isodemo" if os.geteuid() == 0 else os.path.expanduser("~/.local/share/isodemo")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_root() == expected
    assert Store(str(tmp_path)).containers_dir == str(tmp_path / "containers")


def test_names_become_single_file_names() -> None:
    assert escape("busybox") == "busybox"
    assert escape("docker.io/library/alpine:3.19") == "docker.io%2Flibrary%2Falpine%3A3.19"
    assert escape("..") == "%2E."
    assert escape("é") == "%C3%A9"


@needs_busybox
def test_the_busybox_layer_is_deterministic() -> None:
    names = busybox.applets(busybox.BUSYBOX)
    first, second = io.BytesIO(), io.BytesIO()
    busybox.write_layer(first, busybox.BUSYBOX, names)
    busybox.write_layer(second, busybox.BUSYBOX, names)
    assert first.getvalue() == second.getvalue()
    first.seek(0)
    with tarfile.open(fileobj=first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    by_name = {m.name: m for m in members}
    assert by_name["tmp"].mode == 0o1777 and by_name["tmp"].isdir()
    for directory in ("proc", "sys", "dev", "root", "etc"):
        assert by_name[directory].isdir()
    assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "busybox"
    assert len([m for m in members if m.issym()]) == len(names) > 100
    assert "nobody" in tar_text(first, "etc/passwd") and "root" in tar_text(first, "etc/group")


def tar_text(stream: io.BytesIO, name: str) -> str:
    stream.seek(0)
    with tarfile.open(fileobj=stream) as tar:
        return tar.extractfile(name).read().decode()  # type: ignore[union-attr]


@needs_busybox
def test_busybox_is_built_once_then_read(store: Store, tmp_path: Path) -> None:
    image = store.resolve("busybox")
    assert image.name == "busybox" and len(image.layers) == 1
    assert image.config.cmd == ("sh",) and image.config.env == (DEFAULT_PATH,)
    assert image.id == "sha256:" + Path(image.layers[0]).parent.name  # its id is the layer tar's sha256
    root = Path(image.layers[0])
    assert os.readlink(root / "bin/ls") == "busybox" and (root / "bin/busybox").stat().st_size > 100_000
    assert Store(str(tmp_path / "other")).resolve("busybox").id == image.id  # deterministic across stores
    probe = (
        "import sys; from isodemo.images import Store;"
        f"image = Store({store.root!r}).resolve('busybox');"
        "print(image.id, 'tarfile' in sys.modules, 'hashlib' in sys.modules, 'subprocess' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == [image.id, "False", "False", "False"]


@needs_busybox
def test_busybox_is_rebuilt_when_its_layer_is_gone(store: Store) -> None:
    image = store.resolve("busybox")
    staging.discard(store.root, os.path.dirname(image.layers[0]))
    assert store.resolve("busybox") == image and os.path.isdir(image.layers[0])


def test_rootfs_is_the_directory_itself(store: Store, tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    image = store.rootfs(str(tmp_path / "root"))
    assert image.layers == (str(tmp_path / "root"),) and image.id == ""
    assert image.config.env == (DEFAULT_PATH,)
    assert not os.path.exists(store.root), "--rootfs copies nothing into the store"


def test_stale_temp_lists_only_dead_importers(store: Store) -> None:
    live = staging.new_temp_path(store.root)
    os.mkdir(live)
    tmp = Path(store.root) / "tmp"
    dead = tmp / "4194999-12345-abcd"  # beyond pid_max's default: nobody
    (dead / "layer/diff").mkdir(parents=True)
    os.chmod(dead / "layer/diff", 0o555)
    (tmp / "not-ours").mkdir()
    reused = tmp / f"{os.getpid()}-1-abcd"  # our pid, another start time: a process before us
    reused.write_bytes(b"")
    assert images.stale_temp(store.root) == sorted([str(dead), str(reused)])
    for path in images.stale_temp(store.root):
        images.remove_temp(path)
    assert sorted(os.listdir(tmp)) == sorted([os.path.basename(live), "not-ours"])


def test_a_store_that_does_not_exist_lists_nothing(store: Store) -> None:
    assert store.list() == [] and images.stale_temp(store.root) == []


def _ctx(**options: object) -> SimpleNamespace:
    return SimpleNamespace(options=options)


def test_the_images_and_rmi_bodies(store: Store, tmp_path: Path) -> None:
    narrator = Narrator()
    images_tool.run(narrator, _ctx(store=store.root))  # type: ignore[arg-type]
    assert narrator.report.facts["images"] == []
    a = store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
    store.resolve(str(docker_save(tmp_path / "b.tar", [{"f": b"1"}, {"f": WHITEOUT, "d": OPAQUE}], tag="b:1")))
    narrator = Narrator()
    images_tool.run(narrator, _ctx(store=store.root))  # type: ignore[arg-type]
    listed = narrator.report.facts["images"]
    assert [(i["name"], len(i["layers"])) for i in listed] == [("a:1", 1), ("b:1", 2)]
    assert listed[0]["id"] == a.id and listed[0]["created_by"].startswith("docker-save ")
    narrator = Narrator()
    images_tool.rmi(narrator, _ctx(store=store.root, image="b:1"))  # type: ignore[arg-type]
    assert len(narrator.report.facts["removed_layers"]) == 1
    assert [image.name for image in store.list()] == ["a:1"]


def test_an_image_that_lost_a_layer_says_so(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
    staging.discard(store.root, os.path.dirname(image.layers[0]))
    with pytest.raises(ImageError, match="lost a layer"):
        store.resolve("a:1")
    assert store.resolve(str(tmp_path / "a.tar")) == image  # the tarball again: the layer is unpacked again
    assert store.list() == [image]


def test_a_tampered_ref_is_not_followed(store: Store, tmp_path: Path) -> None:
    store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
    (Path(store.root) / "refs" / "evil").write_text("../../../etc/passwd")
    assert store.find("evil") is None


# -- who may reach the store's files -----------------------------------------------------------------------


def test_the_store_root_is_passable_and_layers_private(store: Store, tmp_path: Path) -> None:
    """root's store: 0711 (a --userns container's root, uid 100000, passes through it to its own container
    directory), layers/ 0700 (an image's setuid files are no host user's). A user's store: 0700. The store
    never makes containers/: the runtime does, with the mode it needs."""
    store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
    assert stat.S_IMODE(os.stat(store.root).st_mode) == (0o711 if os.geteuid() == 0 else 0o700)
    assert stat.S_IMODE(os.stat(Path(store.root) / "layers").st_mode) == 0o700
    assert not os.path.exists(store.containers_dir)


def test_the_store_root_mode_does_not_depend_on_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        with store_root(tmp_path) as root:
            store = Store(str(root))
            store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
            assert stat.S_IMODE(os.stat(store.root).st_mode) == (0o711 if os.geteuid() == 0 else 0o700)
    finally:
        os.umask(previous)


# -- rmi and running containers -----------------------------------------------------------------------------


@pytest.fixture
def run_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run records in tmp_path, not /run/isodemo or /tmp/isodemo-runs-<uid>."""
    records = tmp_path / "records"
    (records / "run").mkdir(parents=True)
    monkeypatch.setattr(runs, "RUN_DIR_NAME", str(records / "run"))
    monkeypatch.setattr(runs, "SHARED_TMP_NAME", str(records))
    return records


@pytest.mark.usefixtures("run_records")
def test_rmi_refuses_while_a_live_run_noted_the_image(store: Store, tmp_path: Path) -> None:
    """A rootless container's overlay is mounted in its own mount namespace, where rmi's look at mountinfo does
    not reach: the run's record says which layers it stacks (`layer <dir>` lines, Store.claim)."""
    shared = store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
    image = store.resolve(str(docker_save(tmp_path / "b.tar", [{"f": b"1"}, {"g": b"2"}], tag="b:1")))
    run = runs.Run.new()
    run.register()
    try:
        for layer in image.layers:
            run.note("layer", layer)  # what Store.claim writes
        with pytest.raises(ImageError, match="in use") as caught:
            store.remove("b:1")
        assert run.name in caught.value.message
        assert [i.name for i in store.list()] == ["a:1", "b:1"] and os.path.isdir(image.layers[1])
        # a:1 shares only b's lower layer, which stays as long as b:1 has it: removing a:1 removes no layer
        assert store.remove_with_layers("a:1") == (shared, [])
    finally:
        run.unregister()
    assert store.remove("b:1").id == image.id  # the run is over


@pytest.mark.usefixtures("run_records")
def test_a_dead_runs_record_does_not_hold_an_image(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}], tag="a:1")))
    run = runs.Run.new()
    Path(run.record_path).parent.mkdir(parents=True, exist_ok=True)
    Path(run.record_path).write_text(f"4194999 12345\nlayer {image.layers[0]}\n")  # beyond pid_max: dead
    assert store.remove("a:1").id == image.id


@pytest.mark.usefixtures("run_records")
def test_claim_notes_the_layers_under_the_lock_and_sees_an_rmi_that_came_first(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "a.tar", [{"f": b"1"}, {"g": b"2"}], tag="a:1")))
    notes: list[tuple[str, str]] = []
    store.claim(image, lambda kind, value: notes.append((kind, value)))
    assert notes == [("layer", layer) for layer in image.layers]
    store.claim(store.rootfs(str(tmp_path)), lambda kind, value: notes.append((kind, value)))
    assert len(notes) == 2, "--rootfs: no layer of the store to claim"
    store.remove("a:1")
    with pytest.raises(ImageError, match="removed"):
        store.claim(image, lambda kind, value: None)


def test_removing_a_layer_without_root_changes_nothing_through_its_links(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without root a layer's read-only directories are made writable to be removed: only its real ones, never a
    directory a symbolic link of the layer points at (os.walk lists those among the directories)."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # the path a user's store takes, whoever runs the test
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o555)
    layer = tmp_path / "layer"
    (layer / "locked").mkdir(parents=True)
    (layer / "locked" / "link").symlink_to(outside)
    (layer / "locked").chmod(0o555)
    staging.remove_tree(str(layer))
    assert not layer.exists()
    assert stat.S_IMODE(outside.stat().st_mode) == 0o555
