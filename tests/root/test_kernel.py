"""The kernel wrappers against the real kernel: setns, namespace identity, errors that keep their errno."""

from __future__ import annotations

import errno
import importlib.abc
import os
import sys
from pathlib import Path

import pytest

from isodemo.isolated import Isolated
from isodemo.kernel import mount, namespaces, process


def _hostname_after_setns(pid: int) -> str:
    """In a forked child: join the UTS namespace of `pid` with setns(2), report the hostname seen there."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            fd = os.open(namespaces.ns_path(pid, "uts"), os.O_RDONLY)
            namespaces.setns(fd, namespaces.CLONE_NEWUTS)
            os.write(write_end, process.gethostname().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    seen = os.read(read_end, 256).decode()
    os.close(read_end)
    os.waitpid(child, 0)
    return seen


def test_setns_joins_the_childs_uts_namespace() -> None:
    with Isolated(["uts"]) as box:
        box.call(process.sethostname, "isodemo-setns")
        assert _hostname_after_setns(box.pid) == "isodemo-setns"
        assert process.gethostname() != "isodemo-setns"


def test_namespace_identity_from_both_sides() -> None:
    with Isolated(["ipc", "uts"]) as box:
        for ns in ("ipc", "uts"):
            assert box.call(namespaces.ns_inode, "self", ns) == namespaces.ns_inode(box.pid, ns)
            assert namespaces.ns_inode(box.pid, ns) != namespaces.ns_inode("self", ns)
        assert namespaces.ns_inode(box.pid, "net") == namespaces.ns_inode("self", "net")


def test_mount_errors_keep_their_errno() -> None:
    with pytest.raises(OSError) as caught:
        mount.umount2("/nonexistent-isodemo-path")
    assert caught.value.errno == errno.ENOENT


def test_child_exceptions_cross_the_channel() -> None:
    with Isolated(["uts"]) as box:
        with pytest.raises(FileNotFoundError):
            box.call(os.stat, "/nonexistent-isodemo-path")
        assert box.call(os.getpid) == box.pid  # still serving after an error


class _NoImportsNow(importlib.abc.MetaPathFinder):
    """Refuses every import not done yet: where a helper that dropped to nobody may not read the source."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        raise ImportError(f"{fullname} imported after the fork")


@pytest.mark.usefixtures("unprivileged_userns")  # the helper drops to nobody, then unshares
def test_helper_and_child_import_nothing_after_the_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path of the helper (drop to a user, user namespace and its maps, time offsets, a private /) and
    a call in the child: all they need was imported before the fork."""
    if "time" not in namespaces.available_types():
        pytest.skip("no time namespaces on this kernel (Linux 5.6+)")
    # (A helper that dropped from root is not dumpable: its /proc/self/timens_offsets is root's, so the time
    # namespace goes in a box of its own.)
    boxes = [
        lambda: Isolated(["user", "uts", "mnt", "pid"], as_user=(65534, 65534), before_unshare=lambda pid: None),
        lambda: Isolated(["user", "time"], time_offsets={"monotonic": 86400}),
    ]
    for make in boxes:  # the parent's own first uses (a pickle of os.getpid) before the imports stop
        with make() as box:
            box.call(os.getpid)
    monkeypatch.setattr(sys, "meta_path", [_NoImportsNow(), *sys.meta_path])
    for make in boxes:
        with make() as box:
            assert box.call(os.getpid) in (1, box.pid)
            assert box.user_report["uid_before_map"] == 65534  # the overflow uid: it paused for its maps


@pytest.mark.host_only  # the same on cgroup v1 and v2
def test_detaching_a_loop_device_that_detached_itself_is_not_an_error(tmp_path: Path) -> None:
    """cleanup may find a loop device just before autoclear detaches it (its last user closed it): LOOP_CLR_FD
    then fails with ENXIO, and the device is gone, as wanted."""
    from isodemo.kernel.loop import LoopDevice, detach

    backing = tmp_path / "disk.img"
    backing.write_bytes(b"\0" * (1 << 20))
    with LoopDevice(str(backing)) as loop:
        device = loop.path
    detach(device)  # no longer bound: nothing to do, no error
