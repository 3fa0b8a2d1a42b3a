"""service: a Service's ClusterIP in front of N pods, as kube-proxy's nftables mode makes it, measured.

What you will see: a node (a network namespace with the pod bridge cni0), N pods of a Deployment each
answering HTTP with its own name, and kube-proxy's table with the Service's rules: the service-ips verdict map,
a chain that picks an endpoint with `numgen random mod N`, a chain per endpoint that DNATs to the pod. Then,
observed: M requests from a client pod through the ClusterIP, counted per pod and tested for an even spread
(chi-square); the NodePort; a pod killed while the client keeps going, its endpoint taken out of the map, and
no failed request after that; and with no endpoints left, a connection refused at once.
Kubernetes: Service (ClusterIP, NodePort), EndpointSlice, kube-proxy.

The objects are cluster/'s (node, pods, proxy, client); the steps the four control-loop demos share are
cluster_steps'; this module asks for them and tells.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections import Counter
from typing import Any

from isodemo.cluster import client as requests_
from isodemo.cluster.endpoints import EndpointSlice
from isodemo.cluster.pods import HTTP_PORT, Pod
from isodemo.cluster.proxy import KubeProxy
from isodemo.context import DemoContext
from isodemo.demos import cluster_steps as steps
from isodemo.i18n import _
from isodemo.kube import stats
from isodemo.narrate.base import Narrator

P_THRESHOLD = 0.001  # below this, an even spread would be very unlikely to give the counts seen
CLIENT_INTERVAL = 0.01  # seconds between the client's requests while a pod is killed
AFTER_UPDATE = 0.5  # seconds the client goes on after the update


class _Cluster(steps.ClusterDemo):
    def __init__(self, narrator: Narrator, ctx: DemoContext) -> None:
        super().__init__(narrator, ctx)
        self.replicas = int(ctx.options.get("replicas") or 3)
        self.requests = int(ctx.options.get("requests") or 300)
        self.proxy: KubeProxy | None = None
        self.pods: list[Pod] = []
        self.ready: dict[str, bool] = {}  # pod name -> its readiness probe passed


def run(narrator: Narrator, ctx: DemoContext) -> None:
    cluster = _Cluster(narrator, ctx)
    cluster.node, cluster.proxy = steps.node(narrator, ctx)
    _pods(cluster)
    _service(cluster)
    cluster.client = steps.client(narrator, ctx, cluster.the_node)
    _spread(cluster)
    _node_port(cluster)
    ctx.hold_here(
        narrator,
        {"client": cluster.the_client.box.pid, **{pod.name: pod.pid for pod in cluster.pods}},
        [
            cluster.proxy.command(),
            f"sudo ip netns exec {cluster.the_client.netns_name} wget -q -O - http://{steps.CLUSTER_IP}/",
        ],
        netns=[cluster.the_node.name, cluster.the_client.netns_name],
    )
    _kill_one(cluster)
    _no_endpoints(cluster)
    narrator.kubernetes(
        _(
            "This is a Service of type NodePort (a ClusterIP, plus a port on every node). The EndpointSlice "
            "controller lists the ready pods that match the Service's selector; kube-proxy on every node turns "
            "that list into rules. No process listens on the ClusterIP: the first packet of each connection is "
            "rewritten to a pod's address, and conntrack does the same for the rest. A pod that stops being "
            "ready leaves the list; with none left, new connections are refused."
        )
    )


def _pods(cluster: _Cluster) -> None:
    narrator, ctx, the_node = cluster.narrator, cluster.ctx, cluster.the_node
    narrator.step(
        _("A Deployment's {n} pods, each serving HTTP with its own name", n=cluster.replicas),
        syscalls=["setns(fd, CLONE_NEWNET)", "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS)"],
    )
    rows = []
    for _i in range(cluster.replicas):
        pod = steps.make_pod(ctx, the_node, "web", "")
        cluster.pods.append(pod)
        cluster.ready[pod.name] = steps.wait_ready(the_node, pod) is not None
        rows.append([pod.name, pod.address, str(pod.pid), _("yes") if cluster.ready[pod.name] else _("no")])
    narrator.shell(*cluster.pods[0].shell)
    narrator.table(_("the pods"), [_("pod"), "IP", "PID", _("ready")], rows)
    narrator.fact("pods", {pod.name: pod.address for pod in cluster.pods})
    narrator.claim(
        _("every pod answered the readiness probe within {s} s", s=int(steps.READY_TIMEOUT)),
        all(cluster.ready.values()),
    )
    narrator.explain(
        _(
            "Each pod is a network namespace wired to cni0 with the next address of the node's pod CIDR "
            "(host-local IPAM), and a busybox container running `httpd` on port {port}, built by `isodemo run`'s "
            "runtime. The kubelet's readiness probe (an HTTP GET from the node) marks a pod ready when it "
            "answers 200.",
            port=HTTP_PORT,
        )
    )


def _service(cluster: _Cluster) -> None:
    narrator = cluster.narrator
    assert cluster.proxy is not None
    service = steps.service_port()
    narrator.step(
        _(
            "The Service web: ClusterIP {ip}:{port}, NodePort {node_port}",
            ip=service.cluster_ip,
            port=service.port,
            node_port=service.node_port,
        ),
        shell=["kubectl expose deployment web --port=80 --target-port=8080 --type=NodePort"],
    )
    cluster.slice = EndpointSlice(service, cluster.proxy)
    lines: list[str] = []
    for pod in cluster.pods:
        lines, _applied = cluster.endpoints.set(pod.name, pod.address, cluster.ready[pod.name])
    steps.show_service(narrator, cluster.proxy, cluster.endpoints, lines)
    listing = cluster.proxy.listing()
    narrator.fact("nft_table", listing, show=False)
    chains = parse_chains(listing)
    rows = [[chain, rule, meaning] for chain, rule, meaning in explain_rules(chains, service)]
    narrator.table(
        _("{command}, rule by rule", command=cluster.proxy.command()), [_("chain"), _("rule"), _("what it does")], rows
    )
    missing = [row[0] for row in rows if row[1] == _("(missing)")]
    narrator.fact("rules_missing", missing, show=False)
    narrator.claim(_("the kernel's listing of the table has every rule above"), not missing)
    narrator.fact("cluster_ip", service.cluster_ip)
    narrator.fact(
        "endpoints", [f"{cluster.endpoints.endpoints[p].address}:{HTTP_PORT}" for p in cluster.endpoints.ready_pods()]
    )
    in_map = service.chain in listing and all(pod.address in listing for pod in cluster.pods)
    narrator.claim(
        _(
            "kube-proxy's table maps {ip} to the service's chain and has a chain for each of the {n} pods",
            ip=service.cluster_ip,
            n=len(cluster.pods),
        ),
        in_map,
    )


def changes(lines: list[str]) -> list[str]:
    """What a later sync changed, as shell lines: the new numgen rule, the map elements and the chains deleted
    (the rest of the transaction rewrites what was already there)."""
    return [f"nft {line}" for line in lines if "numgen" in line or " element " in line or line.startswith("delete")]


def parse_chains(listing: str) -> dict[str, list[str]]:
    """`nft list table` output as {chain: [its rules]} (the hook lines `type ... hook ...` left out)."""
    chains: dict[str, list[str]] = {}
    current = None
    for raw in listing.splitlines():
        line = raw.strip()
        if line.startswith("chain ") and line.endswith("{"):
            current = line.removeprefix("chain ").removesuffix("{").strip()
            chains[current] = []
        elif line == "}":
            current = None
        elif current is not None and line and not line.startswith("type "):
            chains[current].append(line)
    return chains


def explain_rules(chains: dict[str, list[str]], service: Any) -> list[tuple[str, str, str]]:
    """(chain, rule, what it does) for the rules a packet to the ClusterIP meets, in that order, as the kernel
    listed them: a rule missing from the listing is missing from the table too."""
    meanings = [
        ("nat-prerouting", "jump services", _("every packet routed into the node (from a pod) goes to `services`")),
        ("nat-output", "jump services", _("and every packet the node itself sends")),
        (
            "services",
            "vmap @service-ips",
            _("ClusterIP . tcp . port is looked up in the map: a hit jumps to the Service's chain"),
        ),
        ("services", "vmap @service-nodeports", _("to a local address of the node (fib): the NodePort map")),
        (service.chain, "jump mark-for-masquerade", _("masqueradeAll: mark the packet 0x4000 for SNAT")),
        (
            service.chain,
            "numgen random mod",
            _("draw a number for this new connection; each number jumps to one endpoint"),
        ),
        (
            service.endpoint_chain(_first(service, chains)),
            "jump mark-for-masquerade",
            _("hairpin: a pod reaching itself through its Service is masqueraded too"),
        ),
        (
            service.endpoint_chain(_first(service, chains)),
            "dnat to",
            _("rewrite the destination to the pod's IP:port; conntrack keeps it for the connection"),
        ),
        ("nat-postrouting", "jump masquerading", _("after routing: to the masquerading chain")),
        (
            "masquerading",
            "masquerade",
            _("marked packets leave with the node's address as their source, so replies come back through it"),
        ),
        ("filter-forward", "ct state new", _("new connections are checked against the Services without endpoints")),
        ("service-endpoints-check", "vmap @no-endpoint-services", _("a Service with no endpoints: goto reject-chain")),
        ("reject-chain", "reject", _("refused at once with ICMP port unreachable, not left to time out")),
    ]
    rows = []
    for chain, needle, meaning in meanings:
        rule = next((r for r in chains.get(chain, []) if needle in r), "")
        rows.append((_short(chain), _short_rule(rule) or _("(missing)"), meaning))
    return rows


def _first(service: Any, chains: dict[str, list[str]]) -> Any:
    """The first endpoint whose chain the listing has (for the two endpoint-chain rows)."""
    from isodemo.kube.proxy_rules import Endpoint

    for chain in chains:
        if chain.startswith("endpoint-") and service.key in chain:
            address, port = chain.rsplit("__", 1)[1].split("/")
            return Endpoint("", address, int(port))
    return Endpoint("", "0.0.0.0", 0)


def _short_rule(rule: str) -> str:
    """A rule with its endpoint chains' names cut to the endpoint: `goto endpoint-…10.244.0.2/8080`."""
    import re

    return re.sub(r"endpoint-[A-Z2-7]{8}-\S*?__", "endpoint-…", rule)


