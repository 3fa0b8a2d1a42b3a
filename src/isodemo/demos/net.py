"""net: a container's network, from an empty stack to a bridged, published, rate-limited network.

What you will see: a new network namespace with only `lo`, down; a veth pair that wires it to the host, with
addresses from a private subnet that clashes with nothing here; a bridge with two containers, like the CNI
bridge plugin's cni0; a port published with an nftables DNAT rule and a real HTTP request through it; the
masquerade rule a runtime adds for outbound traffic; and tc tbf limiting a container's bandwidth, measured.
Kubernetes: Pod IPs, the CNI bridge plugin, hostPort, and the bandwidth annotations.

The kernel objects are net/'s resources (NamedNetns, VethPair, Bridge, NatTable, Tbf), each taken with
net.own() so that an interrupt at any point leaves nothing behind; this module only asks for them and tells.
"""

from __future__ import annotations

import contextlib
import ipaddress
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from isodemo import testpoints
from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.i18n import _
from isodemo.isolated import Isolated
from isodemo.kernel import icmp, rtnl
from isodemo.narrate.base import Narrator

if TYPE_CHECKING:
    from isodemo.net.links import Bridge, VethPair
    from isodemo.net.nft import NatTable

T = TypeVar("T")

HTTP_PORT = 8080
SINK_PORT = 5201
DEFAULT_RATE_MBIT = 10
MEASURE_SECONDS = 3
UNLIMITED_BYTES = 64 << 20


@dataclass
class _Net:
    """What the steps share: the two containers (a, b), the host's netlink socket, and what each step made."""

    narrator: Narrator
    ctx: DemoContext
    boxes: dict[str, Isolated]
    ipr: Any
    names: dict[str, str] = field(default_factory=dict)  # container -> its network namespace's name
    address: dict[str, str] = field(default_factory=dict)  # container -> its eth0 address; "host" -> gateway
    veths: dict[str, VethPair] = field(default_factory=dict)
    subnet: ipaddress.IPv4Network = field(default_factory=lambda: ipaddress.IPv4Network("0.0.0.0/32"))  # step 2

    def own(self, resource: contextlib.AbstractContextManager[T]) -> T:
        """Take a net resource for the rest of the demo: made and registered for teardown as one piece."""
        from isodemo.net import own

        return own(self.ctx.stack, resource)

    @property
    def gateway(self) -> str:
        return self.address["host"]

    def host(self, index: int) -> ipaddress.IPv4Address:
        from isodemo.net import addressing

        return addressing.host_address(self.subnet, index)

    def prefix(self, address: str) -> str:
        return f"{address}/{self.subnet.prefixlen}"


def _mbit(byte_count: int, seconds: float) -> float:
    return round(byte_count * 8 / seconds / 1e6, 2)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    from isodemo.net import links

    # Both containers first: isodemo forks only before it opens netlink sockets (ARCHITECTURE.md).
    boxes = {key: ctx.isolated(["net", "uts", "pid"]) for key in ("a", "b")}  # pid: its servers die with it
    net = _Net(narrator, ctx, boxes, ctx.enter(links.open_host()))
    net.names = {key: ctx.run.object_name(key) for key in boxes}
    _empty_namespace(net)
    _veth_pair(net, ctx.options.get("subnet"))
    bridge = _bridge(net)
    table = _publish(net, int(ctx.options.get("port") or HTTP_PORT))
    _masquerade(net, table, bridge)
    _bandwidth(net, int(ctx.options.get("rate") or DEFAULT_RATE_MBIT))
    ctx.hold_here(
        narrator,
        {key: box.pid for key, box in boxes.items()},
        [
            f"ip netns exec {net.names['a']} ip addr",
            f"nsenter --net=/run/netns/{net.names['b']} ip route",
            f"nft list table ip {table.name}",
            f"tc qdisc show dev {net.veths['a'].name}",
            f"bridge link show master {bridge.name}",
        ],
        netns=list(net.names.values()),
    )
    narrator.kubernetes(
        _(
            "Every Pod gets a network namespace like these, held by its pause container, with an IP of its own "
            "(a Pod IP). The CNI bridge plugin does exactly steps 2 and 3: a veth pair per Pod, the host end on "
            "the bridge cni0, an address from host-local IPAM, and with ipMasq the masquerade rule of step 5. A "
            "container's hostPort is the DNAT of step 4 (the portmap plugin). The bandwidth plugin turns the "
            "annotation kubernetes.io/ingress-bandwidth into the tc tbf of step 6, on the host end of the Pod's "
            "veth; egress-bandwidth needs an ifb device to shape what the Pod sends."
        )
    )


