"""isodemo.kube.deployment: fenceposts and rollouts, driven to the end the way the Deployment controller does
(shared/design/k8s-reference.md section 6)."""

from __future__ import annotations

import dataclasses

import pytest

from isodemo.errors import UsageError
from isodemo.kube import deployment as dep


@pytest.mark.parametrize(
    ("value", "total", "up", "result"),
    [("25%", 10, True, 3), ("25%", 10, False, 2), ("25%", 3, True, 1), ("25%", 3, False, 0), ("100%", 7, False, 7),
     ("0%", 5, True, 0), (2, 10, True, 2), (0, 10, False, 0), ("+50%", 3, True, 2), ("150%", 2, False, 3)],
)  # fmt: skip
def test_scaled_value(value: int | str, total: int, up: bool, result: int) -> None:
    assert dep.scaled_value(value, total, up) == result


@pytest.mark.parametrize("value", ["x%", "-1", "3", "", "25", " 25%", "2.5%", "-10%", -1, True, 2.5])
def test_scaled_value_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="maxSurge"):
        dep.scaled_value(value, 10, True, "maxSurge")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        dep.scaled_value(value, 10, True)  # type: ignore[arg-type]


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [(10, 3, 2), (4, 1, 1), (3, 1, 0), (1, 1, 0)])
def test_fenceposts_reference_examples(replicas: int, surge: int, unavailable: int) -> None:
    assert dep.fenceposts("25%", "25%", replicas) == (surge, unavailable)


def test_fenceposts_both_zero_gives_one_unavailable() -> None:
    assert dep.fenceposts(0, 0, 5) == (0, 1)
    assert dep.fenceposts("0%", "10%", 5) == (0, 1)  # 10% of 5 rounds down to 0
    assert dep.RollingUpdate(2, 0, 5).unavailable == 2  # MaxUnavailable: at most the replicas


def test_first_steps_with_ten_replicas() -> None:
    rollout = dep.RollingUpdate(10)
    first = rollout.step(dep.Counts(old=10, old_ready=10, new=0, new_ready=0))
    assert (first.create, first.remove, first.rule) == (3, 0, dep.SCALE_UP)  # 10 + 3 surge = 13 pods
    second = rollout.step(dep.Counts(old=10, old_ready=10, new=3, new_ready=0))
    assert (second.create, second.remove, second.rule) == (0, 2, dep.SCALE_DOWN)  # 10 - 2 available stays
    third = rollout.step(dep.Counts(old=8, old_ready=8, new=3, new_ready=0))
    assert (third.create, third.remove) == (2, 0)  # room again under 13
    fourth = rollout.step(dep.Counts(old=8, old_ready=8, new=5, new_ready=0))
    assert fourth.idle and fourth.rule == dep.WAIT_AVAILABLE and not fourth.done
    fifth = rollout.step(dep.Counts(old=8, old_ready=8, new=5, new_ready=1))
    assert (fifth.create, fifth.remove) == (0, 1)


def test_unready_old_pods_go_first() -> None:
    step = dep.RollingUpdate(4, 1, 0).step(dep.Counts(old=4, old_ready=2, new=1, new_ready=1))
    # maxScaledDown = 5 - 4 - 0 = 1: one unready old pod; available 3 < 4, no ready one
    assert (step.remove, step.remove_unready) == (1, 1)


def apply(step: dep.Step, counts: dep.Counts) -> dep.Counts:
    """Delete old pods (unready ones first, as the ReplicaSet controller does) and create new ones."""
    unready_gone = min(step.remove, counts.old - counts.old_ready)
    return dep.Counts(
        old=counts.old - step.remove,
        old_ready=counts.old_ready - (step.remove - unready_gone),
        new=counts.new + step.create,
        new_ready=counts.new_ready,
    )


PAIRS = [("25%", "25%"), (1, 0), (0, 1), (2, 2), ("50%", "0%"), ("0%", "50%"), (3, 1), ("100%", "100%"), (0, 0)]


@pytest.mark.parametrize("replicas", range(1, 11))
@pytest.mark.parametrize(("surge", "unavailable"), PAIRS)
def test_rolling_update_keeps_its_bounds(replicas: int, surge: int | str, unavailable: int | str) -> None:
    rollout = dep.RollingUpdate(replicas, surge, unavailable)
    counts = dep.Counts(old=replicas, old_ready=replicas, new=0, new_ready=0)
    for _sync in range(10 * replicas + 10):
        step = rollout.step(counts)
        if step.done:
            break
        if step.idle:  # nothing to do until a new pod becomes ready
            assert counts.new_ready < counts.new, counts
            counts = dataclasses.replace(counts, new_ready=counts.new_ready + 1)
        else:
            assert not (step.create and step.remove)  # one sync scales one way
            counts = apply(step, counts)
        assert counts.total <= rollout.max_total, counts
        assert counts.available >= rollout.min_available, counts
        assert counts.old >= 0 and counts.new <= replicas
    else:
        pytest.fail(f"no end: {counts}")
    assert counts == dep.Counts(old=0, old_ready=0, new=replicas, new_ready=replicas)
    assert rollout.min_available == replicas - min(dep.fenceposts(surge, unavailable, replicas)[1], replicas)


def test_recreate_order() -> None:
    recreate = dep.Recreate(3)
    assert recreate.step(old=3, old_running=3, new=0).remove == 3
    wait = recreate.step(old=0, old_running=1, new=0)
    assert wait.idle and wait.rule == dep.RECREATE_WAIT
    up = recreate.step(old=0, old_running=0, new=0)
    assert (up.create, up.rule) == (3, dep.RECREATE_SCALE_UP)
    assert recreate.step(old=0, old_running=0, new=3).done
