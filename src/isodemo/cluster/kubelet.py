"""The kubelet's part of auto-healing on the node: it sees a container exit, reads why, and restarts it when the
pod's restartPolicy says so, after the CrashLoopBackOff wait; its probes decide when a live container is killed.

    exit        select() on a pidfd of the container's PID 1 (its helper) returns it readable (the kubelet's PLEG
                relists the runtime every second and learns of the exit there; isodemo sees it at once)
    reason      the memory cgroup's OOM kill counter, read before the cgroup is removed (containerd reads it
                from the task's OOM event): memory.events oom_kill on v2, memory.oom_control oom_kill on v1
                (memory.failcnt on kernels before 4.13, whose oom_control has no oom_kill line)
    restart     kube/restarts.should_restart and Backoff (kubelet.go, flowcontrol): the same container name
                started again, with a new PID, cgroup and overlay (the image as it was)

Simplifications, named: the backoff is kept per container, as the kubelet keys it (pod and container name), but
only for the life of this process; isodemo caps the restarts of each container (the kubelet never stops); the
kubelet starts a container again at its next sync of the pod after the wait, isodemo at the end of the wait.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import time
from collections.abc import Callable
from typing import Any

from isodemo.cgroups.base import parse_keyed, read_file
from isodemo.kube import restarts

OOM_EVENTS = "memory.events"
OOM_CONTROL = "memory.oom_control"
FAILCNT = "memory.failcnt"

# Probe times below these are not scaled further: a healthy answer from a slow (emulated) machine must not count
# as a failure, and a period must leave room for its timeout.
MIN_PROBE_TIMEOUT = 0.25
MIN_PROBE_PERIOD = 0.5
LATENCY_FACTOR = 5  # a probe's timeout is at least this many times the slowest healthy answer measured


@dataclasses.dataclass(frozen=True)
class ProbeTiming:
    """A probe's periodSeconds and timeoutSeconds at a speed: what the pod spec says, and what isodemo waits."""

    period_seconds: int
    timeout_seconds: int
    failure_threshold: int
    period: float  # seconds isodemo waits between probes
    timeout: float  # seconds isodemo gives each probe
    floored: bool = False  # a floor, not the speed, set the period or the timeout: the probes run slower


def probe_timing(
    speed: float,
    period_seconds: int = restarts.PERIOD,
    timeout_seconds: int = restarts.TIMEOUT,
    failure_threshold: int = restarts.FAILURE_THRESHOLD,
    latency: float = 0.0,
) -> ProbeTiming:
    """The defaults (periodSeconds 10, timeoutSeconds 1, failureThreshold 3) divided by `speed`, but not below
    MIN_PROBE_PERIOD and MIN_PROBE_TIMEOUT, nor (the timeout) below LATENCY_FACTOR x `latency`, the slowest
    healthy probe measured on this machine."""
    timeout = max(timeout_seconds / speed, MIN_PROBE_TIMEOUT, LATENCY_FACTOR * latency)
    period = max(period_seconds / speed, MIN_PROBE_PERIOD, 2 * timeout)
    floored = period > period_seconds / speed or timeout > timeout_seconds / speed
    return ProbeTiming(period_seconds, timeout_seconds, failure_threshold, period, timeout, floored)


def probe_ok(status: int) -> bool:
    """An httpGet probe succeeds on a status from 200 to 399 (pkg/probe/http/http.go)."""
    return 200 <= status < 400


def oom_counter(version: int, text: str, failcnt: str | None = None) -> tuple[int, str]:
    """The OOM kills a memory cgroup recorded, and the file that said so. `text`: memory.events (v2) or
    memory.oom_control (v1); `failcnt`: v1's memory.failcnt, used only when oom_control has no oom_kill line
    (kernels before 4.13): it counts the times the limit was hit, which an OOM kill in a cgroup always follows."""
    keyed = parse_keyed(text)
    if version == 2:
        return keyed.get("oom_kill", 0), OOM_EVENTS
    if "oom_kill" in keyed or failcnt is None:
        return keyed.get("oom_kill", 0), OOM_CONTROL
    return int(failcnt.strip() or 0), FAILCNT


def oom_kills(cgroup: Any) -> tuple[int, str]:
    """oom_counter() for a live cgroup: (count, full path of the file read)."""
    if cgroup.version == 2:
        path = cgroup.file_path(OOM_EVENTS, "memory")
        count, _name = oom_counter(2, read_file(path))
        return count, path
    path = cgroup.file_path(OOM_CONTROL, "memory")
    text = read_file(path)
    if "oom_kill " in text:
        return oom_counter(1, text)[0], path
    failcnt_path = cgroup.file_path(FAILCNT, "memory")
    return oom_counter(1, text, read_file(failcnt_path))[0], failcnt_path


@dataclasses.dataclass(frozen=True)
class Exit:
    """What the kubelet records of a container that ended (the "Last State: Terminated" of kubectl describe)."""

    code: int
    finished_at: float  # CLOCK_MONOTONIC
    oom_kills: int
    oom_file: str  # the file the count came from
    reason: str  # OOMKilled, Error or Completed
    pid: int


