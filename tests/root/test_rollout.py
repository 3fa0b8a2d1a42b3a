"""`isodemo rollout` as root: a Deployment updated behind its Service with Recreate (requests fail) and with
RollingUpdate (none fail, maxSurge and maxUnavailable respected), then `rollout undo`, measured from a client pod.

All host_only: nothing here differs between cgroup v1 and v2 (the pods' cgroups are `isodemo run`'s, tested
there); the VM stage runs `isodemo service`'s small case for the cluster foundation."""

from __future__ import annotations

import pytest

from tests.conftest import run_isodemo


def _facts(*args: str) -> dict[str, object]:
    result = run_isodemo("rollout", *args, "--json")
    assert result.code == 0, (result.stdout[-3000:], result.stderr[-3000:])
    report = result.json
    assert report["leftovers"] == []
    facts: dict[str, object] = report["facts"]
    return facts


@pytest.mark.host_only
def test_rollout_facts() -> None:
    facts = _facts("--replicas", "4")
    recreate_failed = facts["recreate_failed_requests"]
    assert isinstance(recreate_failed, int) and recreate_failed > 0
    assert recreate_failed <= facts["recreate_requests"]  # type: ignore[operator]
    assert facts["recreate_refused"] == recreate_failed  # the node's ICMP rate limit is off: every one refused
    outage = facts["recreate_longest_outage_ms"]
    assert isinstance(outage, float) and 0 < outage < 20000
    assert facts["rolling_failed_requests"] == 0
    assert facts["rolling_requests"] > 0  # type: ignore[operator]
    assert facts["rolling_longest_outage_ms"] == 0.0
    assert facts["rolling_max_surge"] == 1  # 25% of 4, rounded up
    assert facts["rolling_max_unavailable"] == 1  # 25% of 4, rounded down
    assert facts["versions_seen_during_rolling"] == ["v1", "v2"]
    assert facts["rolling_max_pods_seen"] == 5  # the surge was used
    assert facts["rolling_min_available_seen"] == 3  # and the unavailable budget
    assert facts["undo_ok"] is True
    assert facts["undo_revision"] == 3
    assert facts["undo_failed_requests"] == 0


@pytest.mark.host_only
def test_two_replicas_never_go_below_two_ready() -> None:
    """2 replicas: maxSurge 1 (rounded up), maxUnavailable 0 (rounded down): a new pod is ready before an old
    one goes, so 3 pods at most and never fewer than 2 ready."""
    facts = _facts("--replicas", "2", "--speed", "50")
    assert facts["rolling_max_surge"] == 1
    assert facts["rolling_max_unavailable"] == 0
    assert facts["rolling_max_pods_seen"] == 3
    assert facts["rolling_min_available_seen"] == 2
    assert facts["rolling_failed_requests"] == 0
    assert facts["recreate_failed_requests"] > 0  # type: ignore[operator]
    assert facts["undo_ok"] is True


@pytest.mark.host_only
@pytest.mark.parametrize(
    "args", [("--replicas", "0"), ("--replicas", "11"), ("--replicas", "four"), ("--speed", "0.5"), ("--speed", "x")]
)
def test_bad_options_exit_2(args: tuple[str, ...]) -> None:
    result = run_isodemo("rollout", *args)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert args[0] in result.stderr


@pytest.mark.host_only
@pytest.mark.parametrize("point", ["isolated.forked#30:SIGINT", "step#7:SIGTERM"])
def test_rollout_interrupted_leaves_nothing(point: str) -> None:
    """Stopped while the client runs and pods come and go: every pod, the node, the client, the rules go."""
    result = run_isodemo("rollout", "--json", "--speed", "50", env={"ISODEMO_TESTPOINT": point})
    assert result.code == 130, (result.stdout[-1000:], result.stderr[-1000:])
    assert result.json["leftovers"] == []
