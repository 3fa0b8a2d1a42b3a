"""healing: the kubelet's auto-healing on real containers: restartPolicy, CrashLoopBackOff, the exit reason, and
the liveness and readiness probes, each measured.

What you will see: three pods, one per restartPolicy (Always, OnFailure, Never), each with three containers: one
that crashes (exit 1), one that finishes (exit 0) and one its memory limit kills (137); what the kubelet does with
each, the restarts counted and the reason read as kubectl shows it (OOMKilled only when the memory cgroup counted
an OOM kill). A container that keeps crashing, restarted after the kubelet's back-off (10 s doubling to 300 s),
each wait measured and checked against that schedule. A liveness probe that times out on a hung web server
until the kubelet kills the container and starts it again; a readiness probe that takes a pod out of a
Service's endpoints, and requests through the ClusterIP then reaching only the other pod, while the first keeps
running (same PID, no restart).
Kubernetes: restartPolicy, CrashLoopBackOff, OOMKilled, livenessProbe, readinessProbe.

Time runs --speed times faster than Kubernetes' (10 by default): every wait is the real one divided by the
speed, and the narration and the facts give both.
"""

from __future__ import annotations

import os
import select
import time
from collections import Counter
from typing import Any

from isodemo.cluster import kubelet
from isodemo.cluster.client import Client
from isodemo.cluster.endpoints import EndpointSlice
from isodemo.cluster.kubelet import Exit, ProbeTiming, RestartLoop
from isodemo.cluster.node import Node
from isodemo.cluster.pods import HTTP_PORT, Pod, serve_command
from isodemo.cluster.proxy import KubeProxy
from isodemo.context import DemoContext
from isodemo.demos import cluster_steps as steps
from isodemo.i18n import _
from isodemo.kube import restarts
from isodemo.narrate.base import Narrator
from isodemo.pod import enter

DEFAULT_SPEED = 10.0
MATRIX_CAP = 2  # restarts per container at most in the restartPolicy step
MEMORY_LIMIT = 16 << 20
CASES = {
    "crash": ("sh", "-c", "exit 1"),
    "done": ("sh", "-c", "exit 0"),
    "oom": ("sh", "-c", "a=x; while :; do a=$a$a; done"),
}
CRASH_LOOP_BUDGET = 8.0  # seconds the CrashLoopBackOff step may wait in all, at the demo's speed
GRACE_SECONDS = 3  # the liveness pod's terminationGracePeriodSeconds (the default is 30)
HANG_FILE = "/tmp/hang"
UNREADY_FILE = "/tmp/unready"
HEALTHZ = "\n".join(
    [
        f"if [ -e {HANG_FILE} ]; then sleep 3600; fi",
        "echo 'Content-Type: text/plain'",
        "echo",
        "echo ok",
    ]
)
READY = "\n".join(
    [
        f"if [ -e {UNREADY_FILE} ]; then printf 'HTTP/1.0 503 Service Unavailable\\r\\n\\r\\nnot ready\\n'; exit 0; fi",
        "echo 'Content-Type: text/plain'",
        "echo",
        "echo ready",
    ]
)
REQUESTS = 20  # requests through the ClusterIP per look


class _Healing:
    def __init__(self, narrator: Narrator, ctx: DemoContext, node: Node, proxy: KubeProxy) -> None:
        self.narrator = narrator
        self.ctx = ctx
        self.node = node
        self.proxy = proxy
        self.speed = float(ctx.options.get("speed") or DEFAULT_SPEED)
        self.timing = kubelet.probe_timing(self.speed)  # made again from the latency measured (liveness step)
        self.latency = 0.0  # seconds the slowest healthy probe took
        self.held: dict[str, int] = {}

    def measured(self, seconds: float) -> str:
        """'40 s (4 s at --speed 10)' for a wait of 4 s measured here (one no floor shortened or lengthened)."""
        return steps.at_speed(seconds * self.speed, self.speed)

    def probe_time(self, probes: int) -> str:
        """The time `probes` probe periods take: periodSeconds each in a cluster, and here."""
        real = probes * self.timing.period_seconds
        if self.timing.period <= self.timing.period_seconds / self.speed + 1e-9:
            return steps.at_speed(real, self.speed)
        return _(
            "{real} s (here {waited} s: a probe period is not shortened below {floor} s)",
            real=real,
            waited=_g(round(probes * self.timing.period, 2)),
            floor=_g(self.timing.period),
        )


