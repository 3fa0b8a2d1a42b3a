"""Steps that `service`, `healing`, `rollout` and `autoscale` share: the node, kube-proxy, a Deployment's pods,
the Service in front of them and the client, each told once here (the objects are cluster/'s)."""

from __future__ import annotations

import time
from typing import Any

from isodemo.cluster import pods as cluster_pods
from isodemo.cluster.client import Client
from isodemo.cluster.endpoints import EndpointSlice
from isodemo.cluster.node import BRIDGE, POD_CIDR, SERVICE_CIDR, Node
from isodemo.cluster.pods import HTTP_PORT, Pod
from isodemo.cluster.proxy import KubeProxy
from isodemo.i18n import _
from isodemo.kube.proxy_rules import ServicePort
from isodemo.narrate.base import Narrator

CLUSTER_IP = "10.96.0.100"
SERVICE_PORT = 80
NODE_PORT = 30080
READY_TIMEOUT = 10.0


class ClusterDemo:
    """What a control-loop demo keeps: its narrator and context, and the node, the Service's EndpointSlice and
    the client once the steps made them (the properties say so if a step asks before)."""

    def __init__(self, narrator: Narrator, ctx: Any) -> None:
        self.narrator = narrator
        self.ctx = ctx
        self.node: Node | None = None
        self.slice: EndpointSlice | None = None
        self.client: Client | None = None

    @property
    def the_node(self) -> Node:
        assert self.node is not None, "the node is made first"
        return self.node

    @property
    def endpoints(self) -> EndpointSlice:
        assert self.slice is not None, "the Service is made before it is used"
        return self.slice

    @property
    def the_client(self) -> Client:
        assert self.client is not None, "the client is made before it sends"
        return self.client


def node(narrator: Narrator, ctx: Any) -> tuple[Node, KubeProxy]:
    """The node's namespace, its bridge and uplink, and kube-proxy's table in it."""
    narrator.step(
        _("The node: a network namespace with the pod bridge {bridge} and kube-proxy's table", bridge=BRIDGE),
        syscalls=["unshare(CLONE_NEWNET)", 'mount("/proc/PID/ns/net", "/run/netns/NAME", MS_BIND)'],
    )
    the_node = Node(ctx)
    narrator.shell(*the_node.shell)
    narrator.explain(
        _(
            "A Kubernetes node keeps its pod bridge, routes and kube-proxy's rules in its own network namespace, "
            "the host's. isodemo makes a namespace that plays the node ({name}), so the cluster's own default "
            "addresses can be used (pods {pods}, Services {services}) and this machine's network and firewall "
            "stay exactly as they were.",
            name=the_node.name,
            pods=POD_CIDR,
            services=SERVICE_CIDR,
        )
    )
    proxy = KubeProxy(the_node)
    narrator.shell(*(f"{the_node.exec_prefix()} nft {line}" for line in proxy.shell[:1]))
    narrator.explain(
        _(
            "kube-proxy's nftables mode makes one table, ip kube-proxy: base chains on the nat prerouting and "
            "output hooks jump to `services`, whose verdict map service-ips sends each ClusterIP:port to the "
            "Service's own chain; nat postrouting masquerades what a chain marked 0x4000; filter chains reject "
            "new connections to a Service with no endpoints."
        )
    )
    return the_node, proxy


def make_pod(
    ctx: Any, the_node: Node, owner: str, body: str, *, cgi: dict[str, str] | None = None, **resources: Any
) -> Pod:
    """A pod of `owner` (a ReplicaSet's name): its namespace on cni0, and httpd answering `body` (the pod's
    name is put in front of it) on port 8080."""
    pod = Pod(ctx, the_node, cluster_pods.pod_name(owner), {"app": owner})
    pod.create_sandbox()
    pod.start(cluster_pods.serve_command(f"{pod.name} {body}".strip(), HTTP_PORT, cgi), **resources)
    return pod


def wait_ready(the_node: Node, pod: Pod, timeout: float = READY_TIMEOUT, period: float = 0.05) -> float | None:
    """The kubelet's readiness probe (httpGet / on 8080) until it answers 200: seconds it took, or None."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        status, _body = the_node.http_get(pod.address, HTTP_PORT, "/", 0.5)
        if status == 200:
            return time.monotonic() - began
        time.sleep(period)
    return None


def service_port(node_port: bool = True) -> ServicePort:
    return ServicePort(
        "default", "web", CLUSTER_IP, SERVICE_PORT, HTTP_PORT, node_port=NODE_PORT if node_port else None
    )


def show_service(narrator: Narrator, proxy: KubeProxy, slice_: EndpointSlice, lines: list[str]) -> None:
    """The transaction kube-proxy applied, and the service's rules as `nft list` prints them."""
    service = slice_.service
    narrator.shell(*(f"nft {line}" for line in lines))
    narrator.explain(
        _(
            "The Service's chain {chain} picks an endpoint for each new connection with `numgen random mod "
            "{n}` and jumps to that endpoint's chain, which DNATs to the pod's IP:{port}. Only the first packet "
            "goes through these rules: conntrack remembers the choice for the rest of the connection. The "
            "ClusterIP {ip} is on no interface; it exists only as a key of the service-ips map.",
            chain=service.chain,
            n=len(slice_.ready_pods()),
            port=service.target_port,
            ip=service.cluster_ip,
        )
    )


def client(narrator: Narrator, ctx: Any, the_node: Node) -> Client:
    narrator.step(_("A client pod on the same bridge"), syscalls=["unshare(CLONE_NEWNET)"])
    the_client = Client(ctx, the_node)
    narrator.shell(*the_client.shell)
    narrator.fact("client_ip", the_client.address, show=False)
    return the_client


def bar(count: int, largest: int, width: int = 30) -> str:
    """A bar of `count` against `largest`, for a table's column."""
    if largest <= 0:
        return ""
    return "█" * max(1 if count else 0, round(width * count / largest))


def at_speed(real_seconds: float, speed: float) -> str:
    """A Kubernetes period or wait at real scale, and as this run waits it: "40 s (4 s at --speed 10)"."""
    return _(
        "{real} s ({scaled} s at --speed {speed})",
        real=_seconds(real_seconds),
        scaled=_seconds(real_seconds / speed),
        speed=_seconds(speed),
    )


def _seconds(value: float) -> str:
    """300 -> "300", 4.0 -> "4", 0.75 -> "0.75", 1.25 -> "1.25", 0.1 -> "0.1"."""
    if abs(value) >= 100 or abs(value - round(value)) < 0.005:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")
