"""Restarting containers the kubelet's way: restartPolicy, CrashLoopBackOff, the exit reason, probe thresholds.

Sources (shared/design/k8s-reference.md section 3):
- backoff: pkg/kubelet/kubelet.go (initialCrashLoopBackOff 10s, MaxCrashLoopBackOff 300s, HasExpiredFunc
  "eventTime.Sub(lastUpdate) > 600*time.Second"), staging/src/k8s.io/client-go/util/flowcontrol/backoff.go
  (Next, IsInBackOffSince: doubling, no jitter for the kubelet), pkg/kubelet/kuberuntime/kuberuntime_manager.go
  doBackOff (the exit's FinishedAt is the event time);
- restartPolicy: pkg/kubelet/container/helpers.go ShouldContainerBeRestarted;
- reason: containerd internal/cri/server/events.go (TaskOOM, TaskExit with exit status 137) and helpers.go;
- probes: pkg/apis/core/v1/defaults.go SetDefaults_Probe, pkg/kubelet/prober/worker.go doProbe.

The first exit of a container owes no wait: flowcontrol has no entry for it yet, so IsInBackOffSince is false and
the kubelet starts it again at once; Next() then records 10 s, owed by the *second* exit. The waits between an
exit and the next start are therefore 0, 10, 20, 40, 80, 160, 300, 300, ... (restart_delays), while the backoff
the kubelet reports ("Back-off 10s restarting failed container") runs 10, 20, 40, ... (schedule).
"""

from __future__ import annotations

import dataclasses

from isodemo.errors import UsageError
from isodemo.i18n import _

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# pkg/kubelet/kubelet.go
INITIAL_BACKOFF = 10.0  # initialCrashLoopBackOff
MAX_BACKOFF = 300.0  # MaxCrashLoopBackOff (kubelet config crashLoopBackOff.maxContainerRestartPeriod, 1.35+)
RESET_AFTER = 600.0  # HasExpiredFunc: the container ran more than 10 minutes before it died

ALWAYS = "Always"
ON_FAILURE = "OnFailure"
NEVER = "Never"
RESTART_POLICIES = (ALWAYS, ON_FAILURE, NEVER)

# containerd internal/cri/server/helpers.go
OOM_EXIT_CODE = 137  # oomExitCodeInLinux: 128 + SIGKILL
OOM_KILLED = "OOMKilled"  # oomExitReason
COMPLETED = "Completed"
ERROR = "Error"

# pkg/apis/core/v1/defaults.go SetDefaults_Probe (seconds and counts)
PERIOD = 10
TIMEOUT = 1
FAILURE_THRESHOLD = 3
SUCCESS_THRESHOLD = 1
INITIAL_DELAY = 0

LIVENESS = "liveness"
READINESS = "readiness"
STARTUP = "startup"


class RestartPolicyError(UsageError, ValueError):
    """A restartPolicy that is not Always, OnFailure or Never."""


class Backoff:
    """One container's flowcontrol.Backoff entry, as the kubelet keeps it (times in seconds, any clock).

    Drive it like doBackOff: when the container exits at `finished_at`, `restart_delay(finished_at)` says how long
    after that exit the kubelet may start it again; when it does start it (at `now`), call `restarted(now)`.
    """

    def __init__(
        self, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF, reset_after: float = RESET_AFTER
    ) -> None:
        # KubeletCrashLoopBackOffMax: a maximum below the initial delay becomes the initial delay too
        self.initial = min(initial, maximum)
        self.maximum = maximum
        self.reset_after = reset_after
        self.backoff: float | None = None  # entry.backoff; None: no entry yet
        self.last_update = 0.0  # entry.lastUpdate: when Next() last ran, i.e. the last start

    @classmethod
    def at_speed(cls, speed: float) -> Backoff:
        """The real constants divided by `speed` (a demo at --speed 10 waits 1 s, 2 s, 4 s, ...)."""
        return cls(INITIAL_BACKOFF / speed, MAX_BACKOFF / speed, RESET_AFTER / speed)

    def expired(self, finished_at: float) -> bool:
        """HasExpiredFunc: more than reset_after from the last start to this exit (the container ran long)."""
        return finished_at - self.last_update > self.reset_after

    def restart_delay(self, finished_at: float) -> float:
        """IsInBackOffSince: the wait owed from `finished_at`; 0 without an entry or after a long run."""
        if self.backoff is None or self.expired(finished_at):
            return 0.0
        return self.backoff

    def restarted(self, finished_at: float, now: float) -> float:
        """Next(key, finishedAt) at the start `now`: the backoff the next exit will owe (10, then doubled, capped)."""
        if self.backoff is None or self.expired(finished_at):
            self.backoff = self.initial
        else:
            self.backoff = min(self.backoff * 2, self.maximum)
        self.last_update = now
        return self.backoff


def schedule(n: int, speed: float = 1.0) -> list[float]:
    """The backoff after each of n restarts: [10, 20, 40, 80, 160, 300, 300, ...] / speed."""
    backoff = Backoff.at_speed(speed)
    return [backoff.restarted(0.0, 0.0) for _i in range(n)]


