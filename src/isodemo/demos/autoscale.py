"""autoscale: a HorizontalPodAutoscaler's loop over real containers, its every decision checked.

What you will see: a Deployment of one pod behind a Service, each pod with a CPU request of 100m (cpu.shares
102) and a CGI, /cgi-bin/work, that burns CPU in a busybox sh loop for each request; a client pod that sends
requests through the Service; an autoscaler that, every sync period, reads each pod's CPU counter in its cgroup
(cpu.stat usage_usec on v2, cpuacct.usage on v1), turns the increase into millicores, the millicores into a
utilization of the request, and the utilization into a replica count with desired = ceil(current x
utilization / target) and the 0.1 tolerance; new pods join the Service when their readiness probe passes.
When the load stops, the pods go back to one only after the downscale stabilization window. A timeline of the
measurements, and a check that every decision follows from them by the controller's rules.
Kubernetes: HorizontalPodAutoscaler (autoscaling/v2, CPU Utilization), metrics-server, Deployment.

Time runs --speed times faster than in a cluster (sync 15 s, window 300 s, scale-up period 15 s, grace 30 s);
the narration gives both. The decisions are kube/hpa.py's; the check is kube/hpa_check.py's (independent).
"""

from __future__ import annotations

import math
import os
import signal
import time
from typing import Any

from isodemo.cgroups.base import read_file
from isodemo.cluster import client as requests_
from isodemo.cluster import kubelet, metrics
from isodemo.cluster.endpoints import EndpointSlice
from isodemo.cluster.pods import HTTP_PORT, Pod
from isodemo.context import DemoContext
from isodemo.demos import cluster_steps as steps
from isodemo.i18n import _
from isodemo.kube import hpa, hpa_check
from isodemo.kube.cgroup_values import milli_cpu_to_shares
from isodemo.narrate.base import Narrator

REQUEST_MILLI = 100  # resources.requests.cpu of each pod
TARGET = 50.0  # averageUtilization, as in the Kubernetes HPA walkthrough (php-apache)
MIN_REPLICAS = 1
DEFAULT_MAX = 6
DEFAULT_SPEED = 20.0
COST_MS = 16.0  # CPU each request should burn: with one every 40 ms, about 0.4 CPU in all
CLIENT_INTERVAL = 0.04
PROBE_LOOPS = 4000  # the loop count of the calibration requests
PROBE_REQUESTS = 8
LOOPS_RANGE = (200, 400_000)
GRACE = 30.0  # terminationGracePeriodSeconds
PROBE_TIMEOUT = 0.5  # a readiness probe again, at a sync, for a pod not ready yet
SYNCS_AT_MAX = 2  # syncs with the load on once maxReplicas is reached
LOAD_SYNCS = 10  # at most, with the load on
SYNCS_AFTER_DOWN = 1
WORK = """\
case "$QUERY_STRING" in ''|*[!0-9]*) n=1000 ;; *) n=$QUERY_STRING ;; esac
i=0
while [ $i -lt $n ]; do i=$((i + 1)); done
echo 'Content-Type: text/plain'
echo
echo "$i loops"
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: web
        image: busybox
        command: [httpd, -f, -p, "8080", -h, /www]
        resources: {requests: {cpu: 100m}}
"""
HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: <max>
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 50}
  behavior: {}
