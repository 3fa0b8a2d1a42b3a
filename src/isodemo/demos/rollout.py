"""rollout: a Deployment updated from v1 to v2 behind its Service, with Recreate and with RollingUpdate, measured.

What you will see: a node, a Deployment "web" of N pods (each answers "<pod> v1") behind the Service web, and a
client pod sending a request through the ClusterIP every 10 ms while the Deployment is updated:
- strategy Recreate: every v1 pod out of the endpoints and stopped, then the v2 pods made; until the first of
  them is ready the Service has no endpoints and the client's connections are refused (counted, the longest
  outage timed);
- strategy RollingUpdate (maxSurge 25% rounded up, maxUnavailable 25% rounded down): new pods made up to the
  surge, each added to the endpoints once its readiness probe passes, old pods taken out of the endpoints first
  and only then stopped: no request fails, and for a while both versions answer;
- `kubectl rollout undo`: the old ReplicaSet's template rolled out again, v2 -> v1, with no failed request.
Each update is shown as a timeline (when, old and new pods ready, which versions answered, failures).
Kubernetes: Deployment (strategy Recreate and RollingUpdate, maxSurge, maxUnavailable, rollout undo), ReplicaSet,
readiness probes, EndpointSlice.

The controller and the kubelet's part are cluster/deployment_controller.py's; what the client saw is set against
the controller's events by kube/timeline.py; the node, the Service and the client are cluster_steps'.
"""

from __future__ import annotations

import time
from typing import Any

from isodemo.cluster import client as requests_
from isodemo.cluster import kubelet
from isodemo.cluster.deployment_controller import Controller, ReplicaSet, Timing, pod_template_hash
from isodemo.cluster.endpoints import EndpointSlice
from isodemo.cluster.pods import Pod
from isodemo.context import DemoContext
from isodemo.demos import cluster_steps as steps
from isodemo.i18n import _
from isodemo.inside import filesystem
from isodemo.kube import deployment, timeline
from isodemo.narrate.base import Narrator

CLIENT_INTERVAL = 0.01  # seconds between the client's requests
BEFORE = 0.2  # seconds the client runs before an update is asked for
AFTER = 0.3  # and after it is complete
DEFAULT_SPEED = 10.0
DEFAULT_REPLICAS = 4
ICMP_RATELIMIT = "/proc/sys/net/ipv4/icmp_ratelimit"  # the node's own (net.* sysctls are per namespace)


def _template(version: str) -> str:
    """The pod template's text, hashed into the ReplicaSet's name (only the version differs)."""
    return (
        "metadata: {labels: {app: web}}\n"
        f"spec: {{containers: [{{name: web, image: busybox, args: [httpd, '{version}'], ports: [8080]}}]}}\n"
    )


class _Rollout(steps.ClusterDemo):
    def __init__(self, narrator: Narrator, ctx: DemoContext) -> None:
        super().__init__(narrator, ctx)
        self.replicas = int(ctx.options.get("replicas") or DEFAULT_REPLICAS)
        self.timing = Timing(speed=float(ctx.options.get("speed") or DEFAULT_SPEED))
        self.controller: Controller | None = None
        self.revision = 0
        self.history: dict[str, ReplicaSet] = {}  # by version: the ReplicaSets the Deployment keeps
        self.current: ReplicaSet | None = None

    @property
    def the_controller(self) -> Controller:
        assert self.controller is not None
        return self.controller

    @property
    def service(self) -> Any:
        assert self.slice is not None
        return self.slice.service

    def make_pod(self, owner: str, version: str) -> Pod:
        return steps.make_pod(self.ctx, self.the_node, owner, version)

    def replica_set(self, version: str) -> ReplicaSet:
        """The ReplicaSet for `version`'s template: the one kept from before (rollout undo), or a new one; its
        revision is the Deployment's next."""
        self.revision += 1
        kept = self.history.get(version)
        if kept is None:
            kept = ReplicaSet(f"web-{pod_template_hash(_template(version))}", version, self.revision)
            self.history[version] = kept
        kept.revision = self.revision
        return kept

    def at_speed(self, real: float) -> str:
        """ "5 s (0.5 s at --speed 10)" """
        return steps.at_speed(real, self.timing.speed)

    def probe_time(self, real: int, used: float) -> str:
        """A probe's period or timeout: at_speed's text, or, when kubelet.probe_timing's floor applies, what isodemo
        waits instead."""
        if abs(used - self.timing.scaled(real)) < 1e-9:
            return self.at_speed(real)
        return _(
            "{real} s ({used:g} s here: {scaled:g} s at --speed {speed:g} is below isodemo's floor)",
            real=real,
            used=used,
            scaled=self.timing.scaled(real),
            speed=self.timing.speed,
        )


