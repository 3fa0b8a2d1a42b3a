"""`isodemo autoscale`'s pure parts: the CPU counters of both cgroup versions, millicores, and the check that
every decision follows from the measurements (kube/hpa_check.py), against kube/hpa.py's decisions."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import types

import pytest

from isodemo.cluster import kubelet, metrics
from isodemo.kube import hpa, hpa_check

CPU_STAT_V2 = """usage_usec 2500123
user_usec 2000000
system_usec 500123
nr_periods 0
nr_throttled 0
throttled_usec 0
"""


def test_v2_reads_usage_usec_from_cpu_stat() -> None:
    assert metrics.usage_usec_v2(CPU_STAT_V2) == 2500123
    assert metrics.usage_usec("/sys/fs/cgroup/isodemo/x/cpu.stat", CPU_STAT_V2) == 2500123


def test_v2_without_usage_usec_is_an_error() -> None:
    with pytest.raises(ValueError):
        metrics.usage_usec_v2("nr_periods 0\n")


def test_v1_cpuacct_usage_is_nanoseconds() -> None:
    assert metrics.usage_usec_v1("11525744\n") == 11525
    assert metrics.usage_usec("/sys/fs/cgroup/cpuacct/x/cpuacct.usage", "999") == 0


def test_other_files_are_refused() -> None:
    with pytest.raises(ValueError):
        metrics.usage_usec("/sys/fs/cgroup/cpu/x/cpu.shares", "1024")


@pytest.mark.parametrize(
    ("before", "after", "seconds", "milli"),
    [(0, 750_000, 0.75, 1000), (1000, 1000, 1.0, 0), (0, 1, 1.0, 1), (0, 300_000, 1.5, 200), (0, 333_333, 1.0, 334)],
)
def test_millicores_rounds_up(before: int, after: int, seconds: float, milli: int) -> None:
    assert metrics.millicores(before, after, seconds) == milli


def test_millicores_needs_time() -> None:
    with pytest.raises(ValueError):
        metrics.millicores(0, 10, 0.0)


RULES = hpa_check.Rules(100, 50.0, 1, 6, 0.1, 0.0, 15.0, 0.75)


def _run(readings: list[tuple[float, list[int]]]) -> list[hpa_check.Sample]:
    """kube/hpa.py deciding on the readings (t, millicores of each pod); the pods follow each decision."""
    scaler = hpa.Autoscaler(6, 1, 50.0, speed=20)
    samples, pods = [], 1
    for t, per_pod in readings:
        usage = [per_pod[0]] * pods if len(per_pod) != pods else per_pod
        utilization = hpa.utilization([m / 1000 for m in usage], 0.1)
        decision = scaler.decide(t, pods, utilization)
        samples.append(
            hpa_check.Sample(t, tuple(usage), pods, utilization, decision.raw, decision.replicas, decision.replicas)
        )
        pods = decision.replicas
    return samples


def test_a_scale_up_and_down_matches_the_rules() -> None:
    readings = [(0.75, [388]), (1.5, [100]), (2.25, [70]), (3.0, [0])] + [(3.0 + 0.75 * i, [0]) for i in range(1, 22)]
    samples = _run(readings)
    assert [s.replicas for s in samples[:3]] == [5, 6, 6]  # Pods 4 per period, then maxReplicas
    assert samples[-1].replicas == 1
    down = next(s for s in samples if s.replicas < s.current)
    assert down.t >= 2.25 + 15.0  # the last high recommendation (at 2.25) left the window (After(cutoff))
    assert hpa_check.problems(samples, RULES) == []


def test_formula_and_tolerance() -> None:
    assert hpa_check.formula([388], 100, 50.0, 0.1) == (388.0, 8)
    assert hpa_check.formula([50, 54], 100, 50.0, 0.1) == (52.0, 2)  # 1.04: within the tolerance
    assert hpa_check.formula([0, 0, 0], 100, 50.0, 0.1) == (0.0, 0)


def test_a_decision_that_does_not_follow_is_found() -> None:
    samples = _run([(0.75, [388]), (1.5, [100])])
    wrong_count = [samples[0], hpa_check.Sample(1.5, (100,) * 5, 5, 100.0, 10, 6, 5)]
    assert hpa_check.Problem(1.5, hpa_check.RUNNING, "6", "5") in hpa_check.problems(wrong_count, RULES)
    wrong_formula = [hpa_check.Sample(0.75, (388,), 1, 388.0, 7, 5, 5)]
    assert hpa_check.Problem(0.75, hpa_check.FORMULA, "388% -> 8", "388% -> 7") in hpa_check.problems(
        wrong_formula, RULES
    )
    too_early = [hpa_check.Sample(0.75, (388,), 1, 388.0, 8, 5, 5), hpa_check.Sample(1.5, (0,) * 5, 5, 0.0, 0, 1, 1)]
    assert hpa_check.Problem(1.5, hpa_check.REPLICAS, "5", "1") in hpa_check.problems(too_early, RULES)
    missing = [hpa_check.Sample(0.75, (388,), 2, 388.0, 8, 5, 5)]
    assert hpa_check.problems(missing, RULES) == [hpa_check.Problem(0.75, hpa_check.READINGS, "2", "1")]


@pytest.mark.parametrize("start", [0.7500004, 0.1 + 0.2 + 0.45, 1.0 / 3.0, 0.7495])
def test_unrounded_times_on_the_period_edge_agree(start: float) -> None:
    """The check sees the times the autoscaler decided on: a scale-up exactly one scale-up period (0.75 s)
    before the next sync is judged the same way by both (rounded times could put it on either side)."""
    times = [start + 0.75 * i for i in range(4)]
    samples = _run([(times[0], [388]), (times[1], [400]), (times[2], [400]), (times[3], [400])])
    assert samples[0].replicas == 5 and samples[-1].replicas == 6  # a scale-up, then one right on its edge
    assert hpa_check.problems(samples, RULES) == []


def test_the_window_holds_the_count_it_does_not_raise_it() -> None:
    """stabilizeRecommendationWithBehaviors brings the current count within [up, down]: a high recommendation
    the scale-up limit held back does not scale up later, when the formula says less than the current count."""
    scaler = hpa.Autoscaler(max_replicas=10)
    assert scaler.decide(0, 1, 800).replicas == 5  # raw 16, at most 1 + 4
    later = scaler.decide(15.5, 5, 40)  # raw 3 < 5; the window's highest is 16
    assert (later.raw, later.stabilized, later.replicas) == (3, 5, 5)
    assert hpa.SCALE_DOWN_STABILIZED in later.reasons


class _Box:
    """An Isolated as terminate_all uses it: a pidfd-like descriptor (a pipe) that turns readable when the
    child ends; `polite` children end on SIGTERM, the others ignore it (a PID 1 without a handler)."""

    def __init__(self, polite: bool, code: int) -> None:
        self.polite = polite
        self.code = code
        self.read_end, self.write_end = os.pipe()
        self.signals: list[int] = []

    def wait_fd(self) -> int:
        return os.dup(self.read_end)

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if self.polite:
            os.write(self.write_end, b"x")

    def reap(self) -> int:
        return self.code

    def kill(self) -> int:
        self.signals.append(signal.SIGKILL)
        return 137


class _Container:
    def __init__(self, polite: bool, code: int = 0) -> None:
        self.started = types.SimpleNamespace(box=_Box(polite, code))
        self.stack = contextlib.ExitStack()
        self.closed = False
        self.stack.callback(setattr, self, "closed", True)


def test_terminate_all_gives_every_container_the_grace_at_once() -> None:
    """SIGTERM to all, one grace for all: three that ignore SIGTERM and two that end on it take about one
    grace of 0.2 s, not three; those still running get SIGKILL (137), the others their own code; all are
    removed."""
    containers = [_Container(False), _Container(True, 0), _Container(False), _Container(True, 143), _Container(False)]
    began = time.monotonic()
    codes = kubelet.terminate_all(containers, 0.2)  # type: ignore[arg-type]
    took = time.monotonic() - began
    assert codes == [137, 0, 137, 143, 137]
    assert [c.started.box.signals for c in containers] == [
        [signal.SIGTERM, signal.SIGKILL],
        [signal.SIGTERM],
        [signal.SIGTERM, signal.SIGKILL],
        [signal.SIGTERM],
        [signal.SIGTERM, signal.SIGKILL],
    ]
    assert all(c.closed for c in containers)
    assert 0.2 <= took < 0.6
    assert kubelet.terminate_all([], 1.0) == []