"""


class _Cluster(steps.ClusterDemo):
    def __init__(self, narrator: Narrator, ctx: DemoContext) -> None:
        super().__init__(narrator, ctx)
        self.speed = float(ctx.options.get("speed") or DEFAULT_SPEED)
        self.max_replicas = int(ctx.options.get("max_replicas") or DEFAULT_MAX)
        self.pods: list[Pod] = []
        self.meter = metrics.CpuMeter()
        self.scaler = hpa.Autoscaler(self.max_replicas, MIN_REPLICAS, TARGET, speed=self.speed)
        self.samples: list[hpa_check.Sample] = []
        self.loops = PROBE_LOOPS
        self.started = 0.0  # the autoscaler's clock: seconds since the load started, holds left out
        self.paused = 0.0
        self.load_stopped = 0.0
        self.scaled_down_at: float | None = None
        self.exit_codes: list[int] = []  # of the pods the scale-down stopped
        self.unready: list[Pod] = []  # started, not yet answering their readiness probe: not in the Service

    def now(self) -> float:
        return time.monotonic() - self.started - self.paused

    def real(self, seconds: float) -> str:
        """Seconds on the demo's clock (already divided by --speed) as a cluster's, and as here."""
        return steps.at_speed(seconds * self.speed, self.speed)


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.2f}".rstrip("0").rstrip(".")


def usage_file(pod: Pod) -> str:
    assert pod.container is not None
    return str(pod.container.cgroup.cpu_usage_file)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    cluster = _Cluster(narrator, ctx)
    cluster.node, proxy = steps.node(narrator, ctx)
    cluster.slice = EndpointSlice(steps.service_port(node_port=False), proxy)
    _deployment(cluster)
    cluster.client = steps.client(narrator, ctx, cluster.the_node)
    _calibrate(cluster)
    _autoscaler(cluster)
    _load(cluster)
    _quiet(cluster)
    _verdict(cluster)
    narrator.kubernetes(
        _(
            "This is the HorizontalPodAutoscaler with a Resource metric, cpu, type Utilization: the share of the "
            "pods' CPU request they use, averaged. The kubelet reads the same cgroup counters, the "
            "metrics-server turns them into rates, and the HPA controller, every 15 s, computes ceil(current x "
            "utilization / target), limits the step and scales the Deployment; the ReplicaSet makes or deletes "
            "the pods, and the Service sends traffic only to the ready ones."
        )
    )


def _start_pod(cluster: _Cluster) -> tuple[Pod, bool]:
    """A pod of the Deployment: CPU request 100m as cpu.shares, ready by its probe, then in the Service."""
    pod = steps.make_pod(
        cluster.ctx, cluster.the_node, "web", "", cgi={"work": WORK}, cpu_shares=milli_cpu_to_shares(REQUEST_MILLI)
    )
    cluster.pods.append(pod)
    ready = steps.wait_ready(cluster.the_node, pod) is not None
    return pod, ready


def _join(cluster: _Cluster, pod: Pod, ready: bool) -> list[str]:
    """The pod's first CPU reading (its rate starts here), then its endpoint: ready only if its readiness probe
    answered; an unready pod is probed again at each sync and joins when it answers."""
    cluster.meter.start(pod.name, usage_file(pod))
    lines, _applied = cluster.endpoints.set(pod.name, pod.address, ready)
    if not ready:
        cluster.unready.append(pod)
    return lines


def _probe_unready(cluster: _Cluster) -> None:
    """The kubelet's readiness probe, once more, for each pod that was not ready yet: ready ones join."""
    for pod in list(cluster.unready):
        status, _body = cluster.the_node.http_get(pod.address, HTTP_PORT, "/", PROBE_TIMEOUT)
        if kubelet.probe_ok(status):
            cluster.endpoints.set(pod.name, pod.address, True)
            cluster.unready.remove(pod)


def _deployment(cluster: _Cluster) -> None:
    narrator = cluster.narrator
    shares = milli_cpu_to_shares(REQUEST_MILLI)
    narrator.step(
        _("A Deployment of one pod with a CPU request of {milli}m, behind the Service web", milli=REQUEST_MILLI),
        syscalls=["setns(fd, CLONE_NEWNET)", "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS)"],
        shell=["kubectl apply -f web.yaml", "kubectl expose deployment web --port=80 --target-port=8080"],
    )
    pod, ready = _start_pod(cluster)
    narrator.shell(*pod.shell)
    lines = _join(cluster, pod, ready)
    narrator.compare(
        _("the Deployment"),
        DEPLOYMENT.splitlines(),
        [
            _("each pod: a busybox container, httpd on 8080, cpu.shares {shares}", shares=shares),
            _("/www/cgi-bin/work?N: a sh loop of N steps, CPU for each request"),
            _("the Service: kube-proxy's nftables rules, one chain per ready pod"),
        ],
        host_title=_("Kubernetes"),
        inside_title=_("isodemo"),
    )
    narrator.explain(
        _(
            "A CPU request of {milli}m becomes cpu.shares = {milli} x 1024 / 1000 = {shares} (the kubelet's "
            "MilliCPUToShares; on cgroup v2 the runtime turns it into cpu.weight). A request guarantees a share "
            "when the CPU is contended and limits nothing; for the HPA it is also the yardstick: 100% "
            "utilization means the pods use, on average, what they requested.",
            milli=REQUEST_MILLI,
            shares=shares,
        )
    )
    narrator.shell(*(f"nft {line}" for line in lines[-2:]))
    narrator.fact("cpu_request_millicores", REQUEST_MILLI)
    narrator.fact("cpu_shares", shares, show=False)
    path = usage_file(pod)
    narrator.shell(f"cat {path}")
    narrator.fact("cpu_usage_file", path)
    text = read_file(path)
    narrator.explain(
        _(
            "The pod's CPU counter: {file} holds {value}, {unit}, all of its CPUs summed, since the container "
            "started. It only grows; the autoscaler reads it at every sync.",
            file=os.path.basename(path),
            value=text.splitlines()[0] if text else "?",
            unit=_("nanoseconds (cgroup v1)") if path.endswith(metrics.V1_FILE) else _("microseconds (cgroup v2)"),
        )
    )
    narrator.claim(_("pod {pod} answered its readiness probe and is in the Service", pod=pod.name), ready)


