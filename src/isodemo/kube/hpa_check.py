"""Each sync of `isodemo autoscale`'s HorizontalPodAutoscaler, as measured, and a check, independent of
kube/hpa.py, that every decision follows from the measurements by the controller's rules.

For each sync, from the millicores measured per pod:
    utilization = sum(millicores) * 100 // (request * pods)                     (a whole percent)
    raw         = pods if |utilization / target - 1| <= tolerance
                  else ceil(pods * utilization / target)                         (the formula)
    up, down    = the lowest raw of the scale-up window (0 s: this one), the highest of the scale-down window
    stabilized  = pods brought within [up, down]
    replicas    = stabilized, at most max(start + 4, 2 * start) where start is the count before the scale-ups
                  of the last scale-up period (Pods 4 / Percent 100 per 15 s), then within [min, max]
and the pods actually running after the sync are `replicas`. The problems found are data (Problem), worded by
the demo.
"""

from __future__ import annotations

import dataclasses
import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Sample:
    """One sync: when (seconds on the autoscaler's clock), the millicores of each pod, what was decided, and
    how many pods ran after it."""

    t: float
    usage: tuple[int, ...]
    current: int
    utilization: float
    raw: int
    replicas: int
    running_after: int
    reasons: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Rules:
    request_milli: int
    target: float
    min_replicas: int
    max_replicas: int
    tolerance: float
    upscale_window: float  # seconds on the same clock (already divided by --speed)
    downscale_window: float
    scale_up_period: float
    scale_up_pods: int = 4
    scale_up_percent: int = 100


def formula(usage: Sequence[int], request_milli: int, target: float, tolerance: float) -> tuple[float, int]:
    """(utilization in whole percent, ceil(pods * utilization / target) or pods within the tolerance)."""
    pods = len(usage)
    utilization = float(sum(usage) * 100 // (request_milli * pods))
    ratio = utilization / target
    if abs(1.0 - ratio) <= tolerance:
        return utilization, pods
    return utilization, math.ceil(ratio * pods)


def expected_replicas(samples: Sequence[Sample], index: int, rules: Rules) -> int:
    """What the controller's rules make of sample `index`'s raw recommendation, given the samples before it."""
    sample = samples[index]
    now, current = sample.t, sample.current
    earlier = samples[:index]
    up = min([sample.raw] + [s.raw for s in earlier if s.t > now - rules.upscale_window])
    down = max([sample.raw] + [s.raw for s in earlier if s.t > now - rules.downscale_window])
    replicas = min(max(current, up), down)
    if replicas > current:
        added = sum(
            s.replicas - s.current for s in earlier if s.t > now - rules.scale_up_period and s.replicas > s.current
        )
        start = current - added
        limit = max(start + rules.scale_up_pods, math.ceil(start * (1 + rules.scale_up_percent / 100)))
        replicas = min(replicas, max(limit, current))
    return max(rules.min_replicas, min(rules.max_replicas, replicas))


@dataclasses.dataclass(frozen=True)
class Problem:
    """One disagreement at the sync at `t`: `kind` says what disagrees, `expected` is what the rules and the
    measurements give, `got` what the autoscaler had or what ran.

    readings   expected: the pods, got: the readings taken
    formula    expected, got: "utilization% -> raw"
    replicas   expected, got: the replica count
    running    expected: the replica count chosen, got: the pods that ran after the sync
    """

    t: float
    kind: str
    expected: str
    got: str


READINGS = "readings"
FORMULA = "formula"
REPLICAS = "replicas"
RUNNING = "running"


def problems(samples: Sequence[Sample], rules: Rules) -> list[Problem]:
    """Every way the samples disagree with the rules (none: every decision matches the formula)."""
    found = []
    for index, sample in enumerate(samples):
        t = sample.t
        if len(sample.usage) != sample.current:
            found.append(Problem(t, READINGS, str(sample.current), str(len(sample.usage))))
            continue
        utilization, raw = formula(sample.usage, rules.request_milli, rules.target, rules.tolerance)
        if (utilization, raw) != (sample.utilization, sample.raw):
            found.append(
                Problem(t, FORMULA, f"{utilization:.0f}% -> {raw}", f"{sample.utilization:.0f}% -> {sample.raw}")
            )
        expected = expected_replicas(samples, index, rules)
        if sample.replicas != expected:
            found.append(Problem(t, REPLICAS, str(expected), str(sample.replicas)))
        if sample.running_after != sample.replicas:
            found.append(Problem(t, RUNNING, str(sample.replicas), str(sample.running_after)))
    return found
