"""kube-proxy's nftables rules for a Service, as text for `nft -f -` (pure: unit-tested without root).

Follows pkg/proxy/nftables/proxier.go (Kubernetes 1.33+, where the nftables mode is GA), which writes its
rules through knftables as `nft -f -` transactions, the same text shown here:

    table ip kube-proxy
      chain nat-prerouting, nat-output   type nat, priority dstnat (-100): jump services
      chain nat-postrouting              type nat, priority srcnat (100):  jump masquerading
      chain filter-forward, filter-output  type filter, priority dstnat-10 (-110):
                                         ct state new jump service-endpoints-check
      map service-ips        ip daddr . meta l4proto . th dport : verdict  (ClusterIP -> the service's chain)
      map service-nodeports  meta l4proto . th dport : verdict             (NodePort -> its external- chain)
      map no-endpoint-services                                             (-> reject-chain)
      chain service-HASH-ns/svc/tcp/port   numgen random mod N vmap { 0 : goto endpoint-..., ... }
      chain endpoint-HASH-ns/svc/tcp/port__IP/PORT   dnat to IP:PORT

Differences, named: kube-proxy also writes the firewall, cluster-ips and nodeport-endpoints checks, ClientIP
affinity chains and the ip6 table; isodemo writes what one TCP Service with a NodePort needs. It runs with
kube-proxy's `masqueradeAll: true` (every packet to a ClusterIP is marked 0x4000 and masqueraded): without
br_netfilter, a reply from a pod on the same bridge as its client would go straight back over the bridge,
past the node's conntrack, and the client would drop it.
"""

from __future__ import annotations

import base64
import hashlib

TABLE = "kube-proxy"
MASQUERADE_MARK = 0x4000  # 1 << masqueradeBit (14, pkg/proxy/apis/config/v1alpha1/defaults.go)
DSTNAT = -100
SRCNAT = 100
ENDPOINTS_CHECK = "ct state new jump service-endpoints-check"
FILTER_PRIORITY = DSTNAT - 10  # "dstnat - 10": nft 1.0.6 names dstnat only in prerouting, so the number


class Endpoint:
    """One EndpointSlice entry: the pod's address and port, and whether it is ready (podToEndpoint)."""

    __slots__ = ("address", "pod", "port", "ready")

    def __init__(self, pod: str, address: str, port: int, ready: bool = True) -> None:
        self.pod = pod
        self.address = address
        self.port = port
        self.ready = ready

    def __repr__(self) -> str:
        return f"Endpoint({self.pod!r}, {self.address!r}, {self.port}, ready={self.ready})"


