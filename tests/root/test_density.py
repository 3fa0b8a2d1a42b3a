"""`isodemo bench --density N`: N real containers, every one checked, all torn down; Ctrl-C in the middle
and SIGKILL then `isodemo cleanup` leave nothing (the host-invariant fixture checks the host after each)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from tests.conftest import isodemo_argv, run_isodemo
from tests.root.holding import wait_gone

VETH = re.compile(r"^iso([0-9a-f]{6})[0-9a-f]{4}$")


def test_density_50_starts_checks_and_tears_down_every_container() -> None:
    result = run_isodemo("bench", "--density", "50", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["containers"] == 50
    assert facts["pings_answered"] == 50
    assert facts["pid1_in_cgroup"] == 50
    assert 0 < facts["start_seconds"] < 30
    assert len(facts["per_container_ms_by_decile"]) == 10
    assert all(ms > 0 for ms in facts["per_container_ms_by_decile"])
    assert facts["growth"] > 0
    assert 0 < facts["cgroup_memory_per_container_bytes"] < 16 << 20
    assert facts["memory_per_container_bytes"] >= 0
    assert facts["teardown_seconds"] > 0
    assert facts["leftovers"] == []
    assert result.json["leftovers"] == []


def test_density_refuses_more_than_fit() -> None:
    from isodemo.density import plan
    from isodemo.density import run as density

    fit = plan.fits(density.mem_available(), density.pids_free())
    assert fit < plan.MAX_COUNT, "this machine holds 16000: nothing to refuse"
    asked = min(fit + 1000, plan.MAX_COUNT)  # memory moves a little meanwhile
    result = run_isodemo("bench", "--density", str(asked), "--json")
    assert result.code == 2, result.stderr
    assert "at most" in result.json["error"]["message"]
    assert result.json["leftovers"] == []
    beyond = run_isodemo("bench", "--density", "16001", "--json")
    assert beyond.code == 2, beyond.stderr


def _wait_for_containers(proc: subprocess.Popen[str], count: int, timeout: float = 60) -> str:
    """The run id, once `count` veth host ends of the run exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: dict[str, int] = {}
        for name in os.listdir("/sys/class/net"):
            if match := VETH.match(name):
                found[match[1]] = found.get(match[1], 0) + 1
        for run_id, seen in found.items():
            if seen >= count:
                return run_id
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    raise AssertionError(f"no run reached {count} containers")


def _left_of(run_id: str) -> list[str]:
    links = [name for name in os.listdir("/sys/class/net") if run_id in name]
    processes = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    named = f.read().strip() == f"isodemo-{run_id}"
                with open(f"/proc/{entry}/stat") as f:
                    zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"  # dead, its reaper not yet come
            except OSError:
                continue
            if named and not zombie:
                processes.append(entry)
    return links + processes


def _start(count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        isodemo_argv("bench", "--density", str(count), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_ctrl_c_in_the_middle_leaves_nothing() -> None:
    proc = _start(400)
    run_id = _wait_for_containers(proc, 30)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert _left_of(run_id) == []
    still = run_isodemo("cleanup", "--dry-run", "--json")
    assert [item for item in still.json["facts"]["found"] if run_id in item] == []


def test_sigkill_then_cleanup_leaves_nothing() -> None:
    proc = _start(400)
    run_id = _wait_for_containers(proc, 30)
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while [item for item in _left_of(run_id) if not item.isdigit() and VETH.match(item)]:
        assert time.monotonic() < deadline, "the veth pairs outlived their namespaces"
        time.sleep(0.01)
    assert wait_gone([int(pid) for pid in _left_of(run_id) if pid.isdigit()]) == []  # PR_SET_PDEATHSIG
    started = time.monotonic()
    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stderr
    assert time.monotonic() - started < 30
    assert _left_of(run_id) == []
    still = run_isodemo("cleanup", "--dry-run", "--json")
    assert [item for item in still.json["facts"]["found"] if run_id in item] == []
