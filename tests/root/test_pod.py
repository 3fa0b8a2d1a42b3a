"""`isodemo pod` as root: the sandbox, the containers that join it, and what they share, observed from here too."""

from __future__ import annotations

import json
import os
import re

import pytest

from isodemo.kernel import namespaces as kns
from isodemo.kernel import procfs
from tests.conftest import run_isodemo
from tests.root.holding import Held, run_processes, wait_gone


def _ok(*args: str) -> dict[str, object]:
    result = run_isodemo("pod", *args, "--json")
    assert result.code == 0, (result.stdout[-2000:], result.stderr[-2000:])
    report = result.json
    assert report["leftovers"] == []
    facts: dict[str, object] = report["facts"]
    return facts


def test_pod_facts() -> None:
    facts = _ok()
    assert facts["shared_namespaces"] == ["ipc", "net", "uts"]
    own = facts["own_namespaces"]
    assert isinstance(own, list)
    assert {"mnt", "pid"} <= set(own)
    assert not {"ipc", "net", "uts"} & set(own)
    assert isinstance(facts["pause_pid"], int)
    containers = facts["containers"]
    assert isinstance(containers, dict)
    assert set(containers) == {"a", "b"}
    assert facts["pause_pid_inside"] == 1
    assert str(facts["pod_ip"]).startswith("10.200.")
    for key in (
        "localhost_http_ok",
        "ipc_shared_ok",
        "shm_shared_ok",
        "processes_isolated_ok",
        "pod_survives_container",
        "ip_kept_after_restart",
        "pod_gone_after_pause",
        "ping_host_to_pod",
    ):
        assert facts[key] is True, key
    names = facts["hostname_shared"]
    assert isinstance(names, dict)
    assert names["a"] == names["b"] != os.uname().nodename
    assert facts["b_exit_status"] == 137
    assert facts["pause_exit_status"] == 0
    ps = facts["ps"]
    assert isinstance(ps, dict)
    assert ps["a"][0] == "1 httpd" and ps["b"][0] == "1 sleep"
    layout = facts["cgroup_layout"]  # observed in /proc/PID/cgroup by the demo (its claim)
    assert isinstance(layout, dict) and set(layout) == {"pause", "a", "b"}
    pods = {path.rsplit("/", 1)[0] for path in layout.values()}
    assert len(pods) == 1 and re.fullmatch(r"kubepods/besteffort/pod[0-9a-f-]{36}", pods.pop())
    assert all(re.fullmatch(r"[0-9a-f]{64}", path.rsplit("/", 1)[1]) for path in layout.values())


def test_inspect_says_what_pod_says() -> None:
    """`isodemo inspect` of a held pod's containers reports the sharing that the same pod's own JSON facts
    report, and finds the pod and its QoS class from the cgroup path alone (the same inspect is checked
    against a real podman pod in test_inspect_podman.py)."""
    held = Held("pod", "--json")
    seen = {}
    try:
        pids = held.info["pids"]
        for name in ("a", "b"):
            result = run_isodemo("inspect", str(pids[name]), "--json")
            assert result.code == 0, result.stderr[-2000:]
            seen[name] = result.json["facts"]
    finally:
        code, out, err = held.release()
    assert code == 0, err[-2000:]
    facts = json.loads(out)["facts"]
    uid = re.search(r"/pod([0-9a-f-]{36})/", facts["cgroup_layout"]["a"])
    assert uid is not None
    for name, inspected in seen.items():
        assert inspected["runtime"] == "isodemo" and inspected["role"] == "container"
        assert inspected["pod_uid"] == uid[1] and inspected["qos_class"] == "BestEffort"
        assert inspected["shared_namespaces"] == facts["shared_namespaces"], name
        assert inspected["own_namespaces"] == facts["own_namespaces"], name
        assert set(facts["shared_namespaces"]) <= set(inspected["shares_with"][str(facts["pause_pid"])])


@pytest.mark.parametrize("share", [False, pytest.param(True, marks=pytest.mark.host_only)])  # one in the VM
def test_pod_held_seen_from_the_host(share: bool) -> None:
    """With --hold, what the facts claim, checked again from this process: inodes, PID 1, the pinned netns."""
    args = ("pod", *(["--share-processes"] if share else []))
    held = Held(*args)
    try:
        pids = held.info["pids"]
        assert set(pids) == {"pause", "a", "b"}
        pause, a, b = pids["pause"], pids["a"], pids["b"]
        for ns in ("net", "ipc", "uts"):
            assert kns.ns_inode(a, ns) == kns.ns_inode(b, ns) == kns.ns_inode(pause, ns) != kns.ns_inode("self", ns)
        assert len({kns.ns_inode(p, "mnt") for p in (pause, a, b, os.getpid())}) == 4
        assert procfs.nspid(pause)[-1] == 1
        if share:
            assert kns.ns_inode(a, "pid") == kns.ns_inode(b, "pid") == kns.ns_inode(pause, "pid")
            assert procfs.nspid(a)[-1] != 1
        else:
            assert procfs.nspid(a)[-1] == procfs.nspid(b)[-1] == 1
        netns = held.info["netns"][0]
        assert os.stat(f"/run/netns/{netns}").st_ino == kns.ns_inode(pause, "net")
    finally:
        code, _out, err = held.release()
    assert code == 0, err[-2000:]
    assert not wait_gone([pids["pause"], pids["a"], pids["b"]])


@pytest.mark.host_only
@pytest.mark.parametrize("point", ["step#4:SIGINT", "step#9:SIGTERM", "isolated.forked#5:SIGINT"])
def test_pod_interrupted_leaves_nothing(point: str) -> None:
    result = run_isodemo("pod", "--json", env={"ISODEMO_TESTPOINT": point})
    assert result.code == 130, (result.stdout[-1000:], result.stderr[-1000:])
    assert result.json["leftovers"] == []


@pytest.mark.host_only
@pytest.mark.usefixtures("isodemo_cleanup_first")
def test_pod_sigkill_then_cleanup() -> None:
    held = Held("pod", "--json")
    run = held.info["run"]
    pids = [*run_processes(run), *held.info["pids"].values()]
    held.kill()
    assert not wait_gone(pids), "the pod's processes must end with isodemo (PR_SET_PDEATHSIG)"
    before = run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"]
    kinds = {item.split()[0] for item in before if run in item}
    assert {"network", "link", "mount", "cgroup", "container"} <= kinds, before
    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stderr[-2000:]
    after = run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"]
    assert not [item for item in after if run in item]
