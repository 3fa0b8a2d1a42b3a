"""`isodemo ipc` as root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_isodemo


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_ipc_facts() -> None:
    result = run_isodemo("ipc", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["queue_visible_on_host"] is True
    assert facts["queue_visible_inside"] is False
    assert facts["inside_queue_visible_on_host"] is False
    assert facts["ipcns_inode_host"] != facts["ipcns_inode_inside"]
    key = int(facts["host_queue_key"], 16)
    listed = [int(line.split()[0]) & 0xFFFFFFFF for line in Path("/proc/sysvipc/msg").read_text().splitlines()[1:]]
    assert key not in listed, "the host queue must be removed when the demo ends"
