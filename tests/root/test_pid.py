"""`isodemo pid` as root: every required fact observed, both views agree with independent observers."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.conftest import run_isodemo
from tests.root.holding import Held


def test_pid_facts() -> None:
    result = run_isodemo("--json", "pid")
    assert result.code == 0, result.stderr
    report = result.json
    assert report["ok"] is True and report["error"] is None and report["leftovers"] == []
    facts = report["facts"]
    assert facts["inside_pid"] == 1
    assert facts["nspid"] == [facts["host_pid"], 1]
    assert facts["pidns_inode_inside"] != facts["pidns_inode_host"]
    assert facts["pidns_inode_host"] == os.stat("/proc/self/ns/pid").st_ino
    assert facts["procs_visible_inside"] <= 2
    assert facts["procs_visible_on_host"] > facts["procs_visible_inside"]
    assert facts["orphan_reaped_by_pid1"] is True
    assert facts["sigterm_ignored_by_pid1"] is True
    assert facts["killing_pid1_kills_all"] is True
    assert facts["namespace_members_before_kill"] == 4
    # the child is gone once the demo has ended
    assert (
        not os.path.exists(f"/proc/{facts['host_pid']}")
        or os.stat(f"/proc/{facts['host_pid']}/ns/pid").st_ino != facts["pidns_inode_inside"]
    )
    for step in report["steps"]:
        assert step["title"] and isinstance(step["syscalls"], list) and isinstance(step["shell"], list)
        assert all(claim["holds"] for claim in step["claims"])


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_plain_and_json_carry_the_same_facts() -> None:
    plain = run_isodemo("pid", "--plain")
    as_json = run_isodemo("pid", "--json")
    assert plain.code == as_json.code == 0
    plain_keys = set(re.findall(r"^\s+fact (\w+) = ", plain.stdout, re.MULTILINE))
    assert plain_keys == set(as_json.json["facts"])
    assert "syscall: unshare(CLONE_NEWPID|CLONE_NEWNS)" in plain.stdout
    assert "Kubernetes:" in plain.stdout and "shareProcessNamespace" in plain.stdout


def test_hold_agrees_with_lsns_readlink_and_nspid() -> None:
    held = Held("pid", "--json")
    try:
        pid1 = held.info["pids"]["pid1"]
        assert set(held.info) >= {"pids", "cgroups", "netns"}
        link = os.readlink(f"/proc/{pid1}/ns/pid")
        inode = int(link.removeprefix("pid:[").removesuffix("]"))
        lsns = json.loads(
            subprocess.run(
                ["lsns", "--json", "-t", "pid", "-p", str(pid1)], capture_output=True, text=True, check=True
            ).stdout
        )
        lsns_inode = int(lsns["namespaces"][0]["ns"])
        with open(f"/proc/{pid1}/status") as f:
            nspid = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
    finally:
        code, out, err = held.release("enter")
    assert code == 0, err
    facts = json.loads(out.strip().splitlines()[-1])["facts"]
    assert lsns_inode == inode == facts["pidns_inode_inside"]
    assert [int(p) for p in nspid] == facts["nspid"] == [pid1, 1]