def run(narrator: Narrator, ctx: DemoContext) -> None:
    the_node, proxy = steps.node(narrator, ctx)
    healing = _Healing(narrator, ctx, the_node, proxy)
    narrator.fact("speed", healing.speed, show=False)
    _policies(healing)
    _crash_loop(healing)
    _liveness(healing)
    _readiness(healing)
    narrator.kubernetes(
        _(
            "Auto-healing is the kubelet's loop on each node: it sees a container end (PLEG), asks restartPolicy "
            "whether to start it again, waits the CrashLoopBackOff delay (10 s, doubling to 300 s, forgotten after "
            "10 minutes of running), and runs the probes: a failed liveness probe kills and restarts the "
            "container, a failed readiness probe only takes the pod out of the Services' endpoints. A node or pod "
            "that is gone altogether is the ReplicaSet controller's job: it makes a new pod (`isodemo rollout`)."
        )
    )


# -- 1. restartPolicy --------------------------------------------------------------------------------------------


def _policies(healing: _Healing) -> None:
    narrator, ctx = healing.narrator, healing.ctx
    narrator.step(
        _(
            "restartPolicy: three pods, each with a container that crashes, one that finishes, one that runs "
            "out of memory"
        ),
        syscalls=["pidfd_open(PID 1 of each container)", "pselect6(pidfds)  (select(): the kubelet's PLEG)"],
        shell=[
            "kubectl apply -f restart-always.yaml -f restart-onfailure.yaml -f restart-never.yaml",
            "kubectl get pods -w",
        ],
    )
    loop = RestartLoop(healing.speed)
    items: dict[tuple[str, str], kubelet.Tracked] = {}
    try:
        for policy in restarts.RESTART_POLICIES:
            pod = Pod(ctx, healing.node, f"restart-{policy.lower()}")
            pod.create_sandbox()
            for case, command in CASES.items():
                resources: dict[str, Any] = (
                    {"memory": MEMORY_LIMIT, "memory_swap": MEMORY_LIMIT} if case == "oom" else {}
                )
                items[policy, case] = loop.add(
                    f"{pod.name}/{case}", policy, _starter(pod, f"{pod.name}-{case}", command, resources), MATRIX_CAP
                )
        finished = loop.run(timeout=30.0 + 4 * MATRIX_CAP * restarts.INITIAL_BACKOFF / healing.speed)
    finally:
        loop.close()
    narrator.explain(
        _(
            "Each container runs `sh -c` in busybox: `exit 1`, `exit 0`, and for oom a string doubled until the "
            "memory limit of {limit} MiB (no swap) is reached. When one ends, the kubelet records its exit code "
            "and reason and asks restartPolicy whether to start it again; isodemo stops after {cap} restarts of "
            "each (the kubelet never stops), and waits the back-off between them at --speed {speed}.",
            limit=MEMORY_LIMIT >> 20,
            cap=MATRIX_CAP,
            speed=_g(healing.speed),
        )
    )
    rows = []
    results: dict[str, dict[str, int]] = {policy: {} for policy in restarts.RESTART_POLICIES}
    reasons: dict[str, set[str]] = {case: set() for case in CASES}
    codes: dict[str, int] = {}
    counts: dict[str, int] = {}
    expected_ok = finished
    for (policy, case), item in items.items():
        results[policy][case] = item.restarts
        last = item.exits[-1] if item.exits else None
        for exit_ in item.exits:
            reasons[case].add(exit_.reason)
        if last is not None:
            codes.setdefault(case, last.code)
            counts.setdefault(case, last.oom_kills)
        wants = last is not None and restarts.should_restart(policy, last.code)
        expected_ok = expected_ok and item.restarts == (MATRIX_CAP if wants else 0)
        rows.append(
            [
                f"restart-{policy.lower()}",
                case,
                str(last.code) if last else "?",
                last.reason if last else "?",
                str(last.oom_kills) if last else "?",
                str(item.restarts) + ("+" if item.capped else ""),
                _("restart") if wants else _("leave it"),
            ]
        )
    narrator.table(
        _("what the kubelet did (+: isodemo's cap stopped it)"),
        [_("pod"), _("container"), _("exit code"), _("reason"), "oom_kill", _("restarts"), "should_restart"],
        rows,
    )
    narrator.fact("restart_cap", MATRIX_CAP, show=False)
    narrator.fact("policy_results", results)
    narrator.fact("exit_codes", codes, show=False)
    narrator.fact("oom_kill_counts", counts, show=False)
    narrator.check(
        "policy_results_ok",
        expected_ok,
        _(
            "Always restarted all three, OnFailure the two that failed (exit 1, exit 137), Never none: "
            "{cap} restarts each where the policy says so (capped), 0 where it does not",
            cap=MATRIX_CAP,
        ),
        expected_ok,
    )
    _reasons(healing, items, reasons)