def _empty_namespace(net: _Net) -> None:
    from isodemo.inside import net as inside
    from isodemo.net import netns

    narrator, a = net.narrator, net.names["a"]
    narrator.step(
        _("A new network namespace: only lo, and it is down"),
        syscalls=[
            "unshare(CLONE_NEWNET|CLONE_NEWUTS|CLONE_NEWPID)",
            'mount("/proc/PID/ns/net", "/run/netns/NAME", NULL, MS_BIND, NULL)',
        ],
        shell=[f"sudo ip netns add {a}", f"sudo ip netns exec {a} ip -brief link"],
    )
    for key, name in net.names.items():
        net.own(netns.NamedNetns(name, net.boxes[key].pid))
    narrator.explain(
        _(
            "A network namespace has its own interfaces, addresses, routes, firewall and ports. A new "
            "one is empty but for a loopback that is down. The bind mount on {path} "
            "gives it a name, so that `ip netns` finds it. Each container also gets its own UTS and pid "
            "namespace, so the servers it runs later end with it.",
            path=netns.NETNS_DIR + "/" + a,
        )
    )
    inside_links = net.boxes["a"].call(inside.link_table)
    narrator.compare("ip -brief link", rtnl.link_table(net.ipr), inside_links)
    narrator.fact("links_inside_initially", [line.split()[0] for line in inside_links])
    loopback = narrator.fact("loopback_reachable_initially", net.boxes["a"].call(inside.ping, "127.0.0.1"))
    routes = net.boxes["a"].call(inside.route_table)
    narrator.claim(
        _("inside there is only lo, and it is down"), [line.split()[:2] for line in inside_links] == [["lo", "DOWN"]]
    )
    narrator.claim(_("nothing is reachable: no route at all, not even 127.0.0.1"), not routes and not loopback)
    show_namespace_identity(narrator, net.boxes["a"], "net")


def _new_pair(net: _Net, key: str) -> VethPair:
    """Container `key`'s veth pair, both ends still on the host: isodemo-<run>v/p for a, w/q for b."""
    from isodemo.net import links

    host_end, peer = {"a": ("v", "p"), "b": ("w", "q")}[key]
    rid = net.ctx.run.id
    pair = net.own(links.VethPair(net.ipr, f"isodemo-{rid}{host_end}", f"isodemo-{rid}{peer}"))
    net.veths[key] = pair
    return pair


def _move_in(net: _Net, key: str, address: str) -> list[str]:
    """Move the peer of container `key`'s pair into its namespace, where it becomes eth0 with `address` and a
    default route via the gateway; the shell lines that do the same."""
    from isodemo.inside import net as inside
    from isodemo.net import netns

    pair, name = net.veths[key], net.names[key]
    net.address[key] = address
    moved = pair.move_peer(f"{netns.NETNS_DIR}/{name}", name)
    net.boxes[key].call(inside.configure, pair.peer, "eth0", address, net.subnet.prefixlen, net.gateway)
    return [
        f"sudo {moved}",
        f"sudo ip netns exec {name} ip link set {pair.peer} name eth0",
        f"sudo ip netns exec {name} ip addr add {net.prefix(address)} dev eth0",
        f"sudo ip netns exec {name} ip link set eth0 up",
        f"sudo ip netns exec {name} ip link set lo up",
        f"sudo ip netns exec {name} ip route add default via {net.gateway}",
    ]


