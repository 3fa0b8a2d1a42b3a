"""The Deployment controller and the kubelet, for one Deployment behind one Service: pods made and deleted one
sync at a time as kube/deployment.py's planners say, readiness probed, the EndpointSlice kept.

    ReplicaSet     one version of the pod template: its name web-<pod-template-hash>, its revision, its pods
    Controller     create(): a pod of a ReplicaSet (sandbox, container), not ready yet
                   probe(): the kubelet's readiness probes that are due; a pod that answers 200-399
                            (kubelet.probe_ok) goes into the endpoints (ready=true) and kube-proxy syncs
                   delete(): pods out of the endpoints first (ready=false, kube-proxy syncs), then the preStop
                            wait, then SIGTERM and SIGKILL, CNI DEL, the pod gone
                   rolling() / recreate(): a whole update, driven by RollingUpdate.step / Recreate.step
Every change is an Event (kube/timeline.py) with the counts after it, and a sample of what was observed then:
the pods whose container still runs, read from /proc (`running`).

Simplifications, named (the demo says them): one process is the controller, the kubelet, the EndpointSlice
controller and kube-proxy, so the order "out of the endpoints, then stopped" is certain here; in a cluster the
kubelet's SIGTERM and the endpoint removal start at the same moment and race, which is why preStop hooks and
graceful shutdown exist. Deleting a pod is finished before the next sync (a cluster's terminating pods linger
and do not count against maxSurge). A pod is probed only until it is ready (a kubelet keeps probing it for its
whole life). After the preStop wait the SIGKILL follows the SIGTERM at once (a kubelet waits out the rest of
terminationGracePeriodSeconds for a PID 1 that ignores SIGTERM, as busybox httpd does).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from isodemo.cluster import kubelet
from isodemo.cluster.pods import HTTP_PORT, Pod
from isodemo.errors import IsodemoError
from isodemo.i18n import _
from isodemo.kernel import procfs
from isodemo.kube import deployment, timeline

# rand.SafeEncodeString's alphabet (apimachinery/pkg/util/rand): no vowels, no digits that look like letters
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def pod_template_hash(template: str, collision_count: int = 0) -> str:
    """ComputeHash (pkg/controller/controller_utils.go): FNV-32a over the template, the collision count added
    when there is one, SafeEncodeString of the decimal sum. Over the template's text here (not Go's spew dump of
    the struct), so the value differs from a cluster's for the same YAML."""
    value = 0x811C9DC5
    data = template.encode() + (str(collision_count).encode() if collision_count else b"")
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(char) % len(_SAFE)] for char in str(value))


READY_TIMEOUT = 100.0  # real-scale seconds a new pod has to become ready before the demo fails
MIN_READY_TIMEOUT = 10.0  # and never less than this, whatever the speed


@dataclasses.dataclass(frozen=True)
class Timing:
    """Real-scale seconds and the speed they are divided by; the readiness probe's period and timeout are the
    kubelet module's (kubelet.probe_timing: divided by the speed, but not below its floors)."""

    speed: float = 1.0
    pre_stop: float = 5.0  # the preStop hook's `sleep 5`
    grace: float = 30.0  # terminationGracePeriodSeconds default (named, not waited: see delete())

    @property
    def probe(self) -> kubelet.ProbeTiming:
        return kubelet.probe_timing(self.speed)

    @property
    def ready_timeout(self) -> float:
        """Seconds a new pod has to pass its readiness probe before the rollout counts as stalled."""
        return max(READY_TIMEOUT / self.speed, MIN_READY_TIMEOUT)

    def scaled(self, seconds: float) -> float:
        return seconds / self.speed


@dataclasses.dataclass
class ReplicaSet:
    """One version of the pod template; `pods` in the order they were made, `ready` the names of ready ones."""

    name: str
    version: str
    revision: int
    pods: list[Pod] = dataclasses.field(default_factory=list)
    ready: set[str] = dataclasses.field(default_factory=set)

    def unready(self) -> list[Pod]:
        return [pod for pod in self.pods if pod.name not in self.ready]


