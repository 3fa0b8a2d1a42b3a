"""Every kind of bad image is refused with a message naming the file, exit 125, and nothing left in the store.

The store already holds one good image when each bad one comes: afterwards it must be exactly as before (the
empty <root>/tmp aside), and nothing may have been written outside it.
"""

from __future__ import annotations

import gzip
import io
import os
import signal
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from isodemo.errors import ExitCode, ImageError, RunError
from isodemo.images import Store, layers, stale_temp
from isodemo.images.layers import Unpacker
from tests.imagetar import (
    Dir,
    Entry,
    Fifo,
    HardLink,
    Symlink,
    docker_save,
    layer_tar,
    oci_layout,
    sha256,
    store_root,
)

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

GOOD = {"etc/motd": b"hello\n"}  # the store has this layer already: a tarball that has it is not read for it
NEW = {"etc/motd": b"new\n"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with store_root(tmp_path) as root:
        store = Store(str(root))
        store.resolve(str(docker_save(tmp_path / "good.tar", [GOOD], tag="good:1")))
        yield store


def contents(store: Store) -> dict[str, bytes | str | None]:
    """Every path of the store and what it holds; an empty tmp/ is not content."""
    found: dict[str, bytes | str | None] = {}
    for path in sorted(Path(store.root).rglob("*")):
        name = str(path.relative_to(store.root))
        if name == "tmp" and not any(path.iterdir()):
            continue
        if path.is_symlink():
            found[name] = os.readlink(path)
        elif path.is_file():
            found[name] = path.read_bytes()
        else:
            found[name] = None
    return found


def refused(store: Store, tarball: Path, *fragments: str) -> ImageError:
    before = contents(store)
    with pytest.raises(ImageError) as caught:
        store.resolve(str(tarball))
    error = caught.value
    assert isinstance(error, RunError) and error.exit_code == ExitCode.RUN_FAILED == 125
    assert str(tarball) in error.message, error.message
    for fragment in fragments:
        assert fragment in error.message, error.message
    assert contents(store) == before, "the store changed"
    assert stale_temp(store.root) == []
    return error


def rewrite(tarball: Path, name: str, data: bytes) -> None:
    """Replace one member of an (uncompressed) outer tarball."""
    with tarfile.open(tarball) as tar:
        members = [(member, tar.extractfile(member)) for member in tar.getmembers()]
        items = [(member, stream.read() if stream else None) for member, stream in members]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, content in items:
            new = data if member.name == name else content
            member.size = len(new) if new is not None else 0
            tar.addfile(member, io.BytesIO(new) if new is not None else None)
    tarball.write_bytes(out.getvalue())


def test_a_truncated_tarball(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "cut.tar", [{"big": os.urandom(200_000)}])
    data = tarball.read_bytes()
    tarball.write_bytes(data[: len(data) // 2])  # in the middle of the layer's data
    refused(store, tarball, "cut short")


def test_a_truncated_layer(store: Store, tmp_path: Path) -> None:
    """The tarball is whole, the layer in it is cut (and its digest says so: only its tar is wrong)."""
    blob = layer_tar({"a": os.urandom(5000), "b": os.urandom(5000)})[:6000]
    refused(store, docker_save(tmp_path / "cut-layer.tar", [blob]), "layer 1", "cut short")


def test_a_layer_cut_at_a_header(store: Store, tmp_path: Path) -> None:
    blob = layer_tar({"a": b"x" * 512, "b": b"y" * 512})
    cut = blob[: 512 * 2 + 100]  # a's header, its data, then a part of b's header
    refused(store, docker_save(tmp_path / "cut-header.tar", [cut]), "not a well-formed tar")


def test_a_layer_that_is_not_a_tar(store: Store, tmp_path: Path) -> None:
    refused(store, docker_save(tmp_path / "garbage.tar", [os.urandom(4096)]), "layer 1", "not a tar archive")


def test_an_empty_layer_file(store: Store, tmp_path: Path) -> None:
    refused(store, docker_save(tmp_path / "empty.tar", [b""]), "not a tar archive")


def test_a_gzip_layer_that_is_corrupt(store: Store, tmp_path: Path) -> None:
    blob = gzip.compress(layer_tar(NEW), mtime=0)
    broken = blob[:20] + bytes(b ^ 0xFF for b in blob[20:40]) + blob[40:]
    tarball = oci_layout(tmp_path / "badgz.tar", [NEW])
    with tarfile.open(tarball) as tar:
        names = [m.name for m in tar.getmembers() if m.name.startswith("blobs/") and m.size == len(blob)]
    rewrite(tarball, names[0], broken)
    refused(store, tarball)  # the blob's digest or its gzip stream: refused either way


def test_a_diff_id_mismatch(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "mismatch.tar", [{"a": b"a"}], diff_ids=["0" * 64])
    refused(store, tarball, "digest mismatch", "sha256:" + "0" * 64)


def test_a_blob_whose_content_is_not_its_name(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "blob.tar", [{"a": b"a"}], layout="blobs")
    rewrite(tarball, f"blobs/sha256/{sha256(layer_tar({'a': b'a'}))}", layer_tar({"a": b"b"}))
    refused(store, tarball, "digest mismatch")


def test_a_config_whose_content_is_not_its_name(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "config.tar", [{"a": b"a"}])
    with tarfile.open(tarball) as tar:
        (config,) = [
            m for m in tar.getmembers() if m.name.endswith(".json") and "/" not in m.name and m.name != "manifest.json"
        ]
        original = tar.extractfile(config).read()  # type: ignore[union-attr]
    rewrite(tarball, config.name, original.replace(b'"sh"', b'"ls"'))
    refused(store, tarball, "digest mismatch", config.name)


def test_an_oci_layer_blob_mismatch(store: Store, tmp_path: Path) -> None:
    tarball = oci_layout(tmp_path / "oci.tar", [NEW], gzip_layers=False)
    rewrite(tarball, f"blobs/sha256/{sha256(layer_tar(NEW))}", layer_tar({"etc/motd": b"evil\n"}))
    refused(store, tarball, "digest mismatch")


def test_a_missing_manifest(store: Store, tmp_path: Path) -> None:
    refused(store, docker_save(tmp_path / "nomanifest.tar", [GOOD], skip=["manifest.json"]), "no manifest.json")


def test_a_missing_config(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "noconfig.tar", [GOOD], layout="blobs", skip=[])
    config = f"blobs/sha256/{sha256(_config_of(tarball))}"
    tarball = docker_save(tmp_path / "noconfig.tar", [GOOD], layout="blobs", skip=[config])
    refused(store, tarball, config, "missing")


def _config_of(tarball: Path) -> bytes:
    import json

    with tarfile.open(tarball) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        return tar.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr, no-any-return]


def test_a_missing_layer(store: Store, tmp_path: Path) -> None:
    blob = layer_tar(NEW)
    tarball = docker_save(tmp_path / "nolayer.tar", [blob], layout="blobs", skip=[f"blobs/sha256/{sha256(blob)}"])
    refused(store, tarball, "missing")


def test_more_layers_than_diff_ids(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "count.tar", [GOOD, {"b": b"b"}], diff_ids=[sha256(layer_tar(GOOD))])
    refused(store, tarball, "2 layers")


def test_a_file_that_is_not_a_tarball(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "random.tar"
    path.write_bytes(os.urandom(3000))
    refused(store, path, "not a tar archive")


def test_a_zstd_layer(store: Store, tmp_path: Path) -> None:
    blob = b"\x28\xb5\x2f\xfd" + os.urandom(100)
    refused(store, docker_save(tmp_path / "zstd.tar", [blob]), "zstd")


@pytest.mark.parametrize(
    ("layer", "fragment"),
    [
        ({"../escape": b"x"}, "leaves the layer"),
        ({"etc/../../escape": b"x"}, "leaves the layer"),
        ({"/etc/evil": b"x"}, "absolute path"),
        ({"link": HardLink("../../etc/passwd")}, "leaves the layer"),
        ({"link": HardLink("/etc/passwd")}, "absolute path"),
        ({"link": HardLink("nothing/here")}, "not in this layer"),
        ({"etc": Symlink("/etc"), "etc/passwd": b"root::0:0::/:/bin/sh\n"}, "symbolic link etc"),
        ({"a": Symlink("b"), "b/f": b"x", "a/f": b"x"}, "symbolic link a"),
        ({"d": Symlink("/"), "d/tmp/x": b"x"}, "symbolic link d"),
        ({"file": b"x", "file/inside": b"x"}, "not a directory"),
    ],
)
def test_a_member_escaping_the_layer(store: Store, tmp_path: Path, layer: dict[str, object], fragment: str) -> None:
    refused(store, docker_save(tmp_path / "escape.tar", [layer]), "refusing", fragment)  # type: ignore[list-item]


def test_a_write_through_a_symlink_reaches_nothing_outside(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = {"out": Symlink(str(outside)), "out/planted": b"x"}
    refused(store, docker_save(tmp_path / "plant.tar", [layer]), "symbolic link out")  # type: ignore[list-item]
    assert list(outside.iterdir()) == []


def test_a_layer_the_store_has_is_taken_from_the_store(store: Store, tmp_path: Path) -> None:
    """Content-addressed: a layer whose diff_id the store has is not read again (the config, whose digest is
    the image id, vouches that it is that layer), as `docker load` skips the layers it has."""
    blob = layer_tar(GOOD)
    tarball = docker_save(tmp_path / "has.tar", [blob], layout="blobs", skip=[f"blobs/sha256/{sha256(blob)}"])
    assert store.resolve(str(tarball)).layers == store.resolve("good:1").layers


def test_a_bad_second_layer_leaves_not_even_the_good_first_one(store: Store, tmp_path: Path) -> None:
    tarball = docker_save(tmp_path / "second.tar", [{"fine": b"fine"}, {"../evil": b"x"}])
    refused(store, tarball, "layer 2")


def test_an_interrupt_mid_layer_leaves_nothing(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (isodemo's signal handler raises) in the middle of unpacking: the staging directory goes too."""
    original = Unpacker.add
    seen = {"n": 0}

    def interrupted(self: Unpacker, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        seen["n"] += 1
        if seen["n"] == 3:
            raise KeyboardInterrupt
        original(self, tar, member)

    monkeypatch.setattr(Unpacker, "add", interrupted)
    before = contents(store)
    with pytest.raises(KeyboardInterrupt):
        store.resolve(str(docker_save(tmp_path / "int.tar", [{f"f{i}": b"x" for i in range(5)}])))
    assert contents(store) == before


def test_unknown_names_and_missing_files(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no image nosuch in the store"):
        store.resolve("nosuch")
    with pytest.raises(ImageError, match="no such image tarball"):
        store.resolve(str(tmp_path / "absent.tar"))
    with pytest.raises(ImageError, match="is a directory"):
        store.resolve(str(tmp_path) + "/")
    with pytest.raises(ImageError, match="no image nosuch"):
        store.remove("nosuch")
    with pytest.raises(ImageError, match="not a directory"):
        store.rootfs(str(tmp_path / "good.tar"))


# -- nothing outside the layer changes: metadata is never set through a symbolic link ---------------------
# A symbolic link in a layer may point anywhere (the container resolves it in its own root), so the two
# layers below are valid tars and `docker load` takes them: they are imported, and the link is harmless
# because the mode, owner and times the layer gives are set on what was created, never through a link.


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the store that a layer names by an absolute symbolic link; its mode must not change."""
    path = tmp_path / "victim"
    path.write_bytes(b"host file\n")
    path.chmod(0o600)
    return path


def test_a_hard_link_to_a_symlink_does_not_chmod_its_target(store: Store, tmp_path: Path, victim: Path) -> None:
    """`h` is a second name of the symlink `evil` (link(2) never follows one): its mode 04777 is not applied
    through it. Kept, as Docker keeps it: a symlink's mode means nothing, and inside the container the link
    points at the container's own /tmp/..., not the host's."""
    layer: dict[str, Entry] = {"evil": Symlink(str(victim)), "h": HardLink("evil", mode=0o4777)}
    image = store.resolve(str(docker_save(tmp_path / "hl.tar", [layer])))
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600, "chmod went through the link to the host file"
    root = Path(image.layers[0])
    assert os.readlink(root / "h") == str(victim) and os.lstat(root / "h").st_ino == os.lstat(root / "evil").st_ino


def test_a_directory_replaced_by_a_symlink_is_not_chmodded_through_it(
    store: Store, tmp_path: Path, victim: Path
) -> None:
    """`a/` (04777) then `a -> victim`: the directory is gone, and so is its pending mode. Also one level
    down: `b/c/` (04777), then `b -> outside`, where outside/c is a host directory."""
    outside = tmp_path / "outside"
    (outside / "c").mkdir(parents=True)
    (outside / "c").chmod(0o700)
    layer: list[tuple[str, Entry]] = [
        ("a", Dir(0o4777)),
        ("a", Symlink(str(victim))),
        ("b", Dir(0o755)),
        ("b/c", Dir(0o4777)),
        ("b", Symlink(str(outside))),
    ]
    image = store.resolve(str(docker_save(tmp_path / "dir.tar", [layer])))
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600, "chmod went through the link a"
    assert stat.S_IMODE((outside / "c").stat().st_mode) == 0o700, "chmod went through the link b"
    root = Path(image.layers[0])
    assert os.readlink(root / "a") == str(victim) and os.readlink(root / "b") == str(outside)


def test_a_hard_link_through_a_symlink_pointing_outside_is_refused(store: Store, tmp_path: Path, victim: Path) -> None:
    """A hard link whose target path goes through `out -> tmp_path` would link the host's file into the layer
    (and chmod it): refused. A hard link to the symlink itself, then used as a directory: refused too."""
    through: dict[str, Entry] = {"out": Symlink(str(tmp_path)), "h": HardLink("out/victim", mode=0o4777)}
    refused(store, docker_save(tmp_path / "through.tar", [through]), "symbolic link out")
    again: dict[str, Entry] = {"out": Symlink(str(tmp_path)), "h": HardLink("out"), "h/victim": b"overwritten"}
    refused(store, docker_save(tmp_path / "again.tar", [again]), "symbolic link h")
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600 and victim.read_bytes() == b"host file\n"
    assert victim.stat().st_nlink == 1


@pytest.mark.parametrize("mtime", ["1e300", "nan"])
def test_a_directory_time_no_clock_can_hold(store: Store, tmp_path: Path, mtime: str) -> None:
    """A PAX header may give any number as a directory's mtime: refused with a message, not a traceback."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("d")
        info.type, info.pax_headers = tarfile.DIRTYPE, {"mtime": mtime}
        tar.addfile(info)
    refused(store, docker_save(tmp_path / "time.tar", [out.getvalue()]), "refusing d")


# -- what the import must never open -------------------------------------------------------------------------


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail instead of hanging: an import that opens a FIFO blocks forever (no writer)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("the import blocked: it opened a FIFO")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("deadline")
def test_a_tarball_that_is_a_fifo_is_refused_unopened(store: Store, tmp_path: Path) -> None:
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="not a regular file"):
        store.resolve(str(fifo))


@pytest.mark.usefixtures("deadline")
def test_fifos_in_a_layer_are_kept_and_never_opened(store: Store, tmp_path: Path) -> None:
    """A FIFO is made (Docker keeps them), a hard link to it gets its mode without an open, and a later
    member of the same name replaces it without writing into it."""
    layer: list[tuple[str, Entry]] = [
        ("p", Fifo(0o4644)),
        ("q", HardLink("p", mode=0o640)),
        ("r", Fifo(0o600)),
        ("r", b"a file now"),
    ]
    root = Path(store.resolve(str(docker_save(tmp_path / "fifo.tar", [layer]))).layers[0])
    found = os.lstat(root / "p")
    assert stat.S_ISFIFO(found.st_mode) and found.st_ino == os.lstat(root / "q").st_ino
    assert stat.S_IMODE(found.st_mode) == 0o640  # the link's mode, as tar gives it; never setuid
    assert (root / "r").read_bytes() == b"a file now"


# -- the image config: what execve would refuse later is refused now ------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"Env": ["PATH=/bin", "A=x\u0000y"]}, "Env"),
        ({"Cmd": ["sh", "-c", "echo\u0000"]}, "Cmd"),
        ({"Entrypoint": ["/bin/sh\u0000"]}, "Entrypoint"),
        ({"WorkingDir": "/data\u0000"}, "WorkingDir"),
        ({"User": "root\u0000"}, "User"),
        ({"WorkingDir": "data"}, "WorkingDir"),
        ({"User": "root; rm -rf /"}, "User"),
        ({"User": "1000:1000:1000"}, "User"),
        ({"User": "nob\u00f6dy"}, "User"),
    ],
)
def test_an_image_config_execve_cannot_take(
    store: Store, tmp_path: Path, settings: dict[str, object], field: str
) -> None:
    tarball = docker_save(tmp_path / "config.tar", [NEW], settings={"Cmd": ["sh"], **settings})
    refused(store, tarball, field)


@pytest.mark.parametrize("user", ["", "root", "1000", "1000:1000", "www-data:www-data", "svc.user_1:0"])
def test_an_image_config_with_an_ordinary_user_is_taken(store: Store, tmp_path: Path, user: str) -> None:
    tarball = docker_save(tmp_path / "ok.tar", [NEW], settings={"Cmd": ["sh"], "User": user, "WorkingDir": "/"})
    assert store.resolve(str(tarball)).config.user == user


# -- a layer may not fill the store's filesystem ----------------------------------------------------------------


def test_a_layer_larger_than_the_free_space_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gzip bomb (a few KiB that unpack to far more than the disk holds) is refused before the member that
    would cross the margin is written; nothing is left behind. The margin is made so that 1 MiB is left."""
    vfs = os.statvfs(store.root)
    free = vfs.f_bavail * vfs.f_frsize
    monkeypatch.setattr(layers, "LIMITS", layers.Limits(keep_free=free - (1 << 20)), raising=False)
    bomb = {"small": b"x" * 1000, "zeros": bytes(8 << 20)}
    assert len(gzip.compress(layer_tar(bomb), mtime=0)) < 64 << 10
    tarball = oci_layout(tmp_path / "bomb.tar", [bomb])
    error = refused(store, tarball, "zeros", "free")
    assert "8.0 MiB" in error.message, error.message


def test_a_layer_with_too_many_members_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layers, "LIMITS", layers.Limits(max_members=5), raising=False)
    refused(store, docker_save(tmp_path / "many.tar", [{f"f{i}": b"" for i in range(6)}]), "more than 5 members")
    store.resolve(str(docker_save(tmp_path / "few.tar", [{f"f{i}": b"" for i in range(5)}])))


def test_the_default_margin() -> None:
    def vfs(size: int) -> os.statvfs_result:
        return os.statvfs_result((4096, 4096, size // 4096, 0, 0, 0, 0, 0, 0, 255))

    assert layers.Limits().margin(vfs(100 << 30)) == 256 << 20  # 100 GiB: 5% would be 5 GiB
    assert layers.Limits().margin(vfs(1 << 30)) == (1 << 30) // 20  # 1 GiB: 5%, 51 MiB
    assert layers.Limits(keep_free=0).margin(vfs(1 << 30)) == 0