def _calibrate(cluster: _Cluster) -> None:
    """Measure what a request costs here, with 0 loops (httpd forking sh) and with PROBE_LOOPS, and pick the
    loop count for COST_MS of CPU per request."""
    narrator, pod = cluster.narrator, cluster.pods[0]
    service = cluster.endpoints.service
    narrator.step(
        _(
            "What one request costs: {n} requests of 0 and of {loops} loops, measured in the pod's cgroup",
            n=PROBE_REQUESTS,
            loops=PROBE_LOOPS,
        ),
        syscalls=[f"read({usage_file(pod)})"],
        shell=[f"{cluster.the_client.shell_loop(f'http://{service.cluster_ip}/cgi-bin/work?{PROBE_LOOPS}')}"],
    )
    costs, answered, asked = [], 0, 0
    for loops in (0, PROBE_LOOPS):
        before = metrics.read_usage_usec(usage_file(pod))
        path = f"/cgi-bin/work?{loops}"
        records = cluster.the_client.requests(service.cluster_ip, service.port, PROBE_REQUESTS, path=path, timeout=5.0)
        costs.append((metrics.read_usage_usec(usage_file(pod)) - before) / 1000 / PROBE_REQUESTS)
        answered += len(records) - len(requests_.failed(records))
        asked += len(records)
    overhead, with_loops = costs
    per_1000 = max(with_loops - overhead, 0.01) * 1000 / PROBE_LOOPS
    low, high = LOOPS_RANGE
    cluster.loops = max(low, min(high, round(max(COST_MS - overhead, 1.0) / per_1000 * 1000)))
    narrator.table(
        _("CPU per request, from the pod's counter"),
        [_("request"), _("ms of CPU each")],
        [["/cgi-bin/work?0", f"{overhead:.2f}"], [f"/cgi-bin/work?{PROBE_LOOPS}", f"{with_loops:.2f}"]],
    )
    narrator.fact("cpu_ms_per_request_overhead", round(overhead, 2), show=False)
    narrator.fact("cpu_ms_per_1000_loops", round(per_1000, 2), show=False)
    narrator.fact("work_loops", cluster.loops, show=False)
    narrator.explain(
        _(
            "httpd forking sh for the CGI costs {overhead:.1f} ms of CPU, each 1000 loops {per_1000:.2f} ms "
            "more. For about {cost:.0f} ms a request the load below asks for {loops} loops; one request every "
            "{interval:.0f} ms is then about {cores:.1f} CPU, whatever this machine's speed.",
            overhead=overhead,
            per_1000=per_1000,
            cost=COST_MS,
            loops=cluster.loops,
            interval=CLIENT_INTERVAL * 1000,
            cores=COST_MS / 1000 / CLIENT_INTERVAL,
        )
    )
    narrator.claim(
        _("{ok} of {n} requests answered, and the pod's cgroup counted their CPU", ok=answered, n=asked),
        answered == asked and with_loops > 0,
    )