def _starter(pod: Pod, name: str, command: tuple[str, ...], resources: dict[str, Any]) -> Any:
    return lambda: kubelet.start_in(pod, name, command, **resources)


def _reasons(healing: _Healing, items: dict[tuple[str, str], kubelet.Tracked], reasons: dict[str, set[str]]) -> None:
    narrator = healing.narrator
    oom = items[restarts.NEVER, "oom"].exits
    crash = items[restarts.NEVER, "crash"].exits
    oom_file = oom[0].oom_file if oom else "memory.events"
    narrator.step(
        _("The reason, as kubectl shows it: read from the memory cgroup before it is removed"),
        shell=[f"cat {oom_file}", "kubectl get pod restart-never -o jsonpath='{.status.containerStatuses}'"],
    )
    narrator.compare(
        oom_file.rsplit("/", 1)[-1],
        [
            f"oom: oom_kill {oom[0].oom_kills}" if oom else "?",
            f"crash: oom_kill {crash[0].oom_kills}" if crash else "?",
        ],
        [
            f"oom: {oom[0].code} {oom[0].reason}" if oom else "?",
            f"crash: {crash[0].code} {crash[0].reason}" if crash else "?",
        ],
        host_title=_("the cgroup counted"),
        inside_title=_("exit code, reason"),
    )
    narrator.explain(
        _(
            "containerd reports OOMKilled when the kernel's OOM killer ended the container: the exit status 137 "
            "(128 + SIGKILL) alone does not say so, since any SIGKILL gives 137. The memory cgroup counts its OOM "
            "kills ({file}), and the count goes with the cgroup, so isodemo reads it when the exit is seen, "
            "before the cgroup is removed. Any other exit is Error, and 0 is Completed.",
            file=oom_file.rsplit("/", 1)[-1],
        )
    )
    single = {
        case: next(iter(found)) if len(found) == 1 else "/".join(sorted(found)) for case, found in reasons.items()
    }
    narrator.fact("reasons", single)
    want = {"crash": restarts.ERROR, "done": restarts.COMPLETED, "oom": restarts.OOM_KILLED}
    narrator.claim(
        _("every exit of oom was OOMKilled (its cgroup counted the kill), of crash Error, of done Completed"),
        single == want,
    )


# -- 2. CrashLoopBackOff -------------------------------------------------------------------------------------------


def crash_loop_restarts(speed: float, budget: float = CRASH_LOOP_BUDGET, least: int = 3, most: int = 8) -> int:
    """How many restarts of the crashing container to watch: as many as the waits (at `speed`) allow within
    `budget` seconds, at least `least`."""
    count = least
    while count < most and sum(restarts.restart_delays(count + 1, speed)) <= budget:
        count += 1
    return count