class _Measured:
    """One update, measured: the controller's events, the client's records, and the window of the update; the
    most pods whose container ran at once (the controller's samples of /proc) and the fewest ready endpoints
    kube-proxy was given (the EndpointSlice's history), both over the window."""

    def __init__(self, rollout: _Rollout, records: list[requests_.Record]) -> None:
        controller = rollout.the_controller
        self.events = list(controller.events)
        self.records = records
        self.began = self.events[0].at
        self.ended = self.events[-1].at
        self.failed = len(requests_.failed(records))
        self.outage = requests_.longest_outage(records)
        self.exit_codes = sorted(set(controller.exit_codes))
        self.max_pods = timeline.most(controller.running, self.began, self.ended)
        history = rollout.slice.history if rollout.slice else []
        self.min_available = timeline.fewest(history, self.began, self.ended)

    @property
    def seconds(self) -> float:
        return round(self.ended - self.began, 3)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    rollout = _Rollout(narrator, ctx)
    rollout.node, proxy = steps.node(narrator, ctx)
    rollout.the_node.box.call(filesystem.write_file, ICMP_RATELIMIT, "0")  # said in the Recreate step
    rollout.slice = EndpointSlice(steps.service_port(node_port=False), proxy)
    rollout.controller = Controller(rollout.the_node, rollout.slice, rollout.make_pod, rollout.timing)
    _deploy(rollout, "v1", _("The Deployment web: {n} pods of v1 behind the Service web", n=rollout.replicas))
    rollout.client = steps.client(narrator, ctx, rollout.the_node)
    ctx.hold_here(
        narrator,
        {
            "client": int(rollout.the_client.box.pid),
            **({pod.name: pod.pid for pod in rollout.current.pods} if rollout.current else {}),
        },
        [
            proxy.command(),
            f"sudo ip netns exec {rollout.the_client.netns_name} wget -q -O - http://{steps.CLUSTER_IP}/",
        ],
        netns=[rollout.the_node.name, rollout.the_client.netns_name],
    )
    recreate = _recreate(rollout)
    _reset(rollout)
    rolling = _rolling(rollout)
    _undo(rollout)
    _compare(rollout, recreate, rolling)
    narrator.kubernetes(
        _(
            "This is a Deployment's rollout. The Deployment controller never touches pods: it scales ReplicaSets, "
            "one per version of the pod template (named by its pod-template-hash), and reads back how many pods "
            "are ready. Recreate scales the old ReplicaSet to 0 and waits for its pods to be gone before making "
            "new ones: a gap with no endpoints. RollingUpdate moves in steps bounded by maxSurge and "
            "maxUnavailable and waits for readiness at each step, so the Service always has ready endpoints; "
            "for a while both versions answer. `kubectl rollout undo` is a rollout to the previous ReplicaSet's "
            "template."
        )
    )


# -- the Deployment ---------------------------------------------------------------------------------------------


def _yaml(rollout: _Rollout, version: str, strategy: str) -> list[str]:
    lines = [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: web}",
        "spec:",
        f"  replicas: {rollout.replicas}",
        "  selector: {matchLabels: {app: web}}",
    ]
    if strategy == "Recreate":
        lines.append("  strategy: {type: Recreate}")
    else:
        lines.append("  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}")
    return [
        *lines,
        "  template:",
        "    metadata: {labels: {app: web}}",
        "    spec:",
        "      containers:",
        f"      - {{name: web, image: busybox, args: [httpd, {version}]}}",
        "        readinessProbe: {httpGet: {path: /, port: 8080}}   # periodSeconds 10 (default)",
        "        lifecycle: {preStop: {exec: {command: [sleep, '5']}}}",
    ]