def _autoscaler(cluster: _Cluster) -> None:
    narrator, scaler = cluster.narrator, cluster.scaler
    narrator.step(
        _(
            "The HorizontalPodAutoscaler: target {target:.0f}% of the request, 1 to {max} pods",
            target=TARGET,
            max=cluster.max_replicas,
        ),
        shell=["kubectl apply -f hpa.yaml"],
    )
    narrator.table(
        _("the controller's periods, real and here"),
        [_("setting"), _("in a cluster, and here")],
        [
            [_("sync period (--horizontal-pod-autoscaler-sync-period)"), cluster.real(scaler.sync_period)],
            [_("downscale stabilization window"), cluster.real(scaler.downscale_window)],
            [_("scale-up policies: 4 pods or 100%, per"), cluster.real(scaler.scale_up_period)],
            [_("tolerance"), f"{hpa.TOLERANCE:.1f}"],
        ],
    )
    narrator.compare(
        _("the HorizontalPodAutoscaler"),
        HPA.replace("<max>", str(cluster.max_replicas)).splitlines(),
        [
            _("a loop in this process, every sync period:"),
            _("read each pod's cgroup CPU counter"),
            _("decide with kube/hpa.py (the controller's rules)"),
            _("start pods (ready, then in the Service) or stop them"),
        ],
        host_title=_("Kubernetes"),
        inside_title=_("isodemo"),
    )
    narrator.explain(
        _(
            "behavior: {} is there on purpose. With a spec.behavior, even an empty one, the API server fills in "
            "the default policies (scale up: no window, 4 pods or 100% per 15 s; scale down: a 300 s window, "
            "100% per 15 s) and the controller takes its behavior path, the one followed here. Without it (as "
            "`kubectl autoscale` makes it) the controller takes its older path: the highest recommendation of "
            "the last 5 minutes whichever way it points, and at most max(2 x current, 4) per step."
        )
    )
    narrator.fact("target_utilization", TARGET)
    narrator.fact("min_replicas", MIN_REPLICAS, show=False)
    narrator.fact("max_replicas", cluster.max_replicas, show=False)
    narrator.fact("speed", cluster.speed, show=False)
    narrator.fact("sync_period_s", hpa.SYNC_PERIOD, show=False)
    narrator.fact("downscale_stabilization_s", hpa.DOWNSCALE_STABILIZATION, show=False)
    narrator.explain(
        _(
            "At each sync: each pod's CPU in millicores = the growth of its cgroup counter / the time since the "
            "last reading; utilization = the millicores summed x 100 / the requests summed (a whole percent); "
            "desired = ceil(current x utilization / {target:.0f}), unchanged when utilization / target is within "
            "0.1 of 1. A step up is at most 4 pods or double in a scale-up period; a step down takes the highest "
            "recommendation of the window. Simplified: the pods' CPU is read from their cgroup files directly, "
            "over one sync period (a cluster's metrics-server serves the kubelet's cAdvisor readings over a "
            "15 s window), and a new pod counts at once (no CPU initialization period of 5 minutes, no "
            "readiness delay of 30 s, every pod has a reading).",
            target=TARGET,
        )
    )


def _sync(cluster: _Cluster) -> hpa_check.Sample:
    """One reconcile: read, decide, act."""
    _probe_unready(cluster)
    usage = tuple(cluster.meter.rate(pod.name, usage_file(pod))[0] for pod in cluster.pods)
    current = len(cluster.pods)
    utilization = hpa.utilization([m / 1000 for m in usage], REQUEST_MILLI / 1000)
    now = cluster.now()
    decision = cluster.scaler.decide(now, current, utilization)
    if decision.replicas > current:
        for _i in range(decision.replicas - current):
            pod, ready = _start_pod(cluster)
            _join(cluster, pod, ready)
    elif decision.replicas < current:
        _scale_down(cluster, current - decision.replicas)
    sample = hpa_check.Sample(
        now, usage, current, utilization, decision.raw, decision.replicas, len(cluster.pods), decision.reasons
    )
    cluster.samples.append(sample)
    return sample


def _scale_down(cluster: _Cluster, count: int) -> None:
    """The ReplicaSet deletes the newest pods first: out of the Service (ready=false), then, all at once,
    SIGTERM, the grace period, SIGKILL for what still runs (PodContainer.terminate); then each pod is gone."""
    victims = cluster.pods[-count:]
    del cluster.pods[-count:]
    for pod in victims:
        cluster.endpoints.set(pod.name, pod.address, False)
        cluster.meter.forget(pod.name)
        if pod in cluster.unready:
            cluster.unready.remove(pod)
    running = [pod for pod in victims if pod.container is not None]
    codes = kubelet.terminate_all([pod.container for pod in running], GRACE / cluster.speed)
    cluster.exit_codes.extend(codes)
    for pod in victims:
        pod.container = None  # terminated above: its cgroup, overlay and directories are gone
        cluster.endpoints.remove(pod.name)
        pod.delete()


def _wait_next(cluster: _Cluster, due: float) -> float:
    """Sleep until the sync at `due` (the autoscaler's clock); late after a slow action, sync at once. The next
    one's due time."""
    pause = due - cluster.now()
    if pause > 0:
        time.sleep(pause)
    return max(due, cluster.now()) + cluster.scaler.sync_period


