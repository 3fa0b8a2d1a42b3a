"""The image store against the real kernel: layers stacked by a real overlayfs mount, whiteouts hiding what a
lower layer has, busybox built deterministically and runnable, device nodes and owners as root.

Mounts happen in a forked child that first unshares its mount namespace and makes / private: nothing reaches
the host's mount table (the host-invariant check around each root test would see it). Every store lives in
tmp_path.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from isodemo.images import Store
from isodemo.images.busybox import BUSYBOX
from isodemo.kernel import mount, namespaces
from tests.imagetar import (
    HIDDEN,
    MOTD,
    WHITEOUT,
    Device,
    Entry,
    Fifo,
    File,
    HardLink,
    busybox_two_layers,
    docker_save,
    filesystem_of,
    store_root,
)
from tests.root.users import TestUser

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = [pytest.mark.host_only, pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")]


def in_mount_namespace(lowers: list[str], merged: str, look: Callable[[str], Any], *, upper: str = "") -> Any:
    """Mount an overlay of `lowers` (highest first) on `merged` (read-only, or over `upper`: a dir holding
    upper/ and work/) in a new private mount namespace of a forked child, and return what `look(merged)`
    found there (JSON through a pipe)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(reader)
            namespaces.unshare(namespaces.CLONE_NEWNS)
            mount.make_rprivate("/")
            options = "lowerdir=" + ":".join(lowers)
            if upper:
                options += f",upperdir={upper}/upper,workdir={upper}/work"
            mount.mount("overlay", merged, "overlay", 0 if upper else mount.MS_RDONLY, options)
            os.write(writer, json.dumps({"ok": look(merged)}).encode())
            code = 0
        except BaseException as error:  # reported to the parent, which fails the test with it
            os.write(writer, json.dumps({"error": repr(error)}).encode())
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, "rb") as stream:
        data = stream.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result["error"]
    return result["ok"]


def run_inside(merged: str, script: str) -> str:
    """`sh -c script` chrooted into the merged image: the image's own busybox runs it."""
    return subprocess.run(
        ["/bin/sh", "-c", script],
        preexec_fn=lambda: (os.chroot(merged), os.chdir("/")),
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/bin"},
    ).stdout


