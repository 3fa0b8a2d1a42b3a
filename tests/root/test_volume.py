"""`isodemo volume` as root: every fact, the propagation proven from /proc/PID/mountinfo, and nothing left behind
after SIGINT, SIGKILL (then `isodemo cleanup`) or a run in a mount namespace whose / is shared."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys

import pytest

from isodemo.kernel import procfs
from tests.conftest import REPO, run_isodemo
from tests.root.holding import Held

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")


def _run_ids_left(run_id: str) -> list[str]:
    left = glob.glob(f"/tmp/isodemo-{run_id}-*")
    left += [e.mount_point for e in procfs.mountinfo() if f"isodemo-{run_id}" in e.mount_point]
    return left


def test_memory_medium_counts_against_the_limit(image_store: str) -> None:
    """cgroup-version dependent (memory.current / memory.usage_in_bytes, memory.events / memory.oom_control):
    not host_only, the cgroup v2 VM stage runs it too."""
    result = run_isodemo("volume", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["memory_medium_charged_bytes"] >= 6 << 20
    assert facts["memory_medium_oom_exit"] == 137
    assert facts["memory_medium_oom_kills"] >= 1
    assert facts["memory_medium_size_bytes"] == 64 << 20  # min(MemTotal, the pod's 2 x 32Mi, no sizeLimit)
    assert result.json["leftovers"] == []


@pytest.mark.host_only
def test_volume_facts(image_store: str) -> None:
    result = run_isodemo("volume", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["emptydir_shared_ok"] is True
    assert facts["subpath_only_ok"] is True
    assert facts["hostpath_readonly_errno"] == "EROFS"
    assert facts["propagation_seen"] == {"None": False, "HostToContainer": True, "Bidirectional": True}
    assert facts["bidirectional_reaches_host"] is True
    assert facts["emptydir_removed_with_pod"] is True
    tags = facts["propagation_tags"]
    assert tags["None"] == "private"
    assert tags["HostToContainer"].startswith("master:")
    assert tags["Bidirectional"].startswith("shared:")
    assert tags["HostToContainer"].split(":")[1] == tags["Bidirectional"].split(":")[1]


def _optional(pid: int, path: str) -> set[str]:
    found = [e for e in procfs.mountinfo(pid) if e.mount_point == path]
    assert found, f"nothing mounted at {path} in {pid}"
    return {tag.split(":")[0] + ":" + tag.split(":")[1] for tag in found[-1].optional if ":" in tag}


@pytest.mark.host_only
def test_propagation_seen_in_mountinfo(image_store: str) -> None:
    """While held: the host's shared bind is peer group N; the HostToContainer volume is master:N, the
    Bidirectional one shared:N, the None one neither; the host's and the container's mounts are there."""
    held = Held("volume", "--json")
    try:
        node = held.info["paths"]["node"]
        shared = os.path.join(node, "shared")
        host = _optional(os.getpid(), shared)
        group = next(tag for tag in host if tag.startswith("shared:")).split(":")[1]
        pids = held.info["pids"]
        assert _optional(pids["propagation-None"], "/mnt/shared") & {f"shared:{group}", f"master:{group}"} == set()
        assert f"master:{group}" in _optional(pids["propagation-HostToContainer"], "/mnt/shared")
        assert f"shared:{group}" in _optional(pids["propagation-Bidirectional"], "/mnt/shared")
        mounted = {e.mount_point for e in procfs.mountinfo()}
        assert os.path.join(shared, "from-host") in mounted
        assert os.path.join(shared, "from-ctr") in mounted  # made inside the Bidirectional container
        inside = {e.mount_point for e in procfs.mountinfo(pids["propagation-None"])}
        assert "/mnt/shared/from-host" not in inside
        run_id = held.info["run"]
    finally:
        code, out, err = held.release("sigint")
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["leftovers"] == []
    assert _run_ids_left(run_id) == []


@pytest.mark.host_only
def test_sigint_in_the_middle_leaves_nothing(image_store: str) -> None:
    result = run_isodemo("volume", "--json", env={"ISODEMO_TESTPOINT": "step#9:SIGINT"})
    assert result.code == 130, result.stderr
    assert result.json["leftovers"] == []


@pytest.mark.host_only
def test_sigkill_then_cleanup_removes_everything(image_store: str, isodemo_cleanup_first: None) -> None:
    held = Held("volume", "--json")
    run_id = held.info["run"]
    assert _run_ids_left(run_id)  # the kubelet dir, the node dir, the tmpfs, the shared bind...
    held.proc.send_signal(signal.SIGKILL)
    held.proc.communicate(timeout=60)
    cleanup = run_isodemo("cleanup", "--json")
    assert cleanup.code == 0, cleanup.stderr
    assert _run_ids_left(run_id) == []
    removed = " ".join(cleanup.json["facts"]["removed"])
    assert f"volume directory /tmp/isodemo-{run_id}-kubelet" in removed


@pytest.mark.host_only
def test_no_leak_where_the_root_mount_is_shared(image_store: str) -> None:
    """On systemd machines / is shared, and the Bidirectional container's / is rshared: none of the containers'
    mounts may come back into a namespace whose / is shared (runc's rootfsParentMountPrivate)."""
    out = f"/tmp/isodemotest-volume-shared-{os.getpid()}.json"
    # counted before and after: other runs' mounts (a test running at the same time) are copied in too
    script = (
        "before=$(grep -c isodemo /proc/self/mountinfo); "
        f"{sys.executable} -m isodemo volume --json > {out}; code=$?; "
        "echo $(( $(grep -c isodemo /proc/self/mountinfo) - before )); exit $code"
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "shared", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    try:
        with open(out) as f:
            report = json.load(f)
    finally:
        os.unlink(out)
    assert proc.returncode == 0, proc.stderr
    assert report["facts"]["propagation_seen"] == {"None": False, "HostToContainer": True, "Bidirectional": True}
    assert proc.stdout.strip() == "0", "a mount of the demo stayed in the shared namespace"


@pytest.mark.host_only
def test_run_volume_with_propagation(image_store: str) -> None:
    """`isodemo run -v SRC:DST:rslave`: the volume is a slave of SRC's peer group (SRC made shared here)."""
    source = f"/tmp/isodemotest-volume-src-{os.getpid()}"
    os.mkdir(source)
    try:
        subprocess.run(["mount", "--bind", source, source], check=True)
        try:
            subprocess.run(["mount", "--make-shared", source], check=True)
            result = run_isodemo("run", "-v", f"{source}:/m:rslave", "busybox", "grep", " /m ", "/proc/self/mountinfo")
            assert result.code == 0, result.stderr
            assert "master:" in result.stdout, result.stdout
            plain = run_isodemo("run", "-v", f"{source}:/m", "busybox", "grep", " /m ", "/proc/self/mountinfo")
            assert "master:" not in plain.stdout and "shared:" not in plain.stdout, plain.stdout
        finally:
            subprocess.run(["umount", source], check=True)
    finally:
        os.rmdir(source)