def restart_delays(n: int, speed: float = 1.0) -> list[float]:
    """The wait from each exit to the next start, for n restarts of a container that dies at once:
    [0, 10, 20, 40, 80, 160, 300, ...] / speed (the first restart is immediate, see the module docstring)."""
    return [0.0, *schedule(n - 1, speed)] if n > 0 else []


@dataclasses.dataclass(frozen=True)
class DelayCheck:
    restart: int  # 1 for the first restart
    expected: float
    measured: float
    allowed: float  # the largest |measured - expected| accepted
    ok: bool


def delay_tolerance(expected: float, *, absolute: float = 0.5, share: float = 0.3, slack: float = 0.05) -> float:
    """How far a measured wait may be from `expected`: `share` of it, at most `absolute`, plus `slack` (the
    machine's own delay). Below the next wait's distance, so a wait that did not double fails: at --speed 100
    0.1 s is allowed 0.08 s, 0.2 s 0.11 s, 0.4 s 0.17 s; from 1.67 s on, 0.55 s."""
    return min(absolute, share * expected) + slack


def check_delays(
    measured: Sequence[float], speed: float = 1.0, *, absolute: float = 0.5, share: float = 0.3, slack: float = 0.05
) -> list[DelayCheck]:
    """Each measured exit-to-start wait against restart_delays at `speed`, within delay_tolerance()."""
    checks = []
    for number, (got, want) in enumerate(zip(measured, restart_delays(len(measured), speed), strict=True), start=1):
        allowed = delay_tolerance(want, absolute=absolute, share=share, slack=slack)
        checks.append(DelayCheck(number, want, got, allowed, abs(got - want) <= allowed))
    return checks


def matches_schedule(
    measured: Sequence[float], speed: float = 1.0, *, absolute: float = 0.5, share: float = 0.3, slack: float = 0.05
) -> bool:
    """True if every measured wait matches the kubelet's (check_delays for the details)."""
    return all(check.ok for check in check_delays(measured, speed, absolute=absolute, share=share, slack=slack))


def should_restart(policy: str, exit_code: int) -> bool:
    """ShouldContainerBeRestarted for an exited container: Always yes, Never no, OnFailure unless it exited 0."""
    if policy == ALWAYS:
        return True
    if policy == ON_FAILURE:
        return exit_code != 0
    if policy == NEVER:
        return False
    raise RestartPolicyError(
        _("restartPolicy: {value} is not a restart policy", value=policy or '""'),
        _("use one of Always, OnFailure, Never"),
    )


def reason(exit_code: int, oom_killed: bool, *, oom_event: bool = False) -> str:
    """The reason containerd reports for an exited container.

    `oom_event`: an OOM event for the container's cgroup reached containerd while it ran (TaskOOM sets
    OOMKilled whatever the exit code, even for a child process). `oom_killed`: the cgroup's oom_kill counter
    (memory.events, memory.oom_control) read at the exit, which containerd consults only for exit status 137.
    Otherwise 0 is Completed and anything else Error.
    """
    if oom_event or (exit_code == OOM_EXIT_CODE and oom_killed):
        return OOM_KILLED
    return COMPLETED if exit_code == 0 else ERROR


class ProbeState:
    """One probe worker's counting (worker.go doProbe): a result is acted on only after `threshold` alike in a row.

    `result` is what the kubelet acts on: readiness starts False (not ready until it succeeds), liveness and startup
    start True. A liveness or startup failure puts the worker on hold until the container is replaced
    (`new_container`): the kubelet kills and restarts it (`restart_needed`).
    """

    def __init__(
        self, kind: str, *, success_threshold: int = SUCCESS_THRESHOLD, failure_threshold: int = FAILURE_THRESHOLD
    ) -> None:
        if kind not in (LIVENESS, READINESS, STARTUP):
            raise ValueError(f"probe kind {kind!r}")
        if kind != READINESS and success_threshold != 1:
            raise ValueError("successThreshold must be 1 for liveness and startup probes (API validation)")
        if success_threshold < 1 or failure_threshold < 1:
            raise ValueError("probe thresholds are at least 1")
        self.kind = kind
        self.success_threshold = success_threshold
        self.failure_threshold = failure_threshold
        self.new_container()

    def new_container(self) -> None:
        """A new container ID: the initial result again, counting from zero, probing resumed."""
        self.result = self.kind != READINESS
        self.last: bool | None = None
        self.run = 0
        self.on_hold = False

    def record(self, success: bool) -> bool:
        """One probe's outcome; True when it changed `result` (a threshold was crossed)."""
        if self.on_hold:
            return False
        if success == self.last:
            self.run += 1
        else:
            self.last, self.run = success, 1
        if self.run < (self.success_threshold if success else self.failure_threshold):
            return False
        changed = self.result != success
        self.result = success
        if not success and self.kind != READINESS:
            self.on_hold, self.run = True, 0
        return changed

    @property
    def ready(self) -> bool:
        return self.result

    @property
    def restart_needed(self) -> bool:
        """A liveness or startup probe crossed failureThreshold: the kubelet restarts the container."""
        return self.kind != READINESS and not self.result
