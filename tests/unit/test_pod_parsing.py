"""The pure parts of `isodemo pod`: reading busybox's output, classifying namespaces."""

from __future__ import annotations

import pytest

from isodemo.demos.pod import classify
from isodemo.kernel import namespaces as kns
from isodemo.pod import parsing

pytestmark = pytest.mark.host_only


def test_inet_addresses_skip_loopback() -> None:
    text = (
        "1: lo: <LOOPBACK,UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n"
        "5: eth0@if6: <UP> mtu 1500\n    inet 10.200.7.2/24 scope global eth0\n"
    )
    assert parsing.inet_addresses(text) == ["10.200.7.2"]
    assert parsing.inet_addresses("") == []


def test_ps_rows() -> None:
    text = "PID   COMMAND\n    1 httpd\n   18 isodemo-abc123\n   19 ps\n"
    assert parsing.ps_rows(text) == [(1, "httpd"), (18, "isodemo-abc123"), (19, "ps")]


def test_readlinks() -> None:
    assert parsing.readlinks("net:[4026532178]\nmnt:[4026532254]\nnonsense\n") == {
        "net": 4026532178,
        "mnt": 4026532254,
    }


def test_classify() -> None:
    host = {"ipc": 1, "net": 2, "uts": 3, "pid": 4, "mnt": 5, "cgroup": 6}
    pause = {"ipc": 11, "net": 12, "uts": 13, "pid": 14, "mnt": 15, "cgroup": 6}
    a = {**pause, "pid": 24, "mnt": 25}
    b = {**pause, "pid": 34, "mnt": 35}
    assert classify(pause, a, b, host) == {"shared": ["ipc", "net", "uts"], "own": ["mnt", "pid"], "host": ["cgroup"]}
    own_cgroup = classify(pause, {**a, "cgroup": 26}, {**b, "cgroup": 36}, host)  # cgroup v2: the pause has none
    assert own_cgroup["own"] == ["cgroup", "mnt", "pid"] and own_cgroup["host"] == []
    shared_pid = {**pause, "mnt": 25}
    assert classify(pause, shared_pid, {**pause, "mnt": 35}, host)["shared"] == ["ipc", "net", "pid", "uts"]


def test_setns_order_is_runcs() -> None:
    """runc joins every type but user first, in NamespaceTypes' order, then the user namespace."""
    assert kns.SETNS_ORDER[:5] == ("ipc", "uts", "net", "pid", "mnt")
    assert kns.SETNS_ORDER[-1] == "user"
    assert set(kns.SETNS_ORDER) == set(kns.NAMESPACE_TYPES)