class ServicePort:
    """A Service's port: `namespace/name/tcp/port_name`, its ClusterIP:port, and its NodePort if any."""

    __slots__ = ("cluster_ip", "name", "namespace", "node_port", "port", "port_name", "target_port")

    def __init__(
        self,
        namespace: str,
        name: str,
        cluster_ip: str,
        port: int,
        target_port: int,
        *,
        port_name: str = "http",
        node_port: int | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.cluster_ip = cluster_ip
        self.port = port
        self.target_port = target_port
        self.port_name = port_name
        self.node_port = node_port

    @property
    def key(self) -> str:
        """ServicePortName.String() with the protocol: "default/web/tcp/http"."""
        return f"{self.namespace}/{self.name}/tcp/{self.port_name}"

    @property
    def chain(self) -> str:
        return chain_name("service", self.key)

    @property
    def external_chain(self) -> str:
        return chain_name("external", self.key)

    def endpoint_chain(self, endpoint: Endpoint) -> str:
        return chain_name("endpoint", f"{self.key}__{endpoint.address}/{endpoint.port}")

    @property
    def element(self) -> str:
        """The key of this service in the service-ips and no-endpoint-services maps."""
        return f"{self.cluster_ip} . tcp . {self.port}"


def chain_name(prefix: str, name: str) -> str:
    """kube-proxy's hashAndTruncate: the first 8 characters of base32(sha256(name)), "-", the name; so a
    chain's name is unique and still readable: `service-ULMVA6XW-default/web/tcp/http`."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    return f"{prefix}-{digest[:8]}-{name}"


def ready(endpoints: list[Endpoint]) -> list[Endpoint]:
    """What kube-proxy load-balances to: the ready endpoints (topology.go CategorizeEndpoints; the fallback
    to serving+terminating ones when none is ready is not modelled)."""
    return [e for e in endpoints if e.ready]


def base_table() -> list[str]:
    """The table, its base chains, maps and helper chains, as kube-proxy makes them at start."""
    t = TABLE
    concat = "type ipv4_addr . inet_proto . inet_service : verdict"
    return [
        f"add table ip {t}",
        f"add map ip {t} service-ips {{ {concat} ; }}",
        f"add map ip {t} no-endpoint-services {{ {concat} ; }}",
        f"add map ip {t} service-nodeports {{ type inet_proto . inet_service : verdict ; }}",
        f"add chain ip {t} mark-for-masquerade",
        f"add rule ip {t} mark-for-masquerade mark set mark or {MASQUERADE_MARK:#x}",
        f"add chain ip {t} masquerading",
        f"add rule ip {t} masquerading mark and {MASQUERADE_MARK:#x} == 0 return",
        f"add rule ip {t} masquerading mark set mark xor {MASQUERADE_MARK:#x}",
        f"add rule ip {t} masquerading masquerade fully-random",
        f"add chain ip {t} reject-chain",
        f"add rule ip {t} reject-chain reject",
        f"add chain ip {t} services",
        f"add rule ip {t} services ip daddr . meta l4proto . th dport vmap @service-ips",
        f"add rule ip {t} services fib daddr type local ip daddr != 127.0.0.0/8 "
        "meta l4proto . th dport vmap @service-nodeports",
        f"add chain ip {t} service-endpoints-check",
        f"add rule ip {t} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        *_base_chain("filter-forward", "filter", "forward", FILTER_PRIORITY, ENDPOINTS_CHECK),
        *_base_chain("filter-output", "filter", "output", FILTER_PRIORITY, ENDPOINTS_CHECK),
        *_base_chain("nat-prerouting", "nat", "prerouting", DSTNAT, "jump services"),
        *_base_chain("nat-output", "nat", "output", DSTNAT, "jump services"),
        *_base_chain("nat-postrouting", "nat", "postrouting", SRCNAT, "jump masquerading"),
    ]


def _base_chain(name: str, kind: str, hook: str, priority: int, rule: str) -> list[str]:
    return [
        f"add chain ip {TABLE} {name} {{ type {kind} hook {hook} priority {priority} ; policy accept ; }}",
        f"add rule ip {TABLE} {name} {rule}",
    ]


def sync(service: ServicePort, endpoints: list[Endpoint], previous: list[Endpoint] | None) -> list[str]:
    """One transaction that brings the service's rules from `previous` (what the last sync wrote, None at first:
    [] is a sync that wrote no endpoint, and left the no-endpoint element) to `endpoints`: the service chain
    rewritten (flush, then its rules), a chain per ready endpoint, the chains of endpoints no longer ready
    deleted, and the maps pointing at the chain or at reject-chain."""
    t = TABLE
    now, before = ready(endpoints), ready(previous or [])
    lines = [
        # `add` of an existing chain or element is no error: kube-proxy's transactions are written that way
        f"add chain ip {t} {service.chain}",
        f"flush chain ip {t} {service.chain}",
    ]
    for endpoint in now:
        chain = service.endpoint_chain(endpoint)
        lines += [
            f"add chain ip {t} {chain}",
            f"flush chain ip {t} {chain}",
            f"add rule ip {t} {chain} ip saddr {endpoint.address} jump mark-for-masquerade",
            f"add rule ip {t} {chain} meta l4proto tcp dnat to {endpoint.address}:{endpoint.port}",
        ]
    if now:
        lines.append(
            f"add rule ip {t} {service.chain} ip daddr {service.cluster_ip} tcp dport {service.port} "
            "jump mark-for-masquerade"
        )
        targets = " , ".join(f"{i} : goto {service.endpoint_chain(e)}" for i, e in enumerate(now))
        lines.append(f"add rule ip {t} {service.chain} numgen random mod {len(now)} vmap {{ {targets} }}")
    if service.node_port is not None:
        lines += [
            f"add chain ip {t} {service.external_chain}",
            f"flush chain ip {t} {service.external_chain}",
            f"add rule ip {t} {service.external_chain} jump mark-for-masquerade",
            f"add rule ip {t} {service.external_chain} goto {service.chain}",
        ]
    lines += _maps(service, bool(now), None if previous is None else bool(before))
    kept = {service.endpoint_chain(e) for e in now}
    lines += [
        f"delete chain ip {t} {service.endpoint_chain(e)}" for e in before if service.endpoint_chain(e) not in kept
    ]
    return lines


def _maps(service: ServicePort, has_endpoints: bool, had_endpoints: bool | None) -> list[str]:
    """The map elements: the ClusterIP (and NodePort) to the service's chains while it has ready endpoints,
    to reject-chain when it has none (kube-proxy's no-endpoint-services). `had_endpoints` None: the first
    sync, no element of either kind to delete."""
    t, element = TABLE, service.element
    node = f"tcp . {service.node_port}" if service.node_port is not None else None
    lines = []
    if has_endpoints:
        lines += _delete_if(f"delete element ip {t} no-endpoint-services {{ {element} }}", had_endpoints is False)
        lines.append(f"add element ip {t} service-ips {{ {element} : goto {service.chain} }}")
        if node:
            lines.append(f"add element ip {t} service-nodeports {{ {node} : goto {service.external_chain} }}")
    else:
        lines += _delete_if(f"delete element ip {t} service-ips {{ {element} }}", bool(had_endpoints))
        if node:
            lines += _delete_if(f"delete element ip {t} service-nodeports {{ {node} }}", bool(had_endpoints))
        lines.append(f"add element ip {t} no-endpoint-services {{ {element} : goto reject-chain }}")
    return lines


def _delete_if(line: str, present: bool) -> list[str]:
    return [line] if present else []