class PodNeverReady(IsodemoError):
    """A new pod did not pass its readiness probe in time: the rollout would stall (progressDeadlineSeconds)."""


class Controller:
    """Makes and deletes `make_pod(owner, version)`'s pods, probes them from `node`, keeps `endpoints` in line."""

    def __init__(
        self,
        node: Any,
        endpoints: Any,
        make_pod: Callable[[str, str], Pod],
        timing: Timing,
    ) -> None:
        self.node = node
        self.endpoints = endpoints
        self.make_pod = make_pod
        self.timing = timing
        self.events: list[timeline.Event] = []
        self.steps: list[tuple[str, int, int]] = []  # (rule, created, removed) per sync that acted
        self.exit_codes: list[int] = []
        self.running: list[tuple[float, list[str]]] = []  # (when, the pods whose container ran then) per event
        self._processes: dict[str, tuple[int, str | None]] = {}  # pod -> its container's PID and start time
        self._old: ReplicaSet | None = None
        self._new: ReplicaSet | None = None
        self._next_probe: dict[str, float] = {}
        self._created: dict[str, float] = {}

    # -- the pieces ----------------------------------------------------------------------------------------

    def watch(self, old: ReplicaSet | None, new: ReplicaSet) -> None:
        """The ReplicaSets the events count: `old` (scaled down) and `new` (scaled up); fresh lists of events,
        samples and exit codes."""
        self._old, self._new = old, new
        self.events = []
        self.steps = []
        self.running = []
        self.exit_codes = []

    def event(self, kind: str, pods: tuple[str, ...] = (), at: float | None = None) -> timeline.Event:
        """Record a change (`at`: when kube-proxy's rules changed, else now) with the counts after it."""
        old, new = self._old, self._new
        made = timeline.Event(
            time.monotonic() if at is None else at,
            kind,
            pods,
            len(old.pods) if old else 0,
            len(old.ready) if old else 0,
            len(new.pods) if new else 0,
            len(new.ready) if new else 0,
        )
        self.events.append(made)
        # sampled now; stamped with the event's own time unless that is kube-proxy's (earlier) sync
        self.running.append((made.at if at is None else time.monotonic(), self.observe_running()))
        return made

    def observe_running(self) -> list[str]:
        """The pods whose container's PID 1 runs now, read from /proc (the same PID, by its start time, and not
        a zombie), over every pod ever made: not from the ReplicaSets' lists."""
        return [
            name
            for name, (pid, started) in self._processes.items()
            if started is not None and procfs.start_time(pid) == started and not procfs.is_zombie(pid)
        ]

    def create(self, replica_set: ReplicaSet, count: int) -> list[Pod]:
        made = []
        for _i in range(count):
            pod = self.make_pod(replica_set.name, replica_set.version)
            replica_set.pods.append(pod)
            self.endpoints.set(pod.name, pod.address, False)  # in the EndpointSlice, not ready: not in the map
            now = time.monotonic()
            self._next_probe[pod.name] = now  # the kubelet's probe worker probes at once, then every period
            self._created[pod.name] = now
            self._processes[pod.name] = (pod.pid, procfs.start_time(pod.pid))
            made.append(pod)
        self.event(timeline.CREATED, tuple(p.name for p in made))
        return made

    def probe(self, replica_set: ReplicaSet) -> list[Pod]:
        """The readiness probes that are due (httpGet / on 8080 from the node); the pods that became ready. A
        ready pod is not probed again."""
        became = []
        probe = self.timing.probe
        for pod in replica_set.unready():
            now = time.monotonic()
            if self._next_probe.get(pod.name, now) > now:
                continue
            status, _body = self.node.http_get(pod.address, HTTP_PORT, "/", probe.timeout)
            self._next_probe[pod.name] = now + probe.period
            if kubelet.probe_ok(status):
                replica_set.ready.add(pod.name)
                _lines, applied = self.endpoints.set(pod.name, pod.address, True)
                self.event(timeline.READY, (pod.name,), applied)
                became.append(pod)
            elif now - self._created.get(pod.name, now) > self.timing.ready_timeout:
                raise PodNeverReady(
                    _("pod {pod} did not pass its readiness probe", pod=pod.name),
                    _("the machine may be very busy: run again, or with a lower --speed"),
                )
        return became

    def next_probe_in(self, replica_set: ReplicaSet) -> float:
        """Seconds until the next due probe of a pod that is not ready (0.0 when none waits)."""
        due = [self._next_probe.get(pod.name, 0.0) for pod in replica_set.unready()]
        return max(0.0, min(due) - time.monotonic()) if due else 0.0

    def delete(self, replica_set: ReplicaSet, victims: list[Pod]) -> None:
        """Out of the endpoints first (ready=false: kube-proxy drops them from its map), the preStop wait, then
        stopped (SIGTERM, then SIGKILL at once: httpd as PID 1 has no SIGTERM handler, and isodemo does not wait
        out the rest of the grace period as a kubelet would), CNI DEL, gone."""
        if not victims:
            return
        first = None
        for pod in victims:
            replica_set.ready.discard(pod.name)
            _lines, applied = self.endpoints.set(pod.name, pod.address, False)
            first = applied if first is None else first
        self.event(timeline.OUT, tuple(p.name for p in victims), first)
        time.sleep(self.timing.scaled(self.timing.pre_stop))
        for pod in victims:
            if pod.container is not None:
                self.exit_codes.append(pod.container.terminate(0.0))
            pod.delete()
            self.endpoints.remove(pod.name)
            replica_set.pods.remove(pod)
        self.event(timeline.TERMINATED, tuple(p.name for p in victims))

    # -- whole updates -------------------------------------------------------------------------------------

    def rolling(self, old: ReplicaSet, new: ReplicaSet, plan: deployment.RollingUpdate) -> None:
        """rolloutRolling, one sync at a time until the planner says complete."""
        self.watch(old, new)
        self.event(timeline.START)
        while True:
            self.probe(new)
            counts = deployment.Counts(len(old.pods), len(old.ready), len(new.pods), len(new.ready))
            step = plan.step(counts)
            if step.done:
                break
            if step.create:
                self.create(new, step.create)
            elif step.remove:
                self.delete(old, self._victims(old, step.remove))
            else:
                time.sleep(max(0.005, self.next_probe_in(new)))
                continue
            self.steps.append((step.rule, step.create, step.remove))
        self.event(timeline.COMPLETE)

    def recreate(self, old: ReplicaSet, new: ReplicaSet, plan: deployment.Recreate) -> None:
        """rolloutRecreate: every old pod out and gone, then the new ones made; complete when all are ready
        (as `kubectl rollout status` waits for them)."""
        self.watch(old, new)
        self.event(timeline.START)
        while True:
            self.probe(new)
            step = plan.step(len(old.pods), len(old.pods), len(new.pods))
            if step.done and not new.unready():
                break
            if step.remove:
                self.delete(old, list(old.pods))
            elif step.create:
                self.create(new, step.create)
            else:
                time.sleep(max(0.005, self.next_probe_in(new)))
                continue
            self.steps.append((step.rule, step.create, step.remove))
        self.event(timeline.COMPLETE)

    @staticmethod
    def _victims(old: ReplicaSet, count: int) -> list[Pod]:
        """Which old pods go: not ready ones first (cleanupUnhealthyReplicas), then the newest (the ReplicaSet
        controller's ranking deletes younger pods first)."""
        ranked = old.unready() + [pod for pod in reversed(old.pods) if pod.name in old.ready]
        return ranked[:count]
