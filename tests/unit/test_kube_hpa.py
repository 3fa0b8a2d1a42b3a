"""isodemo.kube.hpa: the HPA formula, the tolerance, the scale-up rate limit, the downscale stabilization window
and the clamps, with the controller's numbers (shared/design/k8s-reference.md section 6)."""

from __future__ import annotations

import pytest

from isodemo.kube import hpa


def test_defaults() -> None:
    assert (hpa.SYNC_PERIOD, hpa.TOLERANCE, hpa.DOWNSCALE_STABILIZATION) == (15.0, 0.1, 300.0)
    assert (hpa.SCALE_UP_PODS, hpa.SCALE_UP_PERCENT, hpa.SCALE_UP_PERIOD, hpa.SELECT_POLICY) == (4, 100, 15.0, "Max")
    assert (hpa.SCALE_DOWN_PERCENT, hpa.SCALE_DOWN_PERIOD, hpa.DEFAULT_TARGET, hpa.MIN_REPLICAS) == (100, 15.0, 80, 1)


@pytest.mark.parametrize(
    ("usage", "cpu_request", "percent"),
    [([0.5, 0.5], 0.5, 100.0), ([0.25, 0.3], 0.5, 55.0), ([0.333], 1.0, 33.0), ([0.0, 0.0, 0.1], 0.1, 33.0)],
)
def test_utilization_is_a_whole_percent(usage: list[float], cpu_request: float, percent: float) -> None:
    assert hpa.utilization(usage, cpu_request) == percent


@pytest.mark.parametrize(
    ("current", "percent", "target", "desired"),
    [
        (3, 90, 80, 4),  # ratio 1.125: ceil(3.375)
        (3, 87, 80, 3),  # 1.0875: within 10 %
        (3, 72, 80, 3),  # 0.9: within (0.09999999999999998)
        (3, 88, 80, 4),  # 1.1 is 0.10000000000000009 away in floating point, as in Go: ceil(3.3000000000000003)
        (4, 20, 80, 1),
        (1, 400, 80, 5),
        (5, 0, 80, 0),
    ],
)
def test_desired_replicas(current: int, percent: float, target: float, desired: int) -> None:
    assert hpa.desired_replicas(current, percent, target) == desired


def test_scale_up_is_rate_limited_per_period() -> None:
    scaler = hpa.Autoscaler(max_replicas=10)
    first = scaler.decide(0, 1, 800)
    assert (first.raw, first.replicas, first.reasons) == (10, 5, (hpa.SCALE_UP_LIMIT,))  # max(1 + 4, 1 * 2)
    again = scaler.decide(5, 5, 800)  # the same 15 s period: the period started at 1 pod
    assert (again.raw, again.replicas, again.reasons) == (50, 5, (hpa.SCALE_UP_LIMIT,))
    later = scaler.decide(15.5, 5, 800)  # a new period: max(5 + 4, 10) = 10, which is also maxReplicas
    assert (later.replicas, later.reasons) == (10, (hpa.TOO_MANY_REPLICAS,))


def test_percent_policy_wins_when_larger() -> None:
    scaler = hpa.Autoscaler(max_replicas=100)
    assert scaler.decide(0, 6, 800).replicas == 12  # max(6 + 4, 6 * 2)


def test_downscale_waits_for_the_stabilization_window() -> None:
    scaler = hpa.Autoscaler(max_replicas=10)
    steady = scaler.decide(0, 4, 80)
    assert (steady.raw, steady.replicas, steady.reasons[0]) == (4, 4, hpa.WITHIN_TOLERANCE)
    quiet = scaler.decide(15, 4, 20)
    assert (quiet.raw, quiet.stabilized, quiet.replicas) == (1, 4, 4)
    assert hpa.SCALE_DOWN_STABILIZED in quiet.reasons and not quiet.rescale
    assert scaler.decide(299.5, 4, 20).replicas == 4  # the sample at 0 is inside (later than now - 300)
    down = scaler.decide(300, 4, 20)  # now it is not: "After(cutoff)" is strict
    assert (down.replicas, down.reasons) == (1, (hpa.DESIRED_WITHIN_RANGE,))


def test_speed_scales_every_period() -> None:
    scaler = hpa.Autoscaler(max_replicas=10, speed=10)
    assert (scaler.sync_period, scaler.downscale_window, scaler.scale_up_period) == (1.5, 30.0, 1.5)
    scaler.decide(0, 4, 80)
    assert scaler.decide(29, 4, 20).replicas == 4
    assert scaler.decide(31, 4, 20).replicas == 1


def test_min_and_max_clamps() -> None:
    scaler = hpa.Autoscaler(max_replicas=10, min_replicas=2)
    low = scaler.decide(0, 3, 10)
    assert (low.raw, low.replicas, low.reasons) == (1, 2, (hpa.TOO_FEW_REPLICAS,))
    above = scaler.decide(15, 12, 80)
    assert (above.replicas, above.reasons) == (10, (hpa.ABOVE_MAX,))
    below = scaler.decide(30, 1, 80)
    assert (below.replicas, below.reasons) == (2, (hpa.BELOW_MIN,))
    off = scaler.decide(45, 0, 80)
    assert (off.replicas, off.reasons) == (0, (hpa.SCALING_DISABLED,))


def test_legacy_path_without_spec_behavior() -> None:
    scaler = hpa.Autoscaler(max_replicas=10, legacy=True)
    first = scaler.decide(0, 1, 800)
    assert (first.replicas, first.reasons) == (4, (hpa.SCALE_UP_LIMIT,))  # max(2 * 1, 4), not 5
    scaler = hpa.Autoscaler(max_replicas=20, legacy=True)
    assert scaler.decide(0, 4, 200).replicas == 8
    # the highest recommendation of 5 minutes applies upwards too: 10 from before, not this 8
    up = scaler.decide(15, 8, 80)
    assert (up.raw, up.stabilized, up.replicas) == (8, 10, 10)


def test_every_decision_is_the_formula_on_its_inputs() -> None:
    scaler = hpa.Autoscaler(max_replicas=8, speed=10)
    current, now = 1, 0.0
    measured = [30, 250, 250, 180, 90, 40] + [10] * 26
    for percent in measured:
        decision = scaler.decide(now, current, percent)
        assert decision.raw == hpa.desired_replicas(current, percent, 80)
        assert decision.ratio == percent / 80
        assert 1 <= decision.replicas <= 8
        current, now = decision.replicas, now + scaler.sync_period
    assert current == 1  # 30 s (300 s at --speed 10) after the last high recommendation
    assert [d.replicas for d in scaler.decisions[:6]] == [1, 4, 8, 8, 8, 8]
    assert len(scaler.decisions) == len(measured)
