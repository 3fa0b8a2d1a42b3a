"""`isodemo cgroupns` as root, on whichever hierarchy this machine has (v1 here, v2 in the VM stage)."""

from __future__ import annotations

import os
import posixpath

from isodemo.kernel import procfs
from tests.conftest import run_isodemo
from tests.root.users import run_as_nobody


def test_cgroupns_facts() -> None:
    result = run_isodemo("cgroupns", "--json")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["cgroup_inside"] == "/"
    name = os.path.basename(facts["cgroup_path"])
    assert name.startswith("isodemo-") and name.endswith("-box")
    assert facts["cgroup_seen_from_host"].endswith("/" + name)
    key = "" if facts["cgroup_version"] == 2 else "memory"
    own = procfs.cgroup("self")[key]  # isodemo, our child, was in the same cgroup as this test
    box = facts["cgroup_seen_from_host"]
    assert box == os.path.join(own if facts["cgroup_version"] == 1 else "/isodemo", name)
    assert facts["parent_cgroup_seen_inside"] == "/" + posixpath.relpath(own, box)
    assert facts["parent_cgroup_seen_inside"].startswith("/..")
    assert facts["cgroupns_inode_host"] != facts["cgroupns_inode_inside"]
    assert len(facts["cgroupfs_root_procs_inside"]) == 2  # the helper and the child
    assert facts["host_cgroup_mounts_added"] == []  # checked against the host's mount table, before and after
    assert not os.path.exists(facts["cgroup_path"])
    assert result.json["leftovers"] == []


def test_cgroupns_needs_root(any_user_env: dict[str, str]) -> None:
    result = run_as_nobody(["cgroupns", "--plain"], any_user_env)
    assert result.code == 77 and "sudo isodemo cgroupns --plain" in result.stderr