def _veth_pair(net: _Net, requested: ipaddress.IPv4Network | None) -> None:
    from isodemo.inside import net as inside
    from isodemo.net import addressing, links

    narrator = net.narrator
    narrator.step(  # before the lock: a --step pause must not keep every other run of net waiting
        _("A veth pair: one end on the host, one end inside"),
        syscalls=["RTM_NEWLINK kind veth", "RTM_NEWLINK IFLA_NET_NS_FD", "RTM_NEWADDR", "RTM_NEWROUTE"],
    )
    with addressing.claimed_subnet(net.ctx.run.id, lambda: links.host_networks(net.ipr), requested) as subnet:
        net.subnet = subnet
        net.address["host"] = str(net.host(1))
        pair = _new_pair(net, "a")
        # The address makes the kernel route the subnet here: from now on the next run sees it as taken.
        added = pair.add_address(net.gateway, subnet.prefixlen)
    up = pair.up()
    narrator.shell(f"sudo {pair.command()}", f"sudo {added} && sudo {up}", *_move_in(net, "a", str(net.host(2))))
    narrator.fact("subnet", str(subnet))
    narrator.explain(
        _(
            "{subnet} overlaps no route of this host (--subnet chooses another). A veth pair is a "
            "virtual cable: what goes in one end comes out of the other, even across namespaces.",
            subnet=subnet,
        )
    )
    narrator.compare("ip route", rtnl.route_table(net.ipr, within=subnet), net.boxes["a"].call(inside.route_table))
    address = net.address["a"]
    to_container = icmp.ping(address)
    narrator.check(
        "ping_host_to_container",
        to_container,
        _("the host reaches the container: ping {address}", address=address),
        to_container,
    )
    to_host = net.boxes["a"].call(inside.ping, net.gateway)
    narrator.check(
        "ping_container_to_host",
        to_host,
        _("the container reaches the host: ping {gateway}", gateway=net.gateway),
        to_host,
    )


def _bridge(net: _Net) -> Bridge:
    from isodemo.inside import net as inside
    from isodemo.net import links

    narrator, gateway, prefixlen = net.narrator, net.gateway, net.subnet.prefixlen
    veth_a = net.veths["a"]
    bridge_name = f"isodemo-{net.ctx.run.id}r"
    third = str(net.host(3))
    narrator.step(
        _("A bridge and a second container, like the CNI bridge plugin's cni0"),
        syscalls=["RTM_NEWLINK kind bridge", "RTM_NEWLINK IFLA_MASTER"],
        shell=[
            f"sudo ip link add {bridge_name} type bridge",
            f"sudo ip addr del {net.prefix(gateway)} dev {veth_a.name} && "
            f"sudo ip addr add {net.prefix(gateway)} dev {bridge_name}",
            f"sudo ip link set {veth_a.name} master {bridge_name} && sudo ip link set {bridge_name} up",
            f"# the same veth steps for {net.names['b']}, with {third}, and master {bridge_name}",
        ],
    )
    bridge = net.own(links.Bridge(net.ipr, bridge_name))
    veth_a.del_address(gateway, prefixlen)
    bridge.add_address(gateway, prefixlen)
    bridge.attach(veth_a)
    bridge.up()
    pair_b = _new_pair(net, "b")
    bridge.attach(pair_b)
    pair_b.up()
    _move_in(net, "b", third)
    narrator.compare(
        _("the bridge {bridge} and its ports (bridge link)", bridge=bridge.name),
        [f"{bridge.name}: {net.prefix(gateway)}", *bridge.ports()],
        [f"{net.names['a']}: eth0 {net.address['a']}", f"{net.names['b']}: eth0 {third}"],
        host_title=_("host"),
        inside_title=_("containers"),
    )
    between = net.boxes["a"].call(inside.ping, third)
    narrator.check(
        "ping_container_to_container",
        between,
        _("container a reaches container b over the bridge: ping {address}", address=third),
        between,
    )
    narrator.claim(_("the host still reaches container a, now through the bridge"), icmp.ping(net.address["a"]))
    return bridge