def _deploy(rollout: _Rollout, version: str, title: str) -> None:
    """A Deployment made from nothing: its first ReplicaSet scaled to `replicas`, every pod ready."""
    narrator, controller = rollout.narrator, rollout.the_controller
    narrator.step(
        title,
        syscalls=["unshare(CLONE_NEWNET)", "setns(fd, CLONE_NEWNET)", "clone(CLONE_NEWNS|CLONE_NEWPID|...)"],
        shell=["kubectl apply -f web.yaml", "kubectl expose deployment web --port=80 --target-port=8080"],
    )
    new = rollout.replica_set(version)
    controller.rolling(ReplicaSet("", "", 0), new, deployment.RollingUpdate(rollout.replicas))
    rollout.current = new
    narrator.shell(*new.pods[0].shell)
    narrator.table(
        _("ReplicaSet {rs} (revision {revision})", rs=new.name, revision=new.revision),
        [_("pod"), "IP", "PID", _("answers")],
        [[pod.name, pod.address, str(pod.pid), f"{pod.name} {version}"] for pod in new.pods],
    )
    probe = rollout.timing.probe
    narrator.explain(
        _(
            "The Deployment controller made a ReplicaSet named after the hash of the pod template ({rs}); the "
            "ReplicaSet made the pods. Each pod is a network namespace on cni0 and a busybox httpd container "
            "answering its name and version. The kubelet's readiness probe, an HTTP GET from the node at once and "
            "then every periodSeconds: {period}, with timeoutSeconds: {timeout}, put each pod in the Service's "
            "endpoints when it answered with a status from 200 to 399. isodemo stops probing a pod once it is "
            "ready; a kubelet goes on probing it every period for its whole life, and takes it out of the "
            "endpoints after failureThreshold ({threshold}) failures in a row (`isodemo healing` shows that).",
            rs=new.name,
            period=rollout.probe_time(probe.period_seconds, probe.period),
            timeout=rollout.probe_time(probe.timeout_seconds, probe.timeout),
            threshold=probe.failure_threshold,
        )
    )
    narrator.claim(
        _("{n} pods of {version} ready and in the Service's endpoints", n=rollout.replicas, version=version),
        len(new.ready) == rollout.replicas
        and len(rollout.slice.ready_pods() if rollout.slice else []) == rollout.replicas,
    )


def _measure(rollout: _Rollout, update: Any) -> _Measured:
    """The client sends requests through the ClusterIP while `update()` runs (and a little before and after)."""
    client, service = rollout.the_client, rollout.service
    client.start(service.cluster_ip, service.port, CLIENT_INTERVAL)
    try:
        time.sleep(BEFORE)
        update()
        time.sleep(AFTER)
    finally:
        records = client.stop()
    return _Measured(rollout, records)


def _timeline(rollout: _Rollout, measured: _Measured, title: str) -> None:
    rows = timeline.rows(measured.events, measured.records)
    labels = {
        timeline.START: _("update asked for"),
        timeline.READY: _("ready, in endpoints"),
        timeline.OUT: _("out of endpoints"),
        timeline.COMPLETE: _("complete"),
    }
    rollout.narrator.table(
        title,
        [_("ms"), _("event"), _("old ready"), _("new ready"), _("answered until the next row"), _("failed")],
        [
            [
                f"{row.seconds * 1000:.0f}",
                " ".join([labels[row.event.kind], *row.event.pods]),
                str(row.event.old_ready),
                str(row.event.new_ready),
                timeline.answered_text(row.answered),
                str(row.failed),
            ]
            for row in rows
        ],
    )


def _update_step(rollout: _Rollout, title: str, strategy: str, version: str) -> None:
    rollout.narrator.step(
        title,
        syscalls=[
            "pidfd_send_signal(pidfd, SIGTERM)",
            "pidfd_send_signal(pidfd, SIGKILL)",
            "NFT_MSG_NEWRULE ...  (nft -f -: kube-proxy's sync, in the node's namespace)",
        ],
        shell=[
            f'kubectl patch deployment web -p \'{{"spec":{{"strategy":{{"type":"{strategy}"}}}}}}\'',
            f"kubectl set image deployment/web web=busybox  # args: [httpd, {version}]",
            rollout.the_client.shell_loop(f"http://{steps.CLUSTER_IP}/"),
        ],
    )


# -- Recreate -----------------------------------------------------------------------------------------------------