def look_at_whiteouts(merged: str) -> dict[str, Any]:
    return {
        "exists": {path: os.path.lexists(os.path.join(merged, path)) for path in (*HIDDEN, "data/three", "etc")},
        "data": sorted(os.listdir(os.path.join(merged, "data"))),
        "shell": run_inside(merged, "cat /data/three; ls /data; test -e /etc/motd || echo motd-gone"),
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with store_root(tmp_path) as root:
        yield Store(str(root))


def test_whiteouts_hide_files_through_a_real_overlay(store: Store, tmp_path: Path) -> None:
    image = store.resolve(str(busybox_two_layers(tmp_path / "two.tar")))
    lowest, highest = image.layers
    assert (Path(lowest) / "etc/motd").read_bytes() == MOTD
    assert os.getxattr(Path(highest) / "data", "trusted.overlay.opaque") == b"y"
    merged = tmp_path / "merged"
    merged.mkdir()
    seen = in_mount_namespace([highest, lowest], str(merged), look_at_whiteouts)
    assert seen["exists"] == {"etc/motd": False, "data/one": False, "data/two": False, "data/three": True, "etc": True}
    assert seen["data"] == ["three"]
    assert seen["shell"] == "from layer 2\nthree\nmotd-gone\n"
    # Without the top layer, the lower one still has everything: the whiteout hides, it does not delete.
    empty = tmp_path / "empty"
    empty.mkdir()
    seen = in_mount_namespace([str(empty), lowest], str(merged), look_at_whiteouts)
    assert seen["data"] == ["one", "two"] and seen["exists"]["etc/motd"]


def look_at_busybox(merged: str) -> dict[str, Any]:
    return {
        "tmp": stat.S_IMODE(os.stat(os.path.join(merged, "tmp")).st_mode),
        "shell": run_inside(merged, "echo hello from $(readlink /bin/sh); id -un; grep -c . /etc/passwd"),
    }


def test_busybox_builds_runs_and_is_the_same_every_time(tmp_path: Path) -> None:
    first = Store(str(tmp_path / "one")).resolve("busybox")
    second = Store(str(tmp_path / "two")).resolve("busybox")
    assert first.id == second.id and first.config.cmd == ("sh",)
    listing = subprocess.run(
        ["diff", "-r", "--no-dereference", first.layers[0], second.layers[0]], capture_output=True, check=False
    )
    assert listing.returncode == 0, listing.stdout
    merged = tmp_path / "merged"
    merged.mkdir()
    # overlayfs mounts read-only without an upper directory only with two lower ones: an empty one on top.
    empty = tmp_path / "empty"
    empty.mkdir()
    seen = in_mount_namespace([str(empty), first.layers[0]], str(merged), look_at_busybox)
    assert seen == {"tmp": 0o1777, "shell": "hello from busybox\nroot\n2\n"}


def test_as_root_device_nodes_and_owners_are_kept(store: Store, tmp_path: Path) -> None:
    layer = {
        "dev/null": Device(1, 3),
        "dev/loop9": Device(7, 9, "b", 0o660),
        "home/user/file": File(b"mine\n", 0o4750, uid=1000, gid=1000),
    }
    image = store.resolve(str(docker_save(tmp_path / "dev.tar", [layer])))
    root = Path(image.layers[0])
    null = os.lstat(root / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = os.lstat(root / "dev/loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9)
    owned = os.lstat(root / "home/user/file")
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1000, 1000, 0o4750)


@pytest.mark.usefixtures("unprivileged_userns")
def test_without_root_whiteouts_work_with_userxattr(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    """A user's store (rootless): whiteouts are still 0:0 devices (the kernel lets anyone make those), an opaque
    directory carries user.overlay.opaque, and overlayfs mounted with `userxattr` in the user's own user
    namespace hides what it must, as rootless podman's does."""
    # Not in tmp_path: /tmp/pytest-of-root is root's only. Not on an overlayfs (the VM stage's /tmp).
    shm = filesystem_of(Path(tempfile.gettempdir())) == "overlay"
    home = tempfile.mkdtemp(prefix="isodemo-images-test-", dir="/dev/shm" if shm else None)
    try:
        try:
            os.setxattr(home, "user.isodemo-test", b"1")
        except OSError:
            pytest.skip(f"{home}: no user.* xattrs on this filesystem (tmpfs has them from Linux 6.6)")
        os.chmod(home, 0o755)
        tarball = busybox_two_layers(Path(home) / "two.tar")
        os.chown(home, test_user.uid, test_user.gid)
        as_user = ["setpriv", f"--reuid={test_user.uid}", f"--regid={test_user.gid}", "--clear-groups"]
        env = {**any_user_env, "ISODEMO_STORE": f"{home}/store", "HOME": home}
        probe = (
            "import os; from isodemo.images import Store; image = Store().resolve(os.environ['TARBALL']);"
            "print(':'.join(reversed(image.layers)))"
        )
        lowers = subprocess.run(
            [*as_user, sys.executable, "-c", probe],
            env={**env, "TARBALL": str(tarball)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        highest = lowers.split(":")[0]
        assert os.getxattr(f"{highest}/data", "user.overlay.opaque") == b"y"
        assert stat.S_ISCHR(os.lstat(f"{highest}/etc/motd").st_mode)
        merged = Path(home) / "merged"
        merged.mkdir()
        os.chown(merged, test_user.uid, test_user.gid)
        script = f"mount -t overlay overlay -o lowerdir={lowers},userxattr {merged} && ls {merged}/data {merged}/etc"
        seen = subprocess.run(
            [*as_user, "unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert seen.split() == [f"{merged}/data:", "three", f"{merged}/etc:", "group", "passwd"]
    finally:
        shutil.rmtree(home)


def import_into(merged: str) -> str:
    """In the child: import an image with a whiteout into a store inside the overlay; the error it gives."""
    from isodemo.errors import ImageError

    try:
        Store(f"{merged}/store").resolve(f"{merged}/wh.tar")
    except ImageError as error:
        return f"{error.message} | {error.hint}"
    return "imported"


def test_a_store_on_an_overlayfs_is_refused_clearly(store: Store) -> None:
    """Through an overlayfs, a 0:0 device cannot be made (or becomes the overlay's own whiteout): say so."""
    base = Path(store.root).parent  # not itself on an overlayfs: an upper directory cannot be on one
    lower, upper, merged = base / "lower", base / "rw", base / "merged"
    for directory in (lower, upper / "upper", upper / "work", merged):
        directory.mkdir(parents=True)
    docker_save(lower / "wh.tar", [{"etc/motd": b"x"}, {"etc/motd": WHITEOUT}])
    said = in_mount_namespace([str(lower)], str(merged), import_into, upper=str(upper))
    assert "cannot keep the whiteout etc/.wh.motd" in said and "ISODEMO_STORE" in said, said


def test_device_nodes_never_carry_setuid_bits(store: Store, tmp_path: Path) -> None:
    """Device nodes are made as the image has them (Docker does; the container's device cgroup decides what
    may be opened), but with their permission bits only: setuid, setgid and sticky mean nothing on a device
    or a FIFO and are dropped, also when a hard link brings them."""
    layer: dict[str, Entry] = {
        "dev/mem": Device(1, 1, "c", 0o4666),
        "dev/sda": Device(8, 0, "b", 0o6660),
        "dev/again": Device(1, 3, "c", 0o640),
        "dev/linked": HardLink("dev/again", mode=0o4777),
        "run/pipe": Fifo(0o7644),
    }
    root = Path(store.resolve(str(docker_save(tmp_path / "suid-dev.tar", [layer]))).layers[0])
    found = {name: os.lstat(root / name) for name in ("dev/mem", "dev/sda", "dev/again", "run/pipe")}
    assert stat.S_ISCHR(found["dev/mem"].st_mode) and found["dev/mem"].st_rdev == os.makedev(1, 1)
    assert stat.S_ISBLK(found["dev/sda"].st_mode) and found["dev/sda"].st_rdev == os.makedev(8, 0)
    assert {name: stat.S_IMODE(info.st_mode) for name, info in found.items()} == {
        "dev/mem": 0o666,
        "dev/sda": 0o660,
        "dev/again": 0o777,  # the hard link's mode, as tar gives it, without its setuid bit
        "run/pipe": 0o644,
    }


def test_a_host_user_cannot_reach_the_stores_layers_or_containers(tmp_path: Path) -> None:
    """An image's setuid files are no host user's to run: as `nobody`, neither layers/ nor containers/ can be
    listed, and nothing in a layer can be reached by its path. The store's root itself is 0711: a --userns
    container's root (uid 100000) passes through it to its own directory."""
    from isodemo.container.overlay import ContainerDirs

    parent = Path(tempfile.mkdtemp(prefix="isodemo-images-modes-", dir=_shared_tmp()))
    try:
        os.chmod(parent, 0o755)  # mkdtemp's 0700 would hide the store whatever its own modes
        store = Store(str(parent / "store"))
        image = store.resolve(str(docker_save(parent / "suid.tar", [{"bin/su": File(b"#!/bin/sh\n", 0o4755)}])))
        suid = Path(image.layers[0]) / "bin/su"
        assert os.stat(suid).st_mode & stat.S_ISUID
        with ContainerDirs(store.containers_dir, "isodemo-abcdef-ctr") as dirs:
            Path(dirs.merged, "probe").write_bytes(b"x")
            assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o711
            assert stat.S_IMODE(os.stat(Path(store.root) / "layers").st_mode) == 0o700
            nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            script = 'for p in "$@"; do ls "$p" >/dev/null 2>&1 && echo "listed $p"; done; ' + (
                f'test -e {suid} && echo "reached {suid}"; cat {suid} >/dev/null 2>&1 && echo "read {suid}"; true'
            )
            seen = subprocess.run(
                [*nobody, "/bin/sh", "-c", script, "sh", f"{store.root}/layers", store.containers_dir],
                capture_output=True,
                text=True,
                check=True,
            )
            assert seen.stdout == "", seen.stdout
            passes = subprocess.run([*nobody, "test", "-d", f"{store.root}/."], check=False)
            assert passes.returncode == 0, "the store's root must be passable (0711)"
    finally:
        shutil.rmtree(parent)


def _shared_tmp() -> str:
    """A directory every user can pass through, not on an overlayfs (the VM stage's /tmp is one)."""
    return "/dev/shm" if filesystem_of(Path(tempfile.gettempdir())) == "overlay" else tempfile.gettempdir()