def _crash_loop(healing: _Healing) -> None:
    narrator, ctx, speed = healing.narrator, healing.ctx, healing.speed
    count = crash_loop_restarts(speed)
    narrator.step(
        _("CrashLoopBackOff: a container that crashes each time, restarted {n} times", n=count),
        syscalls=["pselect6(pidfd, timeout = the back-off)  (select())"],
        shell=[
            "kubectl get pod crashloop -w",
            "kubectl describe pod crashloop  # Back-off restarting failed container",
        ],
    )
    pod = Pod(ctx, healing.node, "crashloop")
    pod.create_sandbox()
    loop = RestartLoop(speed)
    try:
        item = loop.add("crashloop/app", restarts.ALWAYS, _starter(pod, "crashloop-app", CASES["crash"], {}), count)
        loop.run(timeout=30.0 + 2 * sum(restarts.restart_delays(count, speed)))
    finally:
        loop.close()
    waits = item.waits
    expected = restarts.restart_delays(len(waits), speed)
    checks = restarts.check_delays(waits, speed)
    rows = []
    for check, exit_ in zip(checks, item.exits, strict=False):
        rows.append(
            [
                str(check.restart),
                f"{exit_.code} {exit_.reason}",
                healing.measured(check.measured),
                f"{check.expected * speed:.0f} s",
                "✓" if check.ok else "✗",
            ]
        )
    narrator.table(
        _("each exit and the wait until the kubelet started the container again"),
        ["#", _("exit"), _("waited (measured)"), _("kubelet's wait"), ""],
        rows,
    )
    narrator.fact("backoff_seconds", [round(w * speed, 1) for w in waits[1:]])
    narrator.fact("backoff_measured_seconds", [round(w, 3) for w in waits], show=False)
    narrator.fact("backoff_expected_seconds", [round(e * speed, 1) for e in expected], show=False)
    narrator.fact("crash_loop_restarts", item.restarts, show=False)
    matches = len(waits) == count and all(check.ok for check in checks)
    narrator.check(
        "backoff_matches_schedule",
        matches,
        _(
            "the {n} measured waits match the kubelet's schedule {schedule} s (each within 30 % of its wait, "
            "at most 0.5 s, plus 0.05 s, at this speed)",
            n=len(waits),
            schedule=", ".join(f"{e * speed:.0f}" for e in expected),
        ),
        matches,
    )
    if len(waits) > 2:
        narrator.explain(
            _(
                "The first restart is immediate: the kubelet's back-off has no entry for a container that never "
                "failed. From then on each exit owes a wait that doubles: backoff {example}. In `kubectl get "
                "pods` the STATUS shows CrashLoopBackOff while the kubelet waits. The back-off is kept per "
                "container (pod and container name); a real kubelet starts the container at its next sync of the "
                "pod after the wait, a little later than isodemo.",
                example=healing.measured(waits[2]),
            )
        )
    capped = any(abs(e - restarts.MAX_BACKOFF / speed) < 1e-9 for e in expected)
    narrator.explain(
        _("The wait stops doubling at 300 s: the last wait here reached it.")
        if capped
        else _("The wait stops doubling at 300 s, which is not reached here (it is at --speed 100).")
    )
    narrator.explain(
        _(
            "The wait is forgotten once a container has run 10 minutes before it fails: not shown here (that "
            "would take {reset}).",
            reset=steps.at_speed(restarts.RESET_AFTER, speed),
        )
    )


# -- 3. liveness ---------------------------------------------------------------------------------------------------


def _probe(healing: _Healing, pod: Pod, path: str) -> tuple[bool, str, float]:
    """One httpGet probe from the node: success, what it got, seconds it took."""
    began = time.monotonic()
    status, body = healing.node.http_get(pod.address, HTTP_PORT, path, healing.timing.timeout)
    took = time.monotonic() - began
    return kubelet.probe_ok(status), (str(status) if status else body), took


def _timing_text(healing: _Healing, timing: ProbeTiming) -> str:
    return _(
        "periodSeconds {period} and timeoutSeconds {timeout} (the defaults), failureThreshold {threshold}: "
        "here every {p} s with {t} s to answer",
        period=timing.period_seconds,
        timeout=timing.timeout_seconds,
        threshold=timing.failure_threshold,
        p=_short(timing.period),
        t=_short(timing.timeout),
    )


def _floors_text(healing: _Healing, timing: ProbeTiming) -> str:
    """Why the probe times here are what they are: the speed, or a floor (named), and the latency measured."""
    if not timing.floored:
        return _(
            "The slowest of the healthy probes measured here took {ms} ms: well within the timeout.",
            ms=round(healing.latency * 1000),
        )
    return _(
        "At --speed {speed} they would be {p} s and {t} s, but isodemo does not go below {min_p} s between probes, "
        "nor below a timeout of {min_t} s or {factor} x the slowest healthy probe measured here ({ms} ms): a slow "
        "machine's answer must not count as a failure. So the probes run slower than the rest of this demo.",
        speed=_g(healing.speed),
        p=_short(timing.period_seconds / healing.speed),
        t=_short(timing.timeout_seconds / healing.speed),
        min_p=_short(kubelet.MIN_PROBE_PERIOD),
        min_t=_short(kubelet.MIN_PROBE_TIMEOUT),
        factor=kubelet.LATENCY_FACTOR,
        ms=round(healing.latency * 1000),
    )


