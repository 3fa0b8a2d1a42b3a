"""isodemo.kube.restarts: CrashLoopBackOff, restartPolicy, the exit reason and probe thresholds, with the
kubelet's and containerd's numbers (shared/design/k8s-reference.md section 3)."""

from __future__ import annotations

import pytest

from isodemo.errors import UsageError
from isodemo.kube import restarts


def test_constants_are_the_kubelets() -> None:
    assert (restarts.INITIAL_BACKOFF, restarts.MAX_BACKOFF, restarts.RESET_AFTER) == (10.0, 300.0, 600.0)
    assert (restarts.PERIOD, restarts.TIMEOUT, restarts.FAILURE_THRESHOLD, restarts.SUCCESS_THRESHOLD) == (10, 1, 3, 1)


def test_schedule_doubles_to_the_cap() -> None:
    assert restarts.schedule(8) == [10, 20, 40, 80, 160, 300, 300, 300]
    assert restarts.schedule(0) == []
    assert restarts.schedule(3, speed=10) == [1, 2, 4]


def test_the_first_restart_is_immediate() -> None:
    assert restarts.restart_delays(7) == [0, 10, 20, 40, 80, 160, 300]
    assert restarts.restart_delays(1) == [0]
    assert restarts.restart_delays(0) == []


def crash_loop(backoff: restarts.Backoff, runs: list[float]) -> list[float]:
    """Start at 0; each run lasts runs[i] seconds, then waits what the backoff owes; the waits."""
    now, waits = 0.0, []
    for run in runs:
        finished = now + run
        wait = backoff.restart_delay(finished)
        now = finished + wait
        backoff.restarted(finished, now)
        waits.append(wait)
    return waits


def test_backoff_driven_like_do_backoff() -> None:
    assert crash_loop(restarts.Backoff(), [1.0] * 8) == [0, 10, 20, 40, 80, 160, 300, 300]


def test_backoff_resets_after_a_run_longer_than_ten_minutes() -> None:
    # 10 min exactly does not reset ("> 600s"); 10 min and a bit does: no wait, then 10 s again
    assert crash_loop(restarts.Backoff(), [1, 1, 1, 600, 1]) == [0, 10, 20, 40, 80]
    assert crash_loop(restarts.Backoff(), [1, 1, 1, 600.5, 1, 1]) == [0, 10, 20, 0, 10, 20]


def test_backoff_at_speed_and_a_small_maximum() -> None:
    assert crash_loop(restarts.Backoff.at_speed(10), [0.1] * 4) == [0, 1, 2, 4]
    assert restarts.Backoff(maximum=5).initial == 5  # KubeletCrashLoopBackOffMax below 10 s


def test_measured_delays_are_checked_against_the_schedule() -> None:
    good = [0.02, 1.1, 2.05, 4.3]
    assert restarts.matches_schedule(good, speed=10)
    checks = restarts.check_delays([0.02, 1.1, 3.5, 4.0], speed=10)
    assert [c.ok for c in checks] == [True, True, False, True]
    assert checks[2].expected == 2.0 and checks[2].allowed == pytest.approx(0.55)
    assert not restarts.matches_schedule([10, 20], speed=1)  # the first restart does not wait 10 s
    assert not restarts.matches_schedule([0.2, 1.0], speed=10)  # nor 0.2 s at --speed 10


def test_a_wait_that_does_not_double_fails_at_speed_100() -> None:
    assert restarts.matches_schedule([0.0, 0.1, 0.2, 0.4], speed=100)
    assert restarts.matches_schedule([0.01, 0.13, 0.25, 0.45], speed=100)  # a little late, each time
    for flat in ([0.0, 0.1, 0.1, 0.1], [0.0, 0.1, 0.2, 0.2], [0.0, 0.2, 0.2, 0.4], [0.0, 0.1, 0.4, 0.4]):
        assert not restarts.matches_schedule(flat, speed=100), flat
    assert restarts.delay_tolerance(0.0) == pytest.approx(0.05)
    assert restarts.delay_tolerance(300.0) == pytest.approx(0.55)  # at real scale: the machine's delay only


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 137, True),
        ("Never", 1, False),
        ("Never", 0, False),
    ],
)
def test_should_restart(policy: str, code: int, restart: bool) -> None:
    assert restarts.should_restart(policy, code) is restart


@pytest.mark.parametrize("policy", ["always", "", "Sometimes"])
def test_unknown_policy(policy: str) -> None:
    with pytest.raises(ValueError, match="restartPolicy"):
        restarts.should_restart(policy, 0)
    with pytest.raises(UsageError):
        restarts.should_restart(policy, 0)


@pytest.mark.parametrize(
    ("code", "oom", "event", "reason"),
    [
        (137, True, False, "OOMKilled"),
        (137, False, False, "Error"),  # SIGKILL from someone else
        (1, True, False, "Error"),  # the counter is read only for 137
        (1, False, True, "OOMKilled"),  # a TaskOOM event sets it whatever the exit code
        (0, False, False, "Completed"),
        (143, False, False, "Error"),
    ],
)
def test_reason(code: int, oom: bool, event: bool, reason: str) -> None:
    assert restarts.reason(code, oom, oom_event=event) == reason


def test_liveness_restarts_after_three_failures_in_a_row() -> None:
    probe = restarts.ProbeState("liveness")
    assert probe.result and not probe.restart_needed
    assert [probe.record(ok) for ok in (False, False, True, False, False)] == [False] * 5
    assert not probe.restart_needed  # the success broke the run
    assert probe.record(False) is True
    assert probe.restart_needed and probe.on_hold
    assert probe.record(True) is False  # on hold until a new container
    probe.new_container()
    assert probe.result and not probe.on_hold


def test_readiness_thresholds() -> None:
    probe = restarts.ProbeState("readiness", success_threshold=2, failure_threshold=3)
    assert not probe.ready  # not ready until the probe succeeds
    assert probe.record(True) is False
    assert probe.record(True) is True and probe.ready
    assert [probe.record(False) for _ in range(3)] == [False, False, True]
    assert not probe.ready and not probe.on_hold and not probe.restart_needed
    assert probe.record(False) is False  # still failing, no change


def test_probe_validation() -> None:
    with pytest.raises(ValueError, match="successThreshold"):
        restarts.ProbeState("liveness", success_threshold=2)
    with pytest.raises(ValueError):
        restarts.ProbeState("sideness")