def _recreate(rollout: _Rollout) -> _Measured:
    narrator, controller = rollout.narrator, rollout.the_controller
    _update_step(rollout, _("Update v1 -> v2 with strategy: Recreate"), "Recreate", "v2")
    old = rollout.current
    assert old is not None
    new = rollout.replica_set("v2")
    measured = _measure(rollout, lambda: controller.recreate(old, new, deployment.Recreate(rollout.replicas)))
    rollout.current = new
    _timeline(rollout, measured, _("Recreate, as the client saw it"))
    narrator.fact("recreate_longest_outage_ms", round(measured.outage * 1000, 1))
    narrator.fact("recreate_requests", len(measured.records), show=False)
    narrator.check(
        "recreate_failed_requests",
        measured.failed,
        _(
            "{failed} of {n} requests failed: from the moment the last v1 pod left the endpoints until the "
            "first v2 pod was ready the Service had no endpoint, and kube-proxy rejected each connection",
            failed=measured.failed,
            n=len(measured.records),
        ),
        measured.failed > 0,
    )
    refused = sum(1 for r in requests_.failed(measured.records) if "refused" in r[3].lower())
    narrator.fact("recreate_refused", refused, show=False)
    narrator.shell(f"{rollout.the_node.exec_prefix()} sysctl -w net.ipv4.icmp_ratelimit=0")
    narrator.explain(
        _(
            "With no endpoint, kube-proxy's reject-chain answers each new connection with an ICMP port "
            "unreachable: the client's `connection refused` ({refused} of the {failed} failures). isodemo's node "
            "turned the kernel's ICMP rate limit off in its namespace (the command above) so that every "
            "connection in the gap is refused at once and counted. A real node keeps it (net.ipv4.icmp_ratelimit "
            "1000 ms: after a burst of 6, one a second per address), so there a client gets a few refusals and "
            "then connections that hang until their timeout.",
            refused=refused,
            failed=measured.failed,
        )
    )
    narrator.explain(
        _(
            "Recreate (rolloutRecreate) scales the old ReplicaSet to 0, waits until no old pod is running, then "
            "scales the new one up. In between, nothing serves: the longest outage here was {ms} ms: the old "
            "pods' preStop wait and stop, then the new containers' start and first readiness probe. In a cluster "
            "it is longer: graceful shutdown (up to terminationGracePeriodSeconds, 30 s by default), scheduling, "
            "image pulls, and a probe every 10 s. Recreate is for applications that cannot run two versions at once.",
            ms=round(measured.outage * 1000),
        )
    )
    return measured


def _reset(rollout: _Rollout) -> None:
    """The Deployment deleted and made again at v1 (not measured), so that RollingUpdate starts where Recreate
    did."""
    narrator, controller = rollout.narrator, rollout.the_controller
    current = rollout.current
    assert current is not None
    narrator.step(
        _("Back to the start: the Deployment made again at v1, now with strategy: RollingUpdate"),
        shell=["kubectl delete deployment web", "kubectl apply -f web.yaml  # v1, strategy RollingUpdate"],
    )
    controller.watch(None, current)
    controller.delete(current, list(current.pods))
    rollout.history.clear()
    rollout.revision = 0
    new = rollout.replica_set("v1")
    controller.rolling(ReplicaSet("", "", 0), new, deployment.RollingUpdate(rollout.replicas))
    rollout.current = new
    narrator.explain(
        _(
            "So that both strategies do the same update (v1 -> v2, from {n} ready v1 pods), the Deployment is "
            "deleted and made again at v1; the client is not measuring. Its ReplicaSet has the same name, "
            "{rs}: the same template gives the same pod-template-hash.",
            n=len(new.ready),
            rs=new.name,
        )
    )


# -- RollingUpdate ------------------------------------------------------------------------------------------------