def _short(seconds: float) -> str:
    """0.25 -> "0.25", 1.0 -> "1", 0.333 -> "0.33"."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def _latency(healing: _Healing, pod: Pod, path: str, count: int = 3) -> float:
    """The slowest of `count` healthy httpGet probes, each given a generous 5 s: what this machine needs."""
    worst = 0.0
    for _i in range(count):
        began = time.monotonic()
        status, _body = healing.node.http_get(pod.address, HTTP_PORT, path, 5.0)
        if kubelet.probe_ok(status):
            worst = max(worst, time.monotonic() - began)
    return worst


def _running(container: Any) -> bool:
    """Whether the container's PID 1 still runs: its pidfd is not readable yet (select with no wait)."""
    fd = container.started.box.wait_fd()
    try:
        ended, _w, _x = select.select([fd], [], [], 0)
    finally:
        os.close(fd)
    return not ended


def _liveness(healing: _Healing) -> None:
    narrator, ctx, speed = healing.narrator, healing.ctx, healing.speed
    narrator.step(
        _("A liveness probe: the kubelet kills a container that hangs while its process still runs"),
        syscalls=[
            "connect(pod IP:8080) + recv() with a timeout  (httpGet /cgi-bin/healthz)",
            "pidfd_send_signal(pidfd of PID 1, SIGTERM)",
        ],
        shell=["kubectl apply -f liveness.yaml", "kubectl get pod liveness -w"],
    )
    pod = Pod(ctx, healing.node, "liveness")
    pod.create_sandbox()
    command = serve_command("liveness", HTTP_PORT, {"healthz": HEALTHZ})
    first = pod.start(command)
    steps.wait_ready(healing.node, pod)
    healing.latency = _latency(healing, pod, "/cgi-bin/healthz")
    healing.timing = timing = kubelet.probe_timing(speed, latency=healing.latency)
    narrator.explain(_timing_text(healing, timing) + ". " + _floors_text(healing, timing))
    narrator.fact("probe_timeout_seconds", round(timing.timeout, 3), show=False)
    state = restarts.ProbeState(restarts.LIVENESS, failure_threshold=timing.failure_threshold)
    rows: list[list[str]] = []
    failed: list[str] = []  # what each failed probe got
    probes = 0

    def probe_row(note: str = "", at: float | None = None) -> bool:
        nonlocal probes
        probes += 1
        ok, got, _took = _probe(healing, pod, "/cgi-bin/healthz")
        state.record(ok)
        if not ok:
            failed.append(got)
        when = (probes - 1) * timing.period_seconds if at is None else at
        rows.append([str(probes), f"{when:.0f} s", got, note or (_("ok") if ok else _("failed"))])
        return ok

    for _i in range(2):
        probe_row()
        time.sleep(timing.period)
    touch = ["touch", HANG_FILE]
    status, _output = enter.exec_in(ctx, first.pid, touch, first.cgroup)
    narrator.shell(f"kubectl exec liveness -- touch {HANG_FILE}", enter.shell(first.pid, touch))
    rows.append(["", "", "", f"touch {HANG_FILE} (exit {status})"])
    attempts = 0
    while not state.restart_needed and attempts < timing.failure_threshold + 3:
        attempts += 1
        started = time.monotonic()
        probe_row()
        if not state.restart_needed:
            time.sleep(max(0.0, timing.period - (time.monotonic() - started)))
    exit_: Exit | None = None
    alive = False
    new_pid = 0
    waited_ready = None
    if state.restart_needed:
        assert pod.container is not None
        alive = _running(pod.container)
        stopping = time.monotonic()
        exit_ = kubelet.stop(pod.container, GRACE_SECONDS / speed)
        killed_at = (probes - 1) * timing.period_seconds + (time.monotonic() - stopping) * speed
        pod.container = None
        rows.append(
            ["", f"{killed_at:.0f} s", "", _("killed: exit {code} {reason}", code=exit_.code, reason=exit_.reason)]
        )
        pod.start(command)  # the first restart owes no back-off
        pod.restarts += 1
        new_pid = pod.pid
        state.new_container()
        waited_ready = steps.wait_ready(healing.node, pod)
        probes = 0
        probe_row(_("the new container"), at=killed_at)
    narrator.table(
        _("the liveness probe: probe n at (n - 1) x periodSeconds, the kill after the grace period measured"),
        ["#", _("time"), _("got"), ""],
        rows,
    )
    narrator.fact("liveness_restarts", pod.restarts)
    narrator.fact("liveness_exit_code", exit_.code if exit_ else None, show=False)
    narrator.fact("liveness_reason", exit_.reason if exit_ else None, show=False)
    narrator.fact("liveness_pids", [first.pid, new_pid], show=False)
    narrator.claim(
        _(
            "each of the {n} failed probes timed out (no answer within {t} s) while httpd, PID {pid}, still ran: "
            "the process was alive, its web server hung",
            n=len(failed),
            t=_short(timing.timeout),
            pid=first.pid,
        ),
        alive and len(failed) >= timing.failure_threshold and all(got == "timeout" for got in failed),
    )
    healed = exit_ is not None and new_pid not in (0, first.pid) and waited_ready is not None and state.ready
    narrator.claim(
        _(
            "after {n} failed probes in a row the kubelet killed the container (exit {code}, {reason}: no OOM) "
            "and started a new one (PID {old} -> {new}) that answers the probe",
            n=timing.failure_threshold,
            code=exit_.code if exit_ else "?",
            reason=exit_.reason if exit_ else "?",
            old=first.pid,
            new=new_pid,
        ),
        healed and len(failed) >= timing.failure_threshold and exit_ is not None and exit_.oom_kills == 0,
    )
    narrator.explain(
        _(
            "httpd accepted each connection, but /cgi-bin/healthz hung, so each probe timed out. The kubelet stops "
            "the container as it stops any: SIGTERM, then SIGKILL after terminationGracePeriodSeconds ({grace} s "
            "here, 30 by default); httpd, PID 1 of its pid namespace with no SIGTERM handler, ignores the "
            "SIGTERM. The new container starts from the image, so {file} is gone and the probe passes again. "
            "`kubectl describe` shows Last State: Terminated, Reason: {reason}, Exit Code: {code}.",
            grace=GRACE_SECONDS,
            file=HANG_FILE,
            reason=exit_.reason if exit_ else "?",
            code=exit_.code if exit_ else "?",
        )
    )
    healing.held["liveness"] = pod.pid


