"""`isodemo healing` as root: restartPolicy, CrashLoopBackOff, OOMKilled, liveness and readiness on real
containers, every fact checked; nothing is left behind (the conftest's host invariants). The whole demo runs on
the host only (host_only); the VM stage runs the small OOM test, the part that differs between cgroup v1 and v2."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from isodemo.cluster import kubelet
from isodemo.demos.healing import CASES, MEMORY_LIMIT
from isodemo.kube import restarts
from isodemo.pod import containers
from tests.conftest import run_isodemo

REASONS = {"crash": "Error", "done": "Completed", "oom": "OOMKilled"}


def _facts(*args: str, timeout: float = 300) -> dict[str, object]:
    result = run_isodemo("healing", *args, "--json", timeout=timeout)
    assert result.code == 0, (result.stdout[-3000:], result.stderr[-3000:])
    report = result.json
    assert report["leftovers"] == []
    facts: dict[str, object] = report["facts"]
    return facts


def test_oom_killed_reason_from_the_memory_cgroup(capsys: pytest.CaptureFixture[str]) -> None:
    """What differs between cgroup v1 and v2 (memory.oom_control against memory.events): not host_only, the
    cgroup v2 VM stage runs it too, so it is small: two containers under the kubelet's restart loop
    (restartPolicy Never), one its 16 MiB memory limit kills, one that exits 1. OOMKilled only for the one whose
    cgroup counted an OOM kill, read from the file of this cgroup version before the cgroup is removed."""
    from isodemo.runner import GlobalOptions, execute

    seen: dict[str, Any] = {}

    def body(narrator: Any, ctx: Any) -> None:
        def starter(case: str, resources: dict[str, int]) -> Any:
            def start() -> Any:
                container = containers.start(ctx, f"healing-{case}", CASES[case], join={}, hostname=case, **resources)
                seen["version"] = container.cgroup.version
                return container

            return start

        loop = kubelet.RestartLoop(speed=10)
        try:
            limit = {"memory": MEMORY_LIMIT, "memory_swap": MEMORY_LIMIT}
            items = {
                case: loop.add(case, restarts.NEVER, starter(case, res), 0)
                for case, res in (("oom", limit), ("crash", {}))
            }
            seen["finished"] = loop.run(timeout=120)
        finally:
            loop.close()
        seen["exits"] = {case: item.exits for case, item in items.items()}

    code = execute("healing", GlobalOptions(json=True), body, needs_root=True)
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert code == 0, out[-3000:]
    assert report["leftovers"] == []
    assert seen["finished"] is True
    oom, crash = seen["exits"]["oom"], seen["exits"]["crash"]
    assert len(oom) == 1 and len(crash) == 1  # Never: no restart
    wanted = {2: ("memory.events",), 1: ("memory.oom_control", "memory.failcnt")}[seen["version"]]
    assert os.path.basename(oom[0].oom_file) in wanted, oom[0]
    assert (oom[0].code, oom[0].reason) == (137, restarts.OOM_KILLED) and oom[0].oom_kills >= 1, oom[0]
    assert (crash[0].code, crash[0].reason, crash[0].oom_kills) == (1, restarts.ERROR, 0), crash[0]


@pytest.mark.host_only
def test_healing_facts() -> None:
    facts = _facts()
    assert facts["speed"] == 10.0
    cap = facts["restart_cap"]
    assert cap == 2
    assert facts["policy_results"] == {
        "Always": {"crash": cap, "done": cap, "oom": cap},
        "OnFailure": {"crash": cap, "done": 0, "oom": cap},
        "Never": {"crash": 0, "done": 0, "oom": 0},
    }
    assert facts["reasons"] == REASONS
    # measured waits at real scale, the first restart (immediate) left out: 10, 20, 40 s
    backoff = facts["backoff_seconds"]
    assert isinstance(backoff, list) and len(backoff) == facts["crash_loop_restarts"] - 1 >= 2
    for measured, expected in zip(backoff, restarts.schedule(len(backoff)), strict=True):
        assert abs(measured - expected) <= 5.0 + 0.1 * expected, backoff
    measured_scaled = facts["backoff_measured_seconds"]
    assert isinstance(measured_scaled, list) and measured_scaled[0] < 0.5
    assert facts["backoff_matches_schedule"] is True
    assert facts["liveness_restarts"] == 1
    old, new = facts["liveness_pids"]
    assert old != new and new > 0
    assert facts["readiness_removed_without_restart"] is True
    answers = facts["readiness_answers"]
    assert isinstance(answers, dict)
    assert len(answers["not_ready"]) == 1 and sum(answers["not_ready"].values()) == 20
    assert len(answers["before"]) == 2 and len(answers["ready_again"]) == 2
    before, after = facts["readiness_pids"]
    assert before == after


@pytest.mark.host_only
def test_backoff_reaches_the_cap_at_speed_100() -> None:
    """At --speed 100 the crash loop goes on until the wait stops doubling: 160 s, then 300 s (the cap)."""
    facts = _facts("--speed", "100")
    backoff = facts["backoff_seconds"]
    assert isinstance(backoff, list) and len(backoff) >= 6
    assert backoff[-1] == pytest.approx(300, abs=30) and backoff[-2] == pytest.approx(160, abs=30)
    assert facts["backoff_matches_schedule"] is True
    assert facts["liveness_restarts"] == 1
    assert facts["readiness_removed_without_restart"] is True


@pytest.mark.host_only
@pytest.mark.parametrize("speed", ["0", "0.5", "101", "fast"])
def test_bad_speed_exits_2(speed: str) -> None:
    result = run_isodemo("healing", "--speed", speed)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "--speed" in result.stderr
