"""A Deployment's rollout, one controller sync at a time: fenceposts, RollingUpdate and Recreate.

Sources (shared/design/k8s-reference.md section 6):
- staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go GetScaledValueFromIntOrPercent;
- pkg/controller/deployment/util/deployment_util.go ResolveFenceposts, MaxUnavailable, NewRSNewReplicas;
- pkg/controller/deployment/rolling.go rolloutRolling, reconcileNewReplicaSet, reconcileOldReplicaSets,
  cleanupUnhealthyReplicas, scaleDownOldReplicaSetsForRollingUpdate;
- pkg/controller/deployment/recreate.go rolloutRecreate, oldPodsRunning;
- pkg/apis/apps/v1/defaults.go SetDefaults_Deployment (maxSurge and maxUnavailable "25%").

Counts are ReplicaSet replicas (pods asked for, a pod being deleted no longer counts) and available pods (ready for
minReadySeconds, 0 by default, so ready). One sync either scales the new ReplicaSet up or the old one down, never
both: the demo applies a step, waits for a pod to become ready or go, and asks again.
"""

from __future__ import annotations

import dataclasses
import re

from isodemo.errors import UsageError
from isodemo.i18n import _

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
# Step.rule: the upstream function that acted (or waited), for the narration to name
COMPLETE = "complete"
SCALE_UP = "reconcileNewReplicaSet"
SCALE_DOWN = "reconcileOldReplicaSets"
WAIT_AVAILABLE = "waitForNewPodsAvailable"
RECREATE_SCALE_DOWN = "scaleDownOldReplicaSetsForRecreate"
RECREATE_WAIT = "oldPodsRunning"
RECREATE_SCALE_UP = "scaleUpNewReplicaSetForRecreate"
_PERCENT = re.compile(r"([+-]?[0-9]+)%")


class IntOrPercentError(UsageError, ValueError):
    """maxSurge or maxUnavailable that is neither a whole number nor a percentage, or is negative."""


def scaled_value(value: int | str, total: int, round_up: bool, field: str = "value") -> int:
    """GetScaledValueFromIntOrPercent: an int as is; "25%" of `total`, rounded up or down.

    A string must be a percentage (intstr refuses "3"); negative values are refused by API validation
    (ValidateNonnegativeIntOrPercent).
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise IntOrPercentError(_("{field}: {value} is not a number or a percentage", field=field, value=value))
    if isinstance(value, int):
        number = value
    else:
        match = _PERCENT.fullmatch(value)
        if not match:
            raise IntOrPercentError(
                _("{field}: {value} is not a number or a percentage", field=field, value=value or '""'),
                _("write a whole number (1) or a percentage of the replicas (25%)"),
            )
        percent = int(match[1])
        number = -(-percent * total // 100) if round_up else percent * total // 100
    if number < 0:
        raise IntOrPercentError(_("{field}: {value} is negative", field=field, value=value))
    return number


def fenceposts(max_surge: int | str, max_unavailable: int | str, replicas: int) -> tuple[int, int]:
    """ResolveFenceposts: (surge rounded up, unavailable rounded down); both 0 gives unavailable 1."""
    surge = scaled_value(max_surge, replicas, True, "maxSurge")
    unavailable = scaled_value(max_unavailable, replicas, False, "maxUnavailable")
    if surge == 0 and unavailable == 0:
        unavailable = 1  # "surge might not work due to quota"
    return surge, unavailable


@dataclasses.dataclass(frozen=True)
class Counts:
    """What the controller sees: replicas and available (ready) pods of the old and the new ReplicaSet."""

    old: int
    old_ready: int
    new: int
    new_ready: int

    @property
    def total(self) -> int:
        return self.old + self.new

    @property
    def available(self) -> int:
        return self.old_ready + self.new_ready


@dataclasses.dataclass(frozen=True)
class Step:
    """One sync's action: `create` new pods, `remove` old ones (unready old pods first); `rule` names why."""

    create: int
    remove: int
    remove_unready: int  # of `remove`, how many cleanupUnhealthyReplicas took (old pods not ready)
    done: bool
    rule: str

    @property
    def idle(self) -> bool:
        return self.create == 0 and self.remove == 0


@dataclasses.dataclass(frozen=True)
class RollingUpdate:
    """A Deployment with `replicas` and its strategy; `step(counts)` is one rolloutRolling sync."""

    replicas: int
    max_surge: int | str = DEFAULT_MAX_SURGE
    max_unavailable: int | str = DEFAULT_MAX_UNAVAILABLE

    @property
    def surge(self) -> int:
        return fenceposts(self.max_surge, self.max_unavailable, self.replicas)[0]

    @property
    def unavailable(self) -> int:
        """MaxUnavailable: the resolved fencepost, at most `replicas`."""
        if self.replicas == 0:
            return 0
        return min(fenceposts(self.max_surge, self.max_unavailable, self.replicas)[1], self.replicas)

    @property
    def max_total(self) -> int:
        return self.replicas + self.surge

    @property
    def min_available(self) -> int:
        return self.replicas - self.unavailable

    def step(self, counts: Counts) -> Step:
        if counts.old == 0 and counts.new == self.replicas and counts.new_ready == self.replicas:
            return Step(0, 0, 0, True, COMPLETE)
        create = self._scale_up(counts)
        if create:
            return Step(create, 0, 0, False, SCALE_UP)
        unready, ready = self._scale_down(counts)
        if unready or ready:
            return Step(0, unready + ready, unready, False, SCALE_DOWN)
        return Step(0, 0, 0, False, WAIT_AVAILABLE)

    def _scale_up(self, counts: Counts) -> int:
        """NewRSNewReplicas: up to replicas + surge pods in all, never past `replicas` in the new set."""
        if counts.new >= self.replicas:
            return 0
        room = self.max_total - counts.total
        return max(0, min(room, self.replicas - counts.new))

    def _scale_down(self, counts: Counts) -> tuple[int, int]:
        """reconcileOldReplicaSets: (unready old pods to remove, ready old pods to remove)."""
        if counts.old == 0:
            return 0, 0
        new_unavailable = counts.new - counts.new_ready
        max_scaled_down = counts.total - self.min_available - new_unavailable
        if max_scaled_down <= 0:
            return 0, 0
        # cleanupUnhealthyReplicas: unready old pods go first, they cost no availability
        unready = min(max_scaled_down, counts.old - counts.old_ready)
        # scaleDownOldReplicaSetsForRollingUpdate: keep at least min_available available pods
        ready = max(0, min(counts.old - unready, counts.available - self.min_available))
        return unready, ready


@dataclasses.dataclass(frozen=True)
class Recreate:
    """rolloutRecreate: scale every old ReplicaSet to 0, wait until no old pod runs, then scale the new one up."""

    replicas: int

    def step(self, old: int, old_running: int, new: int) -> Step:
        """`old`: old ReplicaSet replicas; `old_running`: old pods not yet gone (not Succeeded or Failed)."""
        if old > 0:
            return Step(0, old, 0, False, RECREATE_SCALE_DOWN)
        if old_running > 0:
            return Step(0, 0, 0, False, RECREATE_WAIT)
        if new < self.replicas:
            return Step(self.replicas - new, 0, 0, False, RECREATE_SCALE_UP)
        return Step(0, 0, 0, True, COMPLETE)