# -- 4. readiness --------------------------------------------------------------------------------------------------


def _readiness(healing: _Healing) -> None:
    narrator, ctx = healing.narrator, healing.ctx
    narrator.step(
        _("A readiness probe: a pod that is not ready leaves the Service's endpoints, and is not restarted"),
        syscalls=[
            "connect(pod IP:8080)  (httpGet /cgi-bin/ready)",
            "NFT_MSG_NEWRULE ...  (nft -f -: kube-proxy's sync, in the node's namespace)",
        ],
        shell=["kubectl apply -f web.yaml", "kubectl get endpointslices -l kubernetes.io/service-name=web -w"],
    )
    pods = [steps.make_pod(ctx, healing.node, "web", "", cgi={"ready": READY}) for _i in range(2)]
    for pod in pods:
        steps.wait_ready(healing.node, pod)
    service = steps.service_port(node_port=False)
    slice_ = EndpointSlice(service, healing.proxy)
    states = {pod.name: restarts.ProbeState(restarts.READINESS) for pod in pods}
    for pod in pods:
        ok, _got, _took = _probe(healing, pod, "/cgi-bin/ready")
        states[pod.name].record(ok)
        slice_.set(pod.name, pod.address, states[pod.name].ready)
    the_client = Client(ctx, healing.node)
    before = _answers(the_client, service.cluster_ip, service.port)
    victim, other = pods[1], pods[0]
    assert victim.container is not None
    pid_before = victim.pid
    argv = ["touch", UNREADY_FILE]
    enter.exec_in(ctx, victim.pid, argv, victim.container.cgroup)
    narrator.shell(f"kubectl exec {victim.name} -- touch {UNREADY_FILE}", enter.shell(victim.pid, argv))
    probes = _probe_until(healing, pods, states, lambda: not states[victim.name].ready)
    lines, _applied = slice_.set(victim.name, victim.address, states[victim.name].ready)
    narrator.shell(*(f"{healing.node.exec_prefix()} nft {line}" for line in lines[-3:]))
    narrator.table(
        _("EndpointSlice of the Service web"),
        [_("pod"), _("address"), "ready", "PID"],
        [[pod.name, f"{pod.address}:{HTTP_PORT}", str(states[pod.name].ready).lower(), str(pod.pid)] for pod in pods],
    )
    during = _answers(the_client, service.cluster_ip, service.port)
    still = victim.container is not None and victim.container.started.box.alive and victim.pid == pid_before
    argv = ["rm", UNREADY_FILE]
    enter.exec_in(ctx, victim.pid, argv, victim.container.cgroup)
    _probe_until(healing, pods, states, lambda: states[victim.name].ready)
    slice_.set(victim.name, victim.address, states[victim.name].ready)
    after = _answers(the_client, service.cluster_ip, service.port)
    narrator.explain(
        _("The readiness probe has the same defaults: {timing}.", timing=_timing_text(healing, healing.timing))
    )
    narrator.table(
        _("requests through the ClusterIP {ip}, {n} each time", ip=service.cluster_ip, n=REQUESTS),
        [_("when"), other.name, victim.name, _("failed")],
        [
            [_("both ready"), *_row(before, other, victim)],
            [
                _(
                    "{pod} not ready ({probes} probes, {time})",
                    pod=victim.name,
                    probes=probes,
                    time=healing.probe_time(probes),
                ),
                *_row(during, other, victim),
            ],
            [_("ready again"), *_row(after, other, victim)],
        ],
    )
    narrator.fact("readiness_answers", {"before": dict(before), "not_ready": dict(during), "ready_again": dict(after)})
    narrator.fact("readiness_pids", [pid_before, victim.pid], show=False)
    removed = (
        during.get(victim.name, 0) == 0
        and during.get(other.name, 0) == REQUESTS
        and before.get(victim.name, 0) > 0
        and still
        and victim.restarts == 0
    )
    narrator.check(
        "readiness_removed_without_restart",
        removed,
        _(
            "while {pod} was not ready every request went to {other}, and {pod}'s container kept running: "
            "PID {pid} before and after, 0 restarts",
            pod=victim.name,
            other=other.name,
            pid=pid_before,
        ),
        removed,
    )
    narrator.claim(_("once ready again, {pod} answered requests again", pod=victim.name), after.get(victim.name, 0) > 0)
    narrator.explain(
        _(
            "A readiness probe never restarts anything: after failureThreshold failures the kubelet marks the "
            "pod not ready, the EndpointSlice controller sets the endpoint's ready to false, and kube-proxy "
            "takes it out of the Service's chain. One success (successThreshold 1) brings it back. Here one "
            "process is kubelet, controller and kube-proxy at once (no API server in between)."
        )
    )
    healing.held.update({"web-a": other.pid, "web-b": victim.pid})  # web-b: the one made not ready
    ctx.hold_here(
        narrator,
        healing.held,
        [f"sudo ip netns exec {the_client.netns_name} wget -q -O - http://{service.cluster_ip}/"],
        netns=[healing.node.name, the_client.netns_name],
    )


def _probe_until(healing: _Healing, pods: list[Pod], states: dict[str, restarts.ProbeState], done: Any) -> int:
    """Probe every pod each period until `done()` (or failureThreshold + 3 periods); the probes sent to each."""
    count = 0
    while not done() and count < healing.timing.failure_threshold + 3:
        started = time.monotonic()
        count += 1
        for pod in pods:
            ok, _got, _took = _probe(healing, pod, "/cgi-bin/ready")
            states[pod.name].record(ok)
        if not done():
            time.sleep(max(0.0, healing.timing.period - (time.monotonic() - started)))
    return count


def _answers(the_client: Client, address: str, port: int) -> Counter[str]:
    records = the_client.requests(address, port, REQUESTS)
    return Counter(body.split()[0] if status == 200 and body else "failed" for _s, _t, status, body in records)


def _row(answers: Counter[str], other: Pod, victim: Pod) -> list[str]:
    return [str(answers.get(other.name, 0)), str(answers.get(victim.name, 0)), str(answers.get("failed", 0))]


def _g(value: float) -> str:
    """A number as `{:g}` writes it (3, 0.5, 12.5): formatted here, so that _()'s arguments are plain values."""
    return f"{value:g}"
