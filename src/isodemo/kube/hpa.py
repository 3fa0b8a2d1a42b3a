"""The HorizontalPodAutoscaler's decision for CPU utilization, one sync period at a time.

Sources (shared/design/k8s-reference.md section 6):
- pkg/controller/podautoscaler/metrics/utilization.go GetResourceUtilizationRatio (a whole percent: usage
  summed over the pods * 100 / requests summed, integer division);
- pkg/controller/podautoscaler/replica_calculator.go GetResourceReplicas (ceil(ratio * pods), unchanged within
  the tolerance);
- pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler, normalizeDesiredReplicasWithBehaviors,
  stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
  calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors, storeScaleEvent; the legacy path
  (spec.behavior unset) normalizeDesiredReplicas, stabilizeRecommendation, convertDesiredReplicasWithRules;
- pkg/controller/podautoscaler/config/v1alpha1/defaults.go (sync 15s, tolerance 0.1, downscale window 5m);
- pkg/apis/autoscaling/v2/defaults.go (scaleUp: window 0, Pods 4 and Percent 100 per 15s, selectPolicy Max;
  scaleDown: Percent 100 per 15s; minReplicas 1; CPU averageUtilization 80).

The default behaviour rules are filled in only when the HPA has a spec.behavior (even `behavior: {}`); without
one the controller takes the legacy path: the highest recommendation of the last 5 minutes whichever way it
points, and a scale-up limit of max(2 * current, 4) per decision. `Autoscaler(legacy=True)` follows that path.
Simplified: every pod is ready and has a metric (no CPU initialization period, no missing-pod handling).
"""

from __future__ import annotations

import dataclasses
import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_STABILIZATION = 0.0
SCALE_UP_PODS = 4  # policy Pods 4 per 15 s
SCALE_UP_PERCENT = 100  # policy Percent 100 per 15 s
SCALE_UP_PERIOD = 15.0
SCALE_DOWN_PERCENT = 100  # policy Percent 100 per 15 s
SCALE_DOWN_PERIOD = 15.0
SELECT_POLICY = "Max"
DEFAULT_TARGET = 80.0  # autoscaling.DefaultCPUUtilization
MIN_REPLICAS = 1
LEGACY_SCALE_UP_FACTOR = 2.0  # scaleUpLimitFactor
LEGACY_SCALE_UP_MINIMUM = 4.0  # scaleUpLimitMinimum

# Decision.reasons: the HPA's condition reasons, plus WithinTolerance and the two reconcileAutoscaler branches
WITHIN_TOLERANCE = "WithinTolerance"
SCALE_UP_STABILIZED = "ScaleUpStabilized"
SCALE_DOWN_STABILIZED = "ScaleDownStabilized"
SCALE_UP_LIMIT = "ScaleUpLimit"
SCALE_DOWN_LIMIT = "ScaleDownLimit"
TOO_MANY_REPLICAS = "TooManyReplicas"
TOO_FEW_REPLICAS = "TooFewReplicas"
DESIRED_WITHIN_RANGE = "DesiredWithinRange"
ABOVE_MAX = "CurrentAboveMaxReplicas"  # "Current number of replicas above Spec.MaxReplicas"
BELOW_MIN = "CurrentBelowMinReplicas"  # "Current number of replicas below Spec.MinReplicas"
SCALING_DISABLED = "ScalingDisabled"  # current replicas 0 with minReplicas > 0


