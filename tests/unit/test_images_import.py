"""Importing image tarballs into the store: docker save (both layouts), OCI image layouts, the config kept,
layers unpacked once and shared, whiteouts as overlayfs reads them. Every store lives in tmp_path."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from isodemo.images import Store
from isodemo.images.layers import opaque_xattr
from tests.imagetar import (
    OPAQUE,
    WHITEOUT,
    Device,
    Dir,
    File,
    HardLink,
    Symlink,
    docker_save,
    image_config,
    oci_layout,
    sha256,
    store_root,
)

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

BASE = {"etc/motd": b"hello\n", "bin/tool": File(b"#!/bin/sh\n", 0o755), "data/one": b"1", "data/two": b"2"}
TOP = {"etc/motd": WHITEOUT, "data": OPAQUE, "data/three": b"3"}
SETTINGS = {
    "Entrypoint": ["/bin/tool"],
    "Cmd": ["--flag"],
    "Env": ["PATH=/bin", "GREETING=hi"],
    "WorkingDir": "/data",
    "User": "1000:1000",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with store_root(tmp_path) as root:
        yield Store(str(root))


def tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.mark.parametrize("layout", ["legacy", "blobs"])
def test_docker_save_is_imported_with_its_name_config_and_layers(store: Store, tmp_path: Path, layout: str) -> None:
    tarball = docker_save(tmp_path / "image.tar", [BASE, TOP], tag="demo:1", settings=SETTINGS, layout=layout)
    image = store.resolve(str(tarball))
    assert image.name == "demo:1"
    assert len(image.layers) == 2
    config = image.config
    assert config.entrypoint == ("/bin/tool",) and config.cmd == ("--flag",)
    assert config.env == ("PATH=/bin", "GREETING=hi")
    assert (config.workdir, config.user) == ("/data", "1000:1000")
    lowest, highest = (Path(layer) for layer in image.layers)
    assert (lowest / "etc/motd").read_bytes() == b"hello\n"
    assert stat.S_IMODE((lowest / "bin/tool").stat().st_mode) == 0o755
    assert (highest / "data/three").read_bytes() == b"3"
    assert image.size_bytes == len(b"hello\n#!/bin/sh\n12") + 1
    # The id is the config's sha256, as docker's image ID; layers are keyed by their diff_id.
    config_blob = image_config([sha256(_tar(BASE)), sha256(_tar(TOP))], SETTINGS)
    assert image.id == "sha256:" + sha256(config_blob)
    assert [Path(layer).parent.name for layer in image.layers] == [sha256(_tar(BASE)), sha256(_tar(TOP))]


def _tar(layer: dict[str, object]) -> bytes:
    from tests.imagetar import layer_tar

    return layer_tar(layer)  # type: ignore[arg-type]


@pytest.mark.parametrize("gzip_layers", [True, False])
def test_oci_layout_is_imported(store: Store, tmp_path: Path, gzip_layers: bool) -> None:
    tarball = oci_layout(tmp_path / "oci.tar", [BASE, TOP], name="oci/demo:2", gzip_layers=gzip_layers)
    image = store.resolve(str(tarball))
    assert image.name == "oci/demo:2"
    assert image.config.cmd == ("sh",)
    assert (Path(image.layers[1]) / "data/three").read_bytes() == b"3"
    assert store.resolve("oci/demo:2") == image


def test_docker_save_piped_through_gzip(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "image.tar.gz", [BASE], gzip_outer=True)
    assert store.resolve(str(tarball)).name == "isodemo-test:latest"


def test_an_image_without_a_tag_is_named_by_its_short_id(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "x.tar", [BASE], tag=None)))
    assert image.name == image.id[len("sha256:") :][:12] == image.short_id
    assert store.resolve(image.short_id) == image
    assert store.resolve(image.id) == image


def test_a_name_without_a_tag_finds_latest(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "x.tar", [BASE], tag="thing:latest")))
    assert store.resolve("thing") == image


def test_whiteouts_become_what_overlayfs_reads(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "wh.tar", [BASE, TOP])))
    top = Path(image.layers[1])
    motd = os.lstat(top / "etc/motd")
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == os.makedev(0, 0)
    assert os.getxattr(top / "data", opaque_xattr(), follow_symlinks=False) == b"y"
    assert not any(".wh." in name for name in tree(Path(store.root))), "a .wh. file was written"
    assert (Path(image.layers[0]) / "etc/motd").read_bytes() == b"hello\n"  # the lower layer keeps it


def test_symlinks_may_point_anywhere_and_hard_links_stay_inside(store: Store, tmp_path: Path) -> None:
    layer = {
        "bin/busybox": File(b"binary", 0o755),
        "bin/sh": Symlink("/bin/busybox"),
        "bin/ls": Symlink("busybox"),
        "bin/dotdot": Symlink("../../../../etc/shadow"),
        "bin/again": HardLink("bin/busybox"),
        "empty": Dir(0o555),
    }
    root = Path(store.resolve(str(docker_save(tmp_path / "l.tar", [layer]))).layers[0])
    assert os.readlink(root / "bin/sh") == "/bin/busybox"
    assert os.readlink(root / "bin/dotdot") == "../../../../etc/shadow"
    assert os.lstat(root / "bin/again").st_ino == os.lstat(root / "bin/busybox").st_ino
    assert stat.S_IMODE(os.lstat(root / "empty").st_mode) == 0o555
    assert os.lstat(root / "bin/busybox").st_mtime == 0


def test_a_layer_two_images_share_is_unpacked_once(store: Store, tmp_path: Path) -> None:
    first = store.resolve(str(docker_save(tmp_path / "a.tar", [BASE], tag="a:1")))
    second = store.resolve(str(docker_save(tmp_path / "b.tar", [BASE, TOP], tag="b:1")))
    assert second.layers[0] == first.layers[0]
    assert len(os.listdir(Path(store.root) / "layers")) == 2


def test_a_second_resolve_reads_only_the_store(store: Store, tmp_path: Path) -> None:
    """Already imported: found by the tarball's stat, no tarfile or hashlib import (run's start-up path)."""
    tarball = docker_save(tmp_path / "image.tar", [BASE])
    image = store.resolve(str(tarball))
    probe = (
        "import sys; from isodemo.images import Store;"
        f"image = Store({store.root!r}).resolve({str(tarball)!r});"
        "print(image.id, 'tarfile' in sys.modules, 'hashlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == [image.id, "False", "False"]


def test_a_changed_tarball_is_imported_again(store: Store, tmp_path: Path) -> None:
    tarball = tmp_path / "image.tar"
    first = store.resolve(str(docker_save(tarball, [BASE], tag="x:1")))
    second = store.resolve(str(docker_save(tarball, [BASE, TOP], tag="x:1")))
    assert first.id != second.id and len(second.layers) == 2
    names = {image.name for image in store.list()}
    assert names == {"x:1", first.short_id}  # the older image keeps only its short id, as docker's <none>


def test_an_import_racing_another_keeps_the_layer_already_there(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent import of the same layer renamed it into place first: ours is discarded, not an error."""
    store.resolve(str(docker_save(tmp_path / "a.tar", [BASE], tag="a:1")))
    original = Store.has_layer
    calls = {"n": 0}

    def not_yet(self: Store, diff_id: str) -> bool:
        calls["n"] += 1
        return calls["n"] > 1 and original(self, diff_id)  # first look: missing; the commit's check: there

    monkeypatch.setattr(Store, "has_layer", not_yet)
    image = store.resolve(str(docker_save(tmp_path / "b.tar", [BASE], tag="b:1")))
    assert (Path(image.layers[0]) / "etc/motd").read_bytes() == b"hello\n"
    assert os.listdir(Path(store.root) / "tmp") == []