def _rolling(rollout: _Rollout) -> _Measured:
    narrator, controller = rollout.narrator, rollout.the_controller
    plan = deployment.RollingUpdate(rollout.replicas)
    _update_step(rollout, _("Update v1 -> v2 with strategy: RollingUpdate"), "RollingUpdate", "v2")
    narrator.explain(
        _(
            "The fenceposts, as ResolveFenceposts computes them for {n} replicas: maxSurge 25% rounded up = "
            "{surge}, maxUnavailable 25% rounded down = {unavailable}. So at most {most} pods at once, and at "
            "least {least} ready.",
            n=rollout.replicas,
            surge=plan.surge,
            unavailable=plan.unavailable,
            most=plan.max_total,
            least=plan.min_available,
        )
    )
    narrator.fact("rolling_max_surge", plan.surge)
    narrator.fact("rolling_max_unavailable", plan.unavailable)
    old = rollout.current
    assert old is not None
    new = rollout.replica_set("v2")
    measured = _measure(rollout, lambda: controller.rolling(old, new, plan))
    rollout.current = new
    narrator.table(
        _("the controller's syncs that acted"),
        [_("sync"), _("rule"), _("created"), _("removed")],
        [[str(i), rule, str(made), str(gone)] for i, (rule, made, gone) in enumerate(controller.steps, 1)],
    )
    _timeline(rollout, measured, _("RollingUpdate, as the client saw it"))
    seen = timeline.versions_seen(measured.records, measured.began, measured.ended)
    narrator.fact("rolling_longest_outage_ms", round(measured.outage * 1000, 1), show=False)
    narrator.fact("rolling_requests", len(measured.records), show=False)
    narrator.check(
        "rolling_failed_requests",
        measured.failed,
        _("none of the {n} requests failed", n=len(measured.records)),
        measured.failed == 0 and len(measured.records) > 0,
    )
    narrator.check(
        "versions_seen_during_rolling",
        seen,
        _("both versions answered during the update: {versions}", versions=", ".join(seen)),
        seen == ["v1", "v2"],
    )
    narrator.check(
        "rolling_max_pods_seen",
        measured.max_pods,
        _(
            "at most {seen} pods' containers running at once, read from /proc at each change (replicas {n} + "
            "maxSurge {surge} = {most})",
            seen=measured.max_pods,
            n=rollout.replicas,
            surge=plan.surge,
            most=plan.max_total,
        ),
        measured.max_pods <= plan.max_total,
    )
    narrator.check(
        "rolling_min_available_seen",
        measured.min_available,
        _(
            "at least {seen} ready endpoints at any time in what kube-proxy was given (replicas {n} - "
            "maxUnavailable {unavailable} = {least})",
            seen=measured.min_available,
            n=rollout.replicas,
            unavailable=plan.unavailable,
            least=plan.min_available,
        ),
        measured.min_available >= plan.min_available,
    )
    narrator.explain(
        _(
            "Each sync either scales the new ReplicaSet up (reconcileNewReplicaSet, up to replicas + maxSurge "
            "pods) or the old one down (reconcileOldReplicaSets, never below replicas - maxUnavailable ready), "
            "and a new pod counts only once its readiness probe passed. An old pod leaves in this order: out of "
            "the endpoints (ready=false, kube-proxy's sync), the preStop hook's wait ({pre_stop}) for requests "
            "in flight, then SIGTERM and SIGKILL. isodemo does these one after the other in one process. In a "
            "cluster, deleting a pod starts two things at the same moment: the kubelet runs preStop and sends "
            "SIGTERM, while the EndpointSlice controller and then kube-proxy on every node remove the endpoint. "
            "They race: an application that exits at once on SIGTERM can drop connections that were still sent "
            "to it. That is why preStop sleeps and graceful shutdown (keep serving a few seconds after SIGTERM) "
            "exist.",
            pre_stop=rollout.at_speed(rollout.timing.pre_stop),
        )
    )
    timing = rollout.timing
    narrator.explain(
        _(
            "busybox httpd as PID 1 has no SIGTERM handler, so the kernel drops the SIGTERM. A kubelet would wait "
            "out the rest of terminationGracePeriodSeconds ({grace} s minus the preStop's {pre_stop} s: {rest}) "
            "before it sends SIGKILL; isodemo sends the SIGKILL right after the SIGTERM. The old containers' "
            "exit codes: {codes} (128 + 9 is SIGKILL).",
            grace=_g(timing.grace),
            pre_stop=_g(timing.pre_stop),
            rest=rollout.at_speed(timing.grace - timing.pre_stop),
            codes=", ".join(map(str, measured.exit_codes)) or "-",
        )
    )
    return measured