def _load(cluster: _Cluster) -> None:
    narrator, service = cluster.narrator, cluster.endpoints.service
    path = f"/cgi-bin/work?{cluster.loops}"
    narrator.step(
        _(
            "Load: a request every {ms:.0f} ms through the Service, and the autoscaler's syncs",
            ms=CLIENT_INTERVAL * 1000,
        ),
        syscalls=["read(<pod cgroup>/cpu.stat or cpuacct.usage)  (each pod, each sync)", "connect(10.96.0.100:80)"],
        shell=[cluster.the_client.shell_loop(f"http://{service.cluster_ip}{path}")],
    )
    cluster.the_client.start(service.cluster_ip, service.port, CLIENT_INTERVAL, path=path, timeout=5.0)
    cluster.started = time.monotonic()
    for pod in cluster.pods:
        cluster.meter.start(pod.name, usage_file(pod))
    due, at_max = cluster.scaler.sync_period, 0
    first = len(cluster.samples)
    for _i in range(LOAD_SYNCS):
        due = _wait_next(cluster, due)
        sample = _sync(cluster)
        at_max += sample.current == cluster.max_replicas
        if at_max >= SYNCS_AT_MAX:
            break
    cluster.load_stopped = cluster.now()
    records = cluster.the_client.stop()
    _timeline(cluster, cluster.samples[first:], _("with the load on"))
    failed = len(requests_.failed(records))
    seconds = max(cluster.load_stopped, 0.001)
    narrator.fact("load_requests", len(records), show=False)
    narrator.fact("load_failed_requests", failed)
    narrator.fact("load_requests_per_s", round(len(records) / seconds, 1), show=False)
    peak = max(s.replicas for s in cluster.samples)
    narrator.fact("peak_replicas", peak, show=False)
    narrator.fact("max_replicas_reached", peak == cluster.max_replicas)
    narrator.check(
        "scaled_up",
        peak > 1,
        _(
            "the autoscaler scaled web from 1 to {peak} pods while {n} requests were answered",
            peak=peak,
            n=len(records) - failed,
        ),
        peak > 1,
    )
    cluster.ctx.hold_here(
        narrator,
        {"web": cluster.pods[0].pid, **{pod.name: pod.pid for pod in cluster.pods}},
        [f"cat {usage_file(pod)}" for pod in cluster.pods],
        cgroups=[path for pod in cluster.pods if pod.container for path in pod.container.cgroup.paths],
        netns=[cluster.the_node.name, cluster.the_client.netns_name],
        paths={"usage": usage_file(cluster.pods[0])},
    )


def _quiet(cluster: _Cluster) -> None:
    narrator, scaler = cluster.narrator, cluster.scaler
    narrator.step(
        _("The load stops: the pods idle, and the autoscaler waits out the window"),
        syscalls=["pidfd_send_signal(pidfd, SIGTERM)", "pidfd_send_signal(pidfd, SIGKILL)  (after the grace)"],
        shell=["kubectl get hpa web --watch"],
    )
    held = time.monotonic() - cluster.started - cluster.paused - cluster.load_stopped
    cluster.paused += max(0.0, held)  # a --hold is no time on the autoscaler's clock
    for pod in cluster.pods:
        cluster.meter.start(pod.name, usage_file(pod))
    first = len(cluster.samples)
    due = cluster.now() + scaler.sync_period
    limit = math.ceil(scaler.downscale_window / scaler.sync_period) + 6
    after_down = -1
    for _i in range(limit):
        due = _wait_next(cluster, due)
        sample = _sync(cluster)
        if sample.replicas < sample.current and after_down < 0:
            after_down = 0
            cluster.scaled_down_at = sample.t
        elif after_down >= 0:
            after_down += 1
        if after_down >= SYNCS_AFTER_DOWN:
            break
    _timeline(cluster, cluster.samples[first:], _("after the load"))
    down_at = cluster.scaled_down_at
    scaled_down = down_at is not None and len(cluster.pods) == MIN_REPLICAS
    if down_at is not None:
        after = down_at - cluster.load_stopped
        quiet = cluster.samples[first]
        narrator.fact("scale_down_after_load_s", round(after * cluster.speed, 1))
        narrator.explain(
            _(
                "At the first sync after the load the {pods} pods used {utilization:.0f}% of their request and the "
                "formula gave {raw} (minReplicas is {min}), but the autoscaler keeps the highest recommendation "
                "of the last {window}: it scaled down {after} after the load stopped. The newest pods went first "
                "(the ReplicaSet's choice), each taken out of the Service before its SIGTERM, then given the "
                "grace period ({grace}), all at once.",
                pods=quiet.current,
                utilization=quiet.utilization,
                raw=quiet.raw,
                min=MIN_REPLICAS,
                window=cluster.real(scaler.downscale_window),
                after=cluster.real(after),
                grace=steps.at_speed(GRACE, cluster.speed),
            )
        )
        codes = sorted(set(cluster.exit_codes))
        narrator.fact("terminated_exit_codes", cluster.exit_codes, show=False)
        if codes == [128 + signal.SIGKILL]:
            narrator.explain(
                _(
                    "Each of them exited 137 (SIGKILL), after the grace: busybox httpd as PID 1 has no SIGTERM "
                    "handler, and the kernel does not deliver to a namespace's init a signal it does not handle."
                )
            )
        else:
            narrator.explain(_("Their exit codes: {codes}.", codes=", ".join(map(str, cluster.exit_codes))))
    narrator.check(
        "scaled_down",
        scaled_down,
        _("back to {n} pod after the stabilization window", n=MIN_REPLICAS),
        scaled_down,
    )