def test_list_and_remove(store: Store, tmp_path: Path) -> None:
    a = store.resolve(str(docker_save(tmp_path / "a.tar", [BASE], tag="a:1")))
    b = store.resolve(str(docker_save(tmp_path / "b.tar", [BASE, TOP], tag="b:1")))
    assert [image.name for image in store.list()] == ["a:1", "b:1"]
    removed, layers = store.remove_with_layers("b:1")
    assert removed.id == b.id and layers == [b.layers[1]]
    assert os.path.isdir(a.layers[0]) and not os.path.exists(b.layers[1])
    assert [image.name for image in store.list()] == ["a:1"]
    assert store.remove("a:1").id == a.id
    assert store.list() == [] and os.listdir(Path(store.root) / "layers") == []
    assert os.listdir(Path(store.root) / "refs") == [] and os.listdir(Path(store.root) / "sources") == []


def test_the_record_is_plain_json(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(docker_save(tmp_path / "a.tar", [BASE], tag="a:1", settings=SETTINGS)))
    record = json.loads((Path(store.root) / "images" / (image.id[7:] + ".json")).read_text())
    assert record["name"] == "a:1" and record["config"]["workdir"] == "/data"


def test_without_root_devices_are_skipped_and_opaque_is_a_user_xattr(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As rootless podman: no device nodes but whiteouts, files stay the importer's, user.overlay.opaque."""
    me = os.getuid()
    probe = Path(store.root).parent
    try:
        os.setxattr(probe, "user.isodemo-test", b"1")
    except OSError:
        pytest.skip(f"{probe}: no user.* xattrs on this filesystem (tmpfs has them from Linux 6.6)")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # what the store asks to decide; real root or not
    layer = {
        "dev/null": Device(1, 3),
        "owned": File(b"x", 0o644, uid=4242, gid=4242),
        "locked": Dir(0o555),
        "locked/inside": b"x",
    }
    image = store.resolve(str(docker_save(tmp_path / "rootless.tar", [layer, TOP])))
    lowest, highest = (Path(path) for path in image.layers)
    assert not os.path.lexists(lowest / "dev/null") and (lowest / "dev").is_dir()
    assert os.lstat(lowest / "owned").st_uid == me
    assert opaque_xattr() == "user.overlay.opaque"
    assert os.getxattr(highest / "data", "user.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(highest / "etc/motd").st_mode)
    store.remove(image.name)  # the read-only directory of the layer is made writable to be removed
    assert os.listdir(Path(store.root) / "layers") == []


def test_two_processes_importing_the_same_image_at_once(store: Store, tmp_path: Path) -> None:
    layers = [{f"dir{i}/file{j}": os.urandom(64) for i in range(20) for j in range(20)}, TOP]
    tarball = docker_save(tmp_path / "same.tar", layers)
    probe = f"from isodemo.images import Store; print(Store({store.root!r}).resolve({str(tarball)!r}).id)"
    procs = [subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    ids = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(ids) == 1 and [image.id for image in store.list()] == list(ids)
    assert len(os.listdir(Path(store.root) / "layers")) == 2 and os.listdir(Path(store.root) / "tmp") == []


def test_a_legacy_layer_that_is_a_symlink_to_another(store: Store, tmp_path: Path) -> None:
    """`docker save` before 25 stores a layer two images share once: the second <id>/layer.tar is a symlink
    (../<id>/layer.tar). The same layer twice in one image shows the same."""
    import io
    import tarfile

    tarball = docker_save(tmp_path / "dup.tar", [BASE, BASE, TOP])
    with tarfile.open(tarball) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]  # type: ignore[union-attr]
    layer_tars = [m.name for m, _ in members if m.name.endswith("/layer.tar")]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, data in members:
            if member.name == layer_tars[0]:  # read first, through the link
                member.type, member.size = tarfile.SYMTYPE, 0
                member.linkname = f"../{layer_tars[1]}"
            content = data if member.isfile() else None
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    tarball.write_bytes(out.getvalue())
    image = store.resolve(str(tarball))
    assert image.layers[0] == image.layers[1] and len(os.listdir(Path(store.root) / "layers")) == 2
