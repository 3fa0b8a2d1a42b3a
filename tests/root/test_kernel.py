"""The kernel wrappers against the real kernel: setns, namespace identity, errors that keep their errno."""

from __future__ import annotations

import errno
import os

import pytest

from isodemo import probes
from isodemo.isolated import Isolated
from isodemo.kernel import mount, namespaces


def _hostname_after_setns(pid: int) -> str:
    """In a forked child: join the UTS namespace of `pid` with setns(2), report the hostname seen there."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            fd = os.open(namespaces.ns_path(pid, "uts"), os.O_RDONLY)
            namespaces.setns(fd, namespaces.CLONE_NEWUTS)
            os.write(write_end, probes.hostname().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    seen = os.read(read_end, 256).decode()
    os.close(read_end)
    os.waitpid(child, 0)
    return seen


def test_setns_joins_the_childs_uts_namespace() -> None:
    with Isolated(["uts"]) as box:
        box.call(probes.sethostname, "isodemo-setns")
        assert _hostname_after_setns(box.pid) == "isodemo-setns"
        assert probes.hostname() != "isodemo-setns"


def test_namespace_identity_from_both_sides() -> None:
    with Isolated(["ipc", "uts"]) as box:
        for ns in ("ipc", "uts"):
            assert box.call(probes.namespace_inode, ns) == namespaces.ns_inode(box.pid, ns)
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
        assert box.call(probes.my_pid) == box.pid  # still serving after an error