def _timeline(cluster: _Cluster, samples: list[hpa_check.Sample], title: str) -> None:
    rows = []
    for s in samples:
        arrow = f"{s.current} -> {s.replicas}" if s.replicas != s.current else str(s.current)
        rows.append(
            [
                _number(s.t),
                _number(s.t * cluster.speed),
                " ".join(str(m) for m in s.usage),
                f"{s.utilization:.0f}%",
                str(s.raw),
                arrow,
                ", ".join(s.reasons),
            ]
        )
    cluster.narrator.table(
        _("the syncs {title}", title=title),
        [_("t (s)"), _("t real (s)"), _("millicores per pod"), _("utilization"), _("formula"), _("pods"), _("why")],
        rows,
    )


def _verdict(cluster: _Cluster) -> None:
    narrator, scaler = cluster.narrator, cluster.scaler
    narrator.step(_("Every decision, checked against the measurements"))
    rules = hpa_check.Rules(
        REQUEST_MILLI,
        TARGET,
        MIN_REPLICAS,
        cluster.max_replicas,
        hpa.TOLERANCE,
        scaler.upscale_window,
        scaler.downscale_window,
        scaler.scale_up_period,
        hpa.SCALE_UP_PODS,
        hpa.SCALE_UP_PERCENT,
    )
    found = hpa_check.problems(cluster.samples, rules)
    narrator.fact("samples", [_sample_fact(s, cluster.speed) for s in cluster.samples], show=False)
    for problem in found:
        narrator.explain(_problem_text(problem))
    rescaled = sum(1 for s in cluster.samples if s.replicas != s.current)
    narrator.check(
        "decisions_match_formula",
        not found,
        _(
            "all {n} syncs ({k} of them scaled) match ceil(current x utilization / target), the tolerance, the "
            "scale-up limit and the window, computed again from the millicores measured; the pods that ran "
            "after each sync are the count it chose",
            n=len(cluster.samples),
            k=rescaled,
        ),
        not found and bool(cluster.samples),
    )


def _problem_text(problem: hpa_check.Problem) -> str:
    """A disagreement the check found, in the reader's language (t as in the timeline's first column)."""
    values = {"t": _number(problem.t), "expected": problem.expected, "got": problem.got}
    if problem.kind == hpa_check.READINGS:
        return _("at t={t} s: {got} CPU readings for {expected} pods", **values)
    if problem.kind == hpa_check.FORMULA:
        return _("at t={t} s: the millicores measured give {expected}, the autoscaler had {got}", **values)
    if problem.kind == hpa_check.REPLICAS:
        return _("at t={t} s: the rules give {expected} replicas, the autoscaler chose {got}", **values)
    return _("at t={t} s: {got} pods ran after scaling to {expected}", **values)


def _sample_fact(sample: hpa_check.Sample, speed: float) -> dict[str, Any]:
    return {
        "t": round(sample.t, 3),
        "t_real": round(sample.t * speed, 1),
        "replicas": sample.current,
        "utilization": sample.utilization,
        "millicores": list(sample.usage),
        "desired": sample.raw,
        "replicas_after": sample.replicas,
        "reasons": list(sample.reasons),
    }