def utilization(usage_cores_per_pod: Sequence[float], request_cores: float) -> float:
    """The average CPU use of the pods in percent of their request, truncated to a whole percent as the controller
    does (millicores summed * 100 // requests summed)."""
    if not usage_cores_per_pod or request_cores <= 0:
        raise ValueError("utilization needs at least one pod and a positive CPU request")
    usage_milli = sum(math.ceil(round(cores * 1000, 6)) for cores in usage_cores_per_pod)
    request_milli = math.ceil(round(request_cores * 1000, 6)) * len(usage_cores_per_pod)
    return float(usage_milli * 100 // request_milli)


def desired_replicas(current: int, utilization: float, target: float, tolerance: float = TOLERANCE) -> int:
    """ceil(current * utilization / target), or `current` when |ratio - 1| <= tolerance."""
    ratio = utilization / target
    if abs(1.0 - ratio) <= tolerance:
        return current
    return math.ceil(ratio * current)


@dataclasses.dataclass(frozen=True)
class Decision:
    """One sync: the inputs, the formula's result (`raw`), after stabilization, the final count and why."""

    now: float
    current: int
    utilization: float
    target: float
    ratio: float
    raw: int
    stabilized: int
    replicas: int
    reasons: tuple[str, ...]

    @property
    def rescale(self) -> bool:
        return self.replicas != self.current


class Autoscaler:
    """One HPA's controller state: past recommendations and scale events. Times in seconds on any clock;
    `speed` divides every period (a demo at --speed 10 syncs every 1.5 s and stabilizes for 30 s)."""

    def __init__(
        self,
        max_replicas: int,
        min_replicas: int = MIN_REPLICAS,
        target: float = DEFAULT_TARGET,
        *,
        tolerance: float = TOLERANCE,
        speed: float = 1.0,
        legacy: bool = False,
    ) -> None:
        if max_replicas < min_replicas or min_replicas < 0 or target <= 0 or speed <= 0:
            raise ValueError("need 0 <= minReplicas <= maxReplicas, a positive target and a positive speed")
        self.max_replicas = max_replicas
        self.min_replicas = min_replicas
        self.target = target
        self.tolerance = tolerance
        self.legacy = legacy
        self.sync_period = SYNC_PERIOD / speed
        self.downscale_window = DOWNSCALE_STABILIZATION / speed
        self.upscale_window = SCALE_UP_STABILIZATION / speed
        self.scale_up_period = SCALE_UP_PERIOD / speed
        self.scale_down_period = SCALE_DOWN_PERIOD / speed
        self.recommendations: list[tuple[float, int]] = []  # (timestamp, recommendation)
        self.scale_ups: list[tuple[float, int]] = []  # (timestamp, replicas added)
        self.scale_downs: list[tuple[float, int]] = []  # (timestamp, replicas removed)
        self.decisions: list[Decision] = []

    def decide(self, now: float, current: int, utilization: float) -> Decision:
        """reconcileAutoscaler at `now` with `current` replicas and the measured utilization (percent)."""
        ratio = utilization / self.target
        raw = desired_replicas(current, utilization, self.target, self.tolerance)
        reasons: list[str] = []
        if current == 0 and self.min_replicas != 0:
            stabilized = replicas = 0
            reasons.append(SCALING_DISABLED)
        elif current > self.max_replicas:
            stabilized = replicas = self.max_replicas
            reasons.append(ABOVE_MAX)
        elif current < self.min_replicas:
            stabilized = replicas = self.min_replicas
            reasons.append(BELOW_MIN)
        else:
            if abs(1.0 - ratio) <= self.tolerance:
                reasons.append(WITHIN_TOLERANCE)
            if self.legacy:
                stabilized, replicas = self._legacy(now, current, raw, reasons)
            else:
                stabilized, replicas = self._with_behavior(now, current, raw, reasons)
        if current not in (replicas, 0):
            self._store_scale_event(now, current, replicas)
        decision = Decision(now, current, utilization, self.target, ratio, raw, stabilized, replicas, tuple(reasons))
        self.decisions.append(decision)
        return decision

    def _with_behavior(self, now: float, current: int, raw: int, reasons: list[str]) -> tuple[int, int]:
        stabilized = self._stabilize_with_behavior(now, current, raw)
        if stabilized != raw:
            reasons.append(SCALE_UP_STABILIZED if raw >= current else SCALE_DOWN_STABILIZED)
        replicas, why = stabilized, DESIRED_WITHIN_RANGE
        if stabilized > current:
            limit = max(self._scale_up_limit(now, current), current)
            allowed, why = (
                (limit, SCALE_UP_LIMIT) if self.max_replicas > limit else (self.max_replicas, TOO_MANY_REPLICAS)
            )
            replicas = min(stabilized, allowed)
        elif stabilized < current:
            limit = min(self._scale_down_limit(now, current), current)
            allowed, why = (
                (limit, SCALE_DOWN_LIMIT) if self.min_replicas < limit else (self.min_replicas, TOO_FEW_REPLICAS)
            )
            replicas = max(stabilized, allowed)
        reasons.append(why if replicas != stabilized else DESIRED_WITHIN_RANGE)
        return stabilized, replicas

    def _stabilize_with_behavior(self, now: float, current: int, raw: int) -> int:
        """stabilizeRecommendationWithBehaviors: the current count brought within [the lowest recommendation of
        the scale-up window (0 s: just this one), the highest of the scale-down window]."""
        up = down = raw
        for timestamp, recommendation in self.recommendations:
            if timestamp > now - self.upscale_window:
                up = min(up, recommendation)
            if timestamp > now - self.downscale_window:
                down = max(down, recommendation)
        self._remember(now, raw, now - max(self.upscale_window, self.downscale_window))
        return min(max(current, up), down)

    def _remember(self, now: float, raw: int, obsolete_before: float) -> None:
        """Overwrite the last sample older than the window, or append: the history stays bounded."""
        old = [i for i, (timestamp, _r) in enumerate(self.recommendations) if timestamp < obsolete_before]
        if old:
            self.recommendations[old[-1]] = (now, raw)
        else:
            self.recommendations.append((now, raw))

    def _scale_up_limit(self, now: float, current: int) -> int:
        """calculateScaleUpLimitWithScalingRules, selectPolicy Max over Pods 4 and Percent 100 per period."""
        added = sum(n for timestamp, n in self.scale_ups if timestamp > now - self.scale_up_period)
        start = current - added
        return max(start + SCALE_UP_PODS, math.ceil(start * (1 + SCALE_UP_PERCENT / 100)))

    def _scale_down_limit(self, now: float, current: int) -> int:
        """calculateScaleDownLimitWithBehaviors, Percent 100 per period: no limit beyond minReplicas."""
        removed = sum(n for timestamp, n in self.scale_downs if timestamp > now - self.scale_down_period)
        return int((current + removed) * (1 - SCALE_DOWN_PERCENT / 100))

    def _legacy(self, now: float, current: int, raw: int, reasons: list[str]) -> tuple[int, int]:
        """normalizeDesiredReplicas: stabilizeRecommendation (the highest of the last 5 min, either way), then
        convertDesiredReplicasWithRules (min, and max(2 * current, 4) or maxReplicas)."""
        cutoff = now - self.downscale_window
        stabilized = max([raw] + [r for timestamp, r in self.recommendations if timestamp >= cutoff])
        self._remember(now, raw, cutoff)
        if stabilized != raw:
            reasons.append(SCALE_DOWN_STABILIZED)
        limit = int(max(LEGACY_SCALE_UP_FACTOR * current, LEGACY_SCALE_UP_MINIMUM))
        allowed, why = (limit, SCALE_UP_LIMIT) if self.max_replicas > limit else (self.max_replicas, TOO_MANY_REPLICAS)
        if stabilized < self.min_replicas:
            reasons.append(TOO_FEW_REPLICAS)
            return stabilized, self.min_replicas
        if stabilized > allowed:
            reasons.append(why)
            return stabilized, allowed
        reasons.append(DESIRED_WITHIN_RANGE)
        return stabilized, stabilized

    def _store_scale_event(self, now: float, current: int, replicas: int) -> None:
        """storeScaleEvent (behavior path only): the changes the rate limits count per period."""
        if self.legacy:
            return
        if replicas > current:
            self.scale_ups.append((now, replicas - current))
        else:
            self.scale_downs.append((now, current - replicas))
        horizon = now - max(self.scale_up_period, self.scale_down_period)
        self.scale_ups = [event for event in self.scale_ups if event[0] > horizon]
        self.scale_downs = [event for event in self.scale_downs if event[0] > horizon]