def _short(chain: str) -> str:
    """A chain's name without its hash, for a table's narrow column."""
    prefix, _sep, rest = chain.partition("-")
    if prefix in ("service", "endpoint", "external") and len(rest) > 9 and rest[8] == "-":
        return f"{prefix}-…-{rest[9:]}"
    return chain


def _spread(cluster: _Cluster) -> None:
    narrator, service = cluster.narrator, cluster.endpoints.service
    url = f"http://{service.cluster_ip}:{service.port}/"
    narrator.step(
        _("{m} requests from the client through the ClusterIP", m=cluster.requests),
        syscalls=[f"connect({service.cluster_ip}:{service.port})  (a new connection each time)"],
        shell=[cluster.the_client.shell_loop(url)],
    )
    records = cluster.the_client.requests(service.cluster_ip, service.port, cluster.requests)
    answered = Counter(body.split()[0] for _s, _t, status, body in records if status == 200 and body)
    counts = {pod.name: answered.get(pod.name, 0) for pod in cluster.pods}
    largest = max(counts.values(), default=0)
    expected = len(records) / len(cluster.pods)
    narrator.table(
        _("who answered, out of {m}", m=len(records)),
        [_("pod"), _("requests"), ""],
        [[name, str(count), steps.bar(count, largest)] for name, count in counts.items()],
    )
    narrator.fact("requests", len(records))
    narrator.fact("per_endpoint", counts)
    p_value = stats.uniform_p(list(counts.values()))
    narrator.fact("chi_square_p", round(p_value, 4))
    failed = len(requests_.failed(records))
    narrator.check(
        "spread_ok",
        p_value >= P_THRESHOLD and failed == 0,
        _(
            "every request was answered and the counts fit an even spread of {expected:.0f} each "
            "(chi-square test, p = {p:.3f} >= {threshold})",
            expected=expected,
            p=p_value,
            threshold=P_THRESHOLD,
        ),
        p_value >= P_THRESHOLD and failed == 0,
    )
    narrator.explain(
        _(
            "numgen random draws a number for each new connection, so the counts are not exactly equal: they "
            "scatter around M/N as dice do. The chi-square test asks how likely counts this uneven would be if "
            "every pod had the same chance; p near 0 would mean they do not."
        )
    )


