"""`isodemo limits` as root, on whichever hierarchy this machine has (v1 hybrid on the host, v2 in the VM):
the kubelet's files read back from the kernel, throttling, weights, the OOM killer's choice, and a nested
kubepods tree that Ctrl-C, SIGTERM and SIGKILL-then-cleanup all leave behind as nothing."""

from __future__ import annotations

import glob
import os
import signal
from pathlib import Path

import pytest

from isodemo import host
from tests.conftest import run_isodemo
from tests.root.holding import Held, wait_gone

MODE = host.probe().cgroup_mode
VERSION = 2 if MODE == "v2" else 1


def _kubepods_left() -> list[str]:
    from isodemo.cgroups import cleanup_candidates

    return [path for path in cleanup_candidates() if path.endswith("-kubepods")]


def test_default_pod() -> None:
    result = run_isodemo("limits", "--json")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["qos_class"] == "Burstable"
    files = facts["cgroup_files"]
    names = {os.path.basename(path) for path in files}
    assert {"cpu.weight", "memory.max"} <= names if VERSION == 2 else {"cpu.shares", "memory.limit_in_bytes"} <= names
    for path, value in files.items():
        assert "-kubepods" in path and path.startswith("/sys/fs/cgroup/"), path
        if value["written"] is not None and "memory" not in os.path.basename(path):
            assert value["read"] == value["written"], path
    if VERSION == 2:
        assert any(p.endswith("/memory.oom.group") and v["read"] == "1" for p, v in files.items())
        assert any(p.endswith("/cpu.max") and v["read"] == "max 100000" for p, v in files.items())
    assert set(facts["oom_score_adj"]) == {"api", "batch", "cache"}
    assert all(3 <= adj <= 999 for adj in facts["oom_score_adj"].values())
    assert facts["throttled_limited"] > 0
    assert facts["throttled_request_only"] == 0
    shares = facts["cpu_share_measured"]
    assert set(shares) == {"batch", "cache"} and shares["batch"] > shares["cache"]
    assert facts["first_oom_victim_qos"] == "BestEffort"
    assert facts["oom_kill_events"] >= 1
    assert result.json["leftovers"] == []
    assert not _kubepods_left()


@pytest.mark.host_only
def test_a_guaranteed_manifest(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: solo}\nspec:\n  containers:\n  - name: only\n"
        "    resources: {limits: {cpu: 250m, memory: 32Mi}}\n"
    )
    result = run_isodemo("limits", "--json", "-f", str(pod))
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["qos_class"] == "Guaranteed"
    assert facts["oom_score_adj"] in ({"only": -997}, {"only": 0})  # 0: no CAP_SYS_RESOURCE to lower it
    pod_files = [p for p in facts["cgroup_files"] if "-kubepods/pod" in p]  # Guaranteed: right under kubepods
    assert pod_files and not any("/burstable/" in p for p in facts["cgroup_files"])
    assert "throttled_request_only" not in facts  # one container: the narration says what it cannot show
    assert facts["first_oom_victim_qos"] == "BestEffort"


@pytest.mark.parametrize("how", [pytest.param("sigint", marks=pytest.mark.host_only), "sigterm"])  # one in the VM
def test_interrupted_while_held_leaves_nothing(how: str) -> None:
    held = Held("limits", "--json")
    cgroups = held.info["cgroups"]
    assert cgroups and all(os.path.isdir(path) for path in cgroups)
    nested = [p for top in cgroups for p in glob.glob(os.path.join(top, "*", "pod*"))]
    assert nested, "the pods are nested under kubepods"
    code, _out, err = held.release(how)
    assert code == 0, err
    assert not any(os.path.exists(path) for path in cgroups)
    assert wait_gone(list(held.info["pids"].values())) == []


def test_sigkill_then_cleanup_removes_the_nested_tree() -> None:
    held = Held("limits", "--json")
    tops = held.info["cgroups"]
    pids = list(held.info["pids"].values())
    held.kill()
    assert wait_gone(pids) == []  # PR_SET_PDEATHSIG ends the containers' processes
    assert any(os.path.isdir(path) for path in tops), "SIGKILL left the tree for cleanup"
    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stdout + done.stderr
    assert not any(os.path.exists(path) for path in tops)
    assert not _kubepods_left()


@pytest.mark.host_only
def test_the_release_of_a_nested_tree_is_depth_first(tmp_path: Path) -> None:
    """cgroups.remove_leftover on a tree with a process deep inside: killed, then every level removed."""
    import subprocess
    import sys

    from isodemo import runs
    from isodemo.cgroups import open_cgroup, remove_leftover

    run = runs.Run.new()
    top = open_cgroup(run, "kubepods", ["memory"], MODE)
    top.create()
    child = top.child("burstable")
    child.create()
    leaf = child.child("pod1")
    leaf.create()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        leaf.add(sleeper.pid)
        remove_leftover(top.path)
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
        assert not any(os.path.exists(p) for p in [*top.paths, *child.paths, *leaf.paths])
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
        for cgroup in (leaf, child, top):
            cgroup.remove()