def _publish(net: _Net, published: int) -> NatTable:
    from isodemo.inside import net as inside
    from isodemo.net import nft

    narrator, gateway, address = net.narrator, net.gateway, net.address["a"]
    narrator.step(
        _(
            "Publishing a port: {gateway}:{published} -> {address}:{port} (nftables DNAT)",
            gateway=gateway,
            published=published,
            address=address,
            port=HTTP_PORT,
        ),
        syscalls=["NFT_MSG_NEWTABLE / NEWCHAIN / NEWRULE over netlink (nft -j)"],
    )
    hello = f"hello from {net.names['a']}\n"
    server = net.boxes["a"].call(inside.http_server, HTTP_PORT, hello)
    nat = net.own(nft.NatTable(net.ctx.run.name))
    narrator.shell(
        *(f"sudo {line}" for line in nat.commands()),
        *(f"sudo {line}" for line in nat.publish(gateway, published, address, HTTP_PORT)),
    )
    narrator.explain(
        _(
            "A small HTTP server (Python's http.server, pid {server} inside) listens on port "
            "{port} in container a. The DNAT rule rewrites the destination of packets for "
            "{gateway}:{published} before routing: in output for connections from this host itself, in "
            "prerouting for packets that arrive from elsewhere (those also need routing on, "
            "net.ipv4.ip_forward=1). This is what `docker run -p` and a Pod's hostPort do, on every address of "
            "the host rather than only the bridge's.",
            server=server,
            port=HTTP_PORT,
            gateway=gateway,
            published=published,
        )
    )
    testpoints.hit("net.request")
    with urllib.request.urlopen(f"http://{gateway}:{published}/", timeout=5) as response:
        answer = response.read().decode()
    narrator.compare(
        f"curl http://{gateway}:{published}/",
        [_("sent to {gateway}:{published}", gateway=gateway, published=published)],
        [answer.strip()],
        host_title=_("the request"),
        inside_title=_("answered from inside"),
    )
    narrator.check(
        "published_port_ok",
        answer == hello,
        _("the request to the host-side address was answered by the server in container a"),
        answer == hello,
    )
    return nat


def _masquerade(net: _Net, nat: NatTable, bridge: Bridge) -> None:
    from isodemo.net import nft

    narrator = net.narrator
    narrator.step(_("Outbound NAT: the masquerade rule a runtime adds"), syscalls=["NFT_MSG_NEWRULE"])
    narrator.shell("sudo " + nat.masquerade(str(net.subnet), bridge.name))
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read().strip()
    narrator.explain(
        _(
            "Packets from the containers that leave by any other interface get the host's address as their "
            "source, so replies find their way back. A runtime also turns on routing (net.ipv4.ip_forward=1; "
            "here it is {forward}) and a default route does the rest. isodemo sets the rule up but sends nothing "
            "out of the machine: the tests check the rule, never outside connectivity.",
            forward=forward,
        )
    )
    narrator.table(
        f"nft list table ip {nat.name}",
        [_("the host's ruleset, isodemo's table")],
        [[line] for line in nft.list_table_text(nat.name).splitlines() if line.strip()],
    )
    # Read back as nft -j lists it: a masquerade statement after matches on the source network and the interface.
    present = {"saddr": str(net.subnet), "not_oifname": bridge.name} in nft.masquerades(nft.list_table(nat.name))
    narrator.check(
        "masquerade_rule_present",
        present,
        _("the ruleset holds the masquerade rule for the containers' subnet {subnet}", subnet=net.subnet),
        present,
        show=True,
    )


def _bandwidth(net: _Net, rate_mbit: int) -> None:
    from isodemo.inside import net as inside
    from isodemo.net import tc

    narrator, veth, address = net.narrator, net.veths["a"], net.address["a"]
    limit = tc.Tbf(net.ipr, veth.name, rate_mbit)
    narrator.step(
        _("Bandwidth: tc tbf at {rate} Mbit/s on the way into container a", rate=rate_mbit),
        syscalls=["RTM_NEWQDISC tbf"],
        shell=[f"sudo {limit.command()}", f"sudo tc qdisc show dev {veth.name}"],
    )
    net.boxes["a"].call(inside.start_sink, SINK_PORT)
    unlimited = narrator.fact(
        "bandwidth_unlimited_mbit", _mbit(UNLIMITED_BYTES, inside.send_bytes(address, SINK_PORT, UNLIMITED_BYTES))
    )
    net.own(limit)
    limited_bytes = rate_mbit * 1_000_000 // 8 * MEASURE_SECONDS
    measured = narrator.fact(
        "bandwidth_measured_mbit", _mbit(limited_bytes, inside.send_bytes(address, SINK_PORT, limited_bytes))
    )
    narrator.fact("bandwidth_limit_mbit", rate_mbit)
    narrator.compare(
        _("a TCP transfer from the host into container a"),
        [_("without the limit: {rate} Mbit/s", rate=unlimited)],
        [_("with tbf at {limit} Mbit/s: {rate} Mbit/s", limit=rate_mbit, rate=measured)],
        host_title=_("before"),
        inside_title=_("after"),
    )
    narrator.claim(
        _("the transfer ran at {rate} Mbit/s, within 20% of the {limit} Mbit/s limit", rate=measured, limit=rate_mbit),
        abs(measured - rate_mbit) <= 0.2 * rate_mbit,
    )