def _node_port(cluster: _Cluster) -> None:
    narrator, service, the_node = cluster.narrator, cluster.endpoints.service, cluster.the_node
    url = f"http://{the_node.gateway}:{service.node_port}/"
    narrator.step(
        _("The NodePort: the node's own address, port {port}", port=service.node_port),
        shell=[f"sudo ip netns exec {cluster.the_client.netns_name} wget -q -O - {url}"],
    )
    status, body = cluster.the_client.get(the_node.gateway, service.node_port or 0)
    narrator.compare(f"wget {url}", [url], [body or _("(nothing)")], inside_title=_("the client got"))
    names = {pod.name for pod in cluster.pods}
    answered = status == 200 and body.split()[:1] and body.split()[0] in names
    narrator.check(
        "node_port_ok",
        bool(answered),
        _(
            "a pod answered on {node}:{port}: `fib daddr type local` matched the node's own address",
            node=the_node.gateway,
            port=service.node_port,
        ),
        bool(answered),
    )


def _kill_one(cluster: _Cluster) -> None:
    narrator, service = cluster.narrator, cluster.endpoints.service
    victim = cluster.pods[0]
    narrator.step(
        _("Pod {pod} killed while the client keeps sending", pod=victim.name),
        syscalls=[
            f"pidfd_send_signal(pidfd of {victim.pid}, SIGKILL)",
            "pselect6([pidfd])  (select(): the endpoints controller waits for the death)",
        ],
        shell=[f"sudo kill -KILL {victim.pid}"],
    )
    the_client = cluster.the_client
    the_client.start(service.cluster_ip, service.port, CLIENT_INTERVAL)
    time.sleep(0.3)
    assert victim.container is not None
    watch = victim.container.started.box.wait_fd()
    try:
        killed_at = time.monotonic()
        victim.container.started.box.send_signal(signal.SIGKILL)
        select.select([watch], [], [], 5.0)
    finally:
        os.close(watch)
    lines, updated_at = cluster.endpoints.set(victim.name, victim.address, False)
    time.sleep(AFTER_UPDATE)
    records = the_client.stop()
    victim.kill_container()
    removal_ms = round((updated_at - killed_at) * 1000, 1)
    narrator.shell(*changes(lines))
    before = [r for r in records if r[0] < killed_at]
    during = [r for r in requests_.failed(records) if killed_at <= r[0] < updated_at]
    after = requests_.after(records, updated_at)
    failed_after = len(requests_.failed(after))
    narrator.table(
        _("what the client saw"),
        [_("when"), _("requests"), _("failed")],
        [
            [_("before the kill"), str(len(before)), str(len(requests_.failed(before)))],
            [
                _("kill -> map updated ({ms} ms)", ms=removal_ms),
                str(len([r for r in records if killed_at <= r[0] < updated_at])),
                str(len(during)),
            ],
            [_("after the update"), str(len(after)), str(failed_after)],
        ],
    )
    window = [r for r in records if killed_at <= r[0] < updated_at]
    refused = [r for r in during if "refused" in r[3].lower()]
    narrator.fact("endpoint_removal_ms", removal_ms)
    narrator.fact("failed_before_update", len(during))
    narrator.fact("refused_before_update", len(refused), show=False)
    narrator.check(
        "failed_after_update",
        failed_after,
        _(
            "after the update none of the client's {n} requests failed: {pod} is out of the map",
            n=len(after),
            pod=victim.name,
        ),
        failed_after == 0 and len(after) > 0,
    )
    narrator.explain(
        _(
            "Between the kill and the update the rules still sent some new connections to the dead pod: {failed} "
            "of the {total} requests in that window failed, {refused} of them refused at once (the pod's network "
            "namespace, pinned, is still there, and its kernel answers a connection to a port that nothing "
            "listens on with a reset). In a cluster this window is the kubelet noticing the death, the "
            "EndpointSlice update and kube-proxy's sync: about a second. Here one process watches the "
            "container's pidfd and rewrites the rules at once: {ms} ms. The ReplicaSet would now start a new "
            "pod (`isodemo healing`, `isodemo rollout`).",
            failed=len(during),
            total=len(window),
            refused=len(refused),
            ms=removal_ms,
        )
    )


def _no_endpoints(cluster: _Cluster) -> None:
    narrator, service = cluster.narrator, cluster.endpoints.service
    narrator.step(
        _("Every pod gone: the Service has no endpoints"),
        shell=["kubectl scale deployment web --replicas=0"],
    )
    lines: list[str] = []
    for pod in cluster.pods[1:]:
        pod.kill_container()
        lines, _applied = cluster.endpoints.set(pod.name, pod.address, False)
    narrator.shell(*changes(lines))
    began = time.monotonic()
    status, why = cluster.the_client.get(service.cluster_ip, service.port, timeout=3.0)
    took_ms = round((time.monotonic() - began) * 1000, 1)
    result = "refused" if status == 0 and "refused" in why.lower() else ("timeout" if why == "timeout" else why)
    narrator.compare(
        f"wget http://{service.cluster_ip}/", [_("(no endpoints)")], [why], inside_title=_("the client got")
    )
    narrator.fact("no_endpoint_result", result)
    narrator.fact("no_endpoint_ms", took_ms, show=False)
    narrator.check(
        "no_endpoint_refused",
        result == "refused",
        _("the connection was refused at once ({ms} ms), not left to time out: reject-chain", ms=took_ms),
        result == "refused",
    )