def _undo(rollout: _Rollout) -> None:
    narrator, controller = rollout.narrator, rollout.the_controller
    old = rollout.current
    assert old is not None
    previous = rollout.history["v1"]
    narrator.step(
        _("kubectl rollout undo: back to the previous revision, v1, with RollingUpdate"),
        syscalls=[
            "pidfd_send_signal(pidfd, SIGKILL)",
            "NFT_MSG_NEWRULE ...  (nft -f -: kube-proxy's sync, in the node's namespace)",
        ],
        shell=["kubectl rollout history deployment web", "kubectl rollout undo deployment web"],
    )
    narrator.table(
        _("kubectl rollout history deployment web"),
        [_("revision"), _("ReplicaSet"), _("version"), _("pods")],
        [
            [str(rs.revision), rs.name, rs.version, str(len(rs.pods))]
            for rs in sorted(rollout.history.values(), key=lambda r: r.revision)
        ],
    )
    new = rollout.replica_set("v1")
    plan = deployment.RollingUpdate(rollout.replicas)
    measured = _measure(rollout, lambda: controller.rolling(old, new, plan))
    rollout.current = new
    _timeline(rollout, measured, _("rollout undo, as the client saw it"))
    after = requests_.after(measured.records, measured.ended)
    versions_after = timeline.answered_by_version(after)
    ok = (
        measured.failed == 0
        and list(versions_after) == ["v1"]
        and timeline.failures(after) == 0
        and new is previous
        and len(new.ready) == rollout.replicas
    )
    narrator.fact("undo_revision", new.revision, show=False)
    narrator.fact("undo_failed_requests", measured.failed, show=False)
    narrator.check(
        "undo_ok",
        ok,
        _(
            "after the undo the ReplicaSet {rs} of revision 1 is back as revision {revision}, {m} requests "
            "after it were all answered by v1, and none of the {n} requests failed",
            rs=new.name,
            revision=new.revision,
            m=sum(versions_after.values()),
            n=len(measured.records),
        ),
        ok,
    )
    narrator.explain(
        _(
            "The Deployment keeps its old ReplicaSets (revisionHistoryLimit 10), scaled to 0. Undo copies the "
            "previous one's template back into the Deployment, so the same ReplicaSet ({rs}, same hash) is "
            "scaled up again and gets the next revision number; the rollout itself is an ordinary RollingUpdate.",
            rs=new.name,
        )
    )


def _compare(rollout: _Rollout, recreate: _Measured, rolling: _Measured) -> None:
    narrator = rollout.narrator
    narrator.step(_("The two strategies side by side"))
    narrator.table(
        _("v1 -> v2 with {n} replicas", n=rollout.replicas),
        [_("strategy"), _("requests"), _("failed"), _("longest outage"), _("took"), _("most pods"), _("fewest ready")],
        [
            [
                name,
                str(len(m.records)),
                str(m.failed),
                f"{m.outage * 1000:.0f} ms",
                f"{m.seconds:.2f} s",
                str(m.max_pods),
                str(m.min_available),
            ]
            for name, m in (("Recreate", recreate), ("RollingUpdate", rolling))
        ],
    )
    if rolling.seconds > recreate.seconds:
        took = _(
            "RollingUpdate took longer ({rolling:.2f} s against {recreate:.2f} s): it moves a few pods per step "
            "and waits for readiness at each.",
            rolling=rolling.seconds,
            recreate=recreate.seconds,
        )
    else:
        took = _(
            "RollingUpdate was not slower here ({rolling:.2f} s against {recreate:.2f} s): with few replicas "
            "it has few steps to take.",
            rolling=rolling.seconds,
            recreate=recreate.seconds,
        )
    narrator.explain(
        _(
            "{took} It ran up to {rolling_pods} pods at once against Recreate's {recreate_pods}, and {rolling_failed} "
            "of its requests failed against Recreate's {failed}. Times are at --speed {speed:g}: the readiness "
            "probe's period and timeout (not below {period:g} s and {timeout:g} s) and the preStop wait are "
            "divided by it; the containers' start and the rules' syncs are real.",
            took=took,
            rolling_pods=rolling.max_pods,
            recreate_pods=recreate.max_pods,
            rolling_failed=rolling.failed,
            failed=recreate.failed,
            speed=rollout.timing.speed,
            period=kubelet.MIN_PROBE_PERIOD,
            timeout=kubelet.MIN_PROBE_TIMEOUT,
        )
    )


def _g(value: float) -> str:
    """A number as `{:g}` writes it (3, 0.5, 12.5): formatted here, so that _()'s arguments are plain values."""
    return f"{value:g}"