def wait_exit(container: Any, timeout: float | None = None) -> Exit | None:
    """Wait for the container's PID 1 to end (None if it still runs after `timeout`), then record it."""
    fd = container.started.box.wait_fd()
    try:
        ended, _w, _x = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return record_exit(container, time.monotonic()) if ended else None


def record_exit(container: Any, finished_at: float) -> Exit:
    """The container has ended: its OOM count read from its cgroup while that still exists, its exit code
    reaped, then its cgroup, overlay and directories removed."""
    count, path = oom_kills(container.cgroup)
    code = int(container.started.box.reap())
    pid = container.pid
    container.kill()  # the process is gone already; this removes what is left of it
    return Exit(code, finished_at, count, path, restarts.reason(code, count > 0), pid)


def stop(container: Any, grace: float) -> Exit:
    """The kubelet's kill of a container (a failed liveness probe): PodContainer.terminate(grace), SIGTERM then
    SIGKILL if it still runs after `grace` (terminationGracePeriodSeconds), recorded like any exit. Its OOM
    count is read just before the SIGTERM (terminate removes the cgroup): an OOM kill within the grace would
    be missed, and the reason would say Error."""
    count, path = oom_kills(container.cgroup)
    pid = container.pid
    code = int(container.terminate(grace))
    return Exit(code, time.monotonic(), count, path, restarts.reason(code, count > 0), pid)


def start_in(pod: Any, name: str, command: tuple[str, ...], **resources: Any) -> Any:
    """A container called `name` in `pod`'s network namespace (a pod can have several; pods.Pod.start makes
    the one named after the pod). Owned by the pod: deleting the pod removes it."""
    from isodemo.context import DemoContext
    from isodemo.pod import containers

    own = DemoContext(pod.ctx.run, pod.ctx.host, pod.stack, False, pod.ctx.options)
    return containers.start(own, name, command, join={"net": pod.netns_path}, hostname=pod.name, **resources)


@dataclasses.dataclass
class Tracked:
    """One container under the restart loop: its policy, backoff entry and history."""

    key: str
    policy: str
    start: Callable[[], Any]  # starts the container again (same name), returns its PodContainer
    limit: int  # isodemo's cap on restarts
    backoff: restarts.Backoff
    container: Any = None
    fd: int | None = None
    exits: list[Exit] = dataclasses.field(default_factory=list)
    starts: list[float] = dataclasses.field(default_factory=list)
    waits: list[float] = dataclasses.field(default_factory=list)  # exit -> next start, measured
    next_start: float | None = None
    capped: bool = False  # the policy said restart, isodemo's cap said no

    @property
    def restarts(self) -> int:
        return len(self.starts) - 1


class RestartLoop:
    """The kubelet's sync of a set of containers: watch each, record each exit, restart by policy and backoff."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.tracked: list[Tracked] = []

    def add(self, key: str, policy: str, start: Callable[[], Any], limit: int) -> Tracked:
        restarts.should_restart(policy, 1)  # refuses a policy that is not one
        item = Tracked(key, policy, start, limit, restarts.Backoff.at_speed(self.speed))
        self.tracked.append(item)
        self._start(item, time.monotonic())
        return item

    def _start(self, item: Tracked, now: float) -> None:
        if item.exits:
            item.waits.append(now - item.exits[-1].finished_at)
            item.backoff.restarted(item.exits[-1].finished_at, now)
        item.next_start = None
        item.starts.append(now)
        item.container = item.start()
        item.fd = item.container.started.box.wait_fd()

    def _exited(self, item: Tracked) -> None:
        assert item.fd is not None
        os.close(item.fd)
        item.fd = None
        container, item.container = item.container, None
        exit_ = record_exit(container, time.monotonic())
        item.exits.append(exit_)
        if not restarts.should_restart(item.policy, exit_.code):
            return
        if item.restarts >= item.limit:
            item.capped = True
            return
        item.next_start = exit_.finished_at + item.backoff.restart_delay(exit_.finished_at)

    def run(self, timeout: float) -> bool:
        """Until no container runs and none waits to be restarted; False if `timeout` ran out first."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            for item in self.tracked:
                if item.next_start is not None and item.next_start <= now:
                    self._start(item, now)
            running = {item.fd: item for item in self.tracked if item.fd is not None}
            pending = [item.next_start for item in self.tracked if item.next_start is not None]
            if not running and not pending:
                return True
            if now >= deadline:
                return False
            wait = min([deadline, *pending]) - now
            ready, _w, _x = select.select(list(running), [], [], max(wait, 0.0))
            for fd in ready:
                self._exited(running[fd])

    def close(self) -> None:
        """Stop whatever still runs (a timeout): close the pidfds and kill the containers."""
        for item in self.tracked:
            if item.fd is not None:
                os.close(item.fd)
                item.fd = None
            if item.container is not None:
                with contextlib.suppress(Exception):
                    item.container.kill()
                item.container = None
            item.next_start = None


def terminate_all(containers: list[Any], grace: float) -> list[int]:
    """Stop several pods' containers at once, as a ReplicaSet's deletions and the kubelet's kills run side by
    side: SIGTERM reaches all of them together and together they take about `grace`, not one grace each
    (pod/containers.terminate_all). Their exit codes, in order (137: the grace ran out, SIGKILL ended it)."""
    from isodemo.pod import containers as pod_containers

    return pod_containers.terminate_all(containers, grace)
