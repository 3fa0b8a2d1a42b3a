"""net: a container's network, from an empty stack to a bridged, published, rate-limited network.

What you will see: a new network namespace with only `lo`, down; a veth pair that wires it to the host, with
addresses from a private subnet that clashes with nothing here; a bridge with two containers, like the CNI
bridge plugin's cni0; a port published with an nftables DNAT rule and a real HTTP request through it; the
masquerade rule a runtime adds for outbound traffic; and tc tbf limiting a container's bandwidth, measured.
Kubernetes: Pod IPs, the CNI bridge plugin, hostPort, and the bandwidth annotations.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

from isodemo.demos.context import DemoContext, show_namespace_identity
from isodemo.errors import UsageError
from isodemo.narrate.base import Narrator
from isodemo.runs import RUN_DIR

HTTP_PORT = 8080
SINK_PORT = 5201
DEFAULT_RATE_MBIT = 10
MEASURE_SECONDS = 3


@contextlib.contextmanager
def _subnet_lock() -> Iterator[None]:
    """Two runs at once must not both take the same free subnet: choose and claim it under one lock."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(RUN_DIR, os.O_RDONLY | os.O_DIRECTORY)  # a lock on the directory: no lock file left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _mbit(byte_count: int, seconds: float) -> float:
    return round(byte_count * 8 / seconds / 1e6, 2)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    from isodemo.net import addressing, inside, links, netns, nft

    rate_mbit = int(ctx.options.get("rate") or DEFAULT_RATE_MBIT)
    rid = ctx.run.id
    names = {"a": ctx.run.object_name("a"), "b": ctx.run.object_name("b")}
    veth = {"a": f"isodemo-{rid}v", "b": f"isodemo-{rid}w"}
    peer = {"a": f"isodemo-{rid}p", "b": f"isodemo-{rid}q"}
    bridge = f"isodemo-{rid}r"
    # Both containers first: isodemo forks only before it opens netlink sockets (ARCHITECTURE.md).
    boxes = {key: ctx.isolated(["net", "uts", "pid"]) for key in names}  # pid: its servers die with it
    ipr: Any = ctx.enter(links.open_host())

    narrator.step(
        "A new network namespace: only lo, and it is down",
        syscalls=["unshare(CLONE_NEWNET)", 'mount("/proc/PID/ns/net", "/run/netns/NAME", NULL, MS_BIND, NULL)'],
        shell=[f"sudo ip netns add {names['a']}", f"sudo ip netns exec {names['a']} ip -brief link"],
    )
    for key, name in names.items():
        ctx.enter(netns.NamedNetns(name, boxes[key].pid))
    narrator.explain(
        "A network namespace has its own interfaces, addresses, routes, firewall and ports. A new "
        f"one is empty but for a loopback that is down. The bind mount on /run/netns/{names['a']} "
        "gives it a name, so that `ip netns` finds it."
    )
    inside_links = boxes["a"].call(inside.link_table)
    narrator.compare("ip -brief link", links.link_table(ipr), inside_links)
    narrator.fact("links_inside_initially", [line.split()[0] for line in inside_links])
    loopback = narrator.fact("loopback_reachable_initially", boxes["a"].call(inside.ping, "127.0.0.1"))
    routes = boxes["a"].call(inside.route_table)
    narrator.claim(
        "inside there is only lo, and it is down", [line.split()[:2] for line in inside_links] == [["lo", "DOWN"]]
    )
    narrator.claim("nothing is reachable: no route at all, not even 127.0.0.1", not routes and not loopback)
    show_namespace_identity(narrator, boxes["a"], "net")

    with _subnet_lock():
        taken = links.host_networks(ipr)
        subnet = ctx.options.get("subnet") or addressing.choose_subnet(rid, taken)
        clash = [
            net for net in taken if not net.endswith("/0") and subnet.overlaps(ipaddress.ip_network(net, strict=False))
        ]
        if clash:
            raise UsageError(
                f"--subnet {subnet} overlaps {', '.join(clash)}, a network this host already routes",
                "leave --subnet out (isodemo picks a free /24), or choose another private /24",
            )
        gateway, address = (str(addressing.host_address(subnet, i)) for i in (1, 2))
        narrator.step(
            "A veth pair: one end on the host, one end inside",
            syscalls=["RTM_NEWLINK kind veth", "RTM_NEWLINK IFLA_NET_NS_FD", "RTM_NEWADDR", "RTM_NEWROUTE"],
            shell=[
                f"sudo ip link add {veth['a']} type veth peer name {peer['a']}",
                f"sudo ip link set {peer['a']} netns {names['a']}",
                f"sudo ip addr add {gateway}/24 dev {veth['a']} && sudo ip link set {veth['a']} up",
                f"sudo ip netns exec {names['a']} ip link set {peer['a']} name eth0",
                f"sudo ip netns exec {names['a']} ip addr add {address}/24 dev eth0",
                f"sudo ip netns exec {names['a']} ip link set eth0 up",
                f"sudo ip netns exec {names['a']} ip link set lo up",
                f"sudo ip netns exec {names['a']} ip route add default via {gateway}",
            ],
        )
        ctx.enter(links.HostLink(ipr, veth["a"], kind="veth", peer=peer["a"]))
        ipr.addr("add", index=links.link_index(ipr, veth["a"]), address=gateway, prefixlen=24)
    narrator.fact("subnet", str(subnet))
    narrator.explain(
        f"{subnet} overlaps no route of this host (--subnet chooses another). A veth pair is a "
        "virtual cable: what goes in one end comes out of the other, even across namespaces."
    )
    ipr.link("set", index=links.link_index(ipr, veth["a"]), state="up")
    ipr.link("set", index=links.link_index(ipr, peer["a"]), net_ns_fd=netns.NETNS_DIR + "/" + names["a"])
    boxes["a"].call(inside.configure, peer["a"], "eth0", address, 24, gateway)
    narrator.compare(
        "ip route",
        [r for r in links.route_table(ipr) if str(subnet.network_address)[:-1] in r],
        boxes["a"].call(inside.route_table),
    )
    to_container = narrator.fact("ping_host_to_container", inside.ping(address))
    to_host = narrator.fact("ping_container_to_host", boxes["a"].call(inside.ping, gateway))
    narrator.claim(f"the host reaches the container: ping {address}", to_container)
    narrator.claim(f"the container reaches the host: ping {gateway}", to_host)

    third = str(addressing.host_address(subnet, 3))
    narrator.step(
        "A bridge and a second container, like the CNI bridge plugin's cni0",
        syscalls=["RTM_NEWLINK kind bridge", "RTM_NEWLINK IFLA_MASTER"],
        shell=[
            f"sudo ip link add {bridge} type bridge",
            f"sudo ip addr del {gateway}/24 dev {veth['a']} && sudo ip addr add {gateway}/24 dev {bridge}",
            f"sudo ip link set {veth['a']} master {bridge} && sudo ip link set {bridge} up",
            f"# the same veth steps for {names['b']}, with {third}, and master {bridge}",
        ],
    )
    ctx.enter(links.HostLink(ipr, bridge, kind="bridge"))
    bridge_index = links.link_index(ipr, bridge)
    ipr.addr("del", index=links.link_index(ipr, veth["a"]), address=gateway, prefixlen=24)
    ipr.addr("add", index=bridge_index, address=gateway, prefixlen=24)
    ipr.link("set", index=links.link_index(ipr, veth["a"]), master=bridge_index)
    ipr.link("set", index=bridge_index, state="up")
    ctx.enter(links.HostLink(ipr, veth["b"], kind="veth", peer=peer["b"]))
    ipr.link("set", index=links.link_index(ipr, veth["b"]), master=bridge_index, state="up")
    ipr.link("set", index=links.link_index(ipr, peer["b"]), net_ns_fd=netns.NETNS_DIR + "/" + names["b"])
    boxes["b"].call(inside.configure, peer["b"], "eth0", third, 24, gateway)
    ports = [link.get_attr("IFLA_IFNAME") for link in ipr.get_links() if link.get_attr("IFLA_MASTER") == bridge_index]
    narrator.compare(
        f"the bridge {bridge} and its ports (bridge link)",
        [f"{bridge}: {gateway}/24", *ports],
        [f"{names['a']}: eth0 {address}", f"{names['b']}: eth0 {third}"],
        host_title="host",
        inside_title="containers",
    )
    between = narrator.fact("ping_container_to_container", boxes["a"].call(inside.ping, third))
    narrator.claim(f"container a reaches container b over the bridge: ping {third}", between)
    narrator.claim("the host still reaches container a, now through the bridge", inside.ping(address))

    published = int(ctx.options.get("port") or HTTP_PORT)
    table_name = ctx.run.name
    narrator.step(
        f"Publishing a port: {gateway}:{published} -> {address}:{HTTP_PORT} (nftables DNAT)",
        syscalls=["NFT_MSG_NEWTABLE / NEWCHAIN / NEWRULE over netlink (nft -j)"],
    )
    server = boxes["a"].call(inside.http_server, HTTP_PORT, f"hello from {names['a']}\n")
    nat = ctx.enter(nft.NatTable(table_name))
    narrator.shell(
        f"sudo nft add table ip {table_name}",
        *(
            f"sudo nft add chain ip {table_name} {chain} '{{ type nat hook {chain} priority {prio}; }}'"
            for chain, prio in (("prerouting", -100), ("output", -100), ("postrouting", 100))
        ),
        *(f"sudo {line}" for line in nat.publish(gateway, published, address, HTTP_PORT)),
    )
    narrator.explain(
        f"A small HTTP server (Python's http.server, pid {server} inside) listens on port "
        f"{HTTP_PORT} in container a. The DNAT rule rewrites the destination of packets for "
        f"{gateway}:{published} before routing: in output for connections from this host itself, in "
        "prerouting for packets that arrive from elsewhere (those also need routing on, net.ipv4.ip_forward=1). "
        "This is what `docker run -p` and a Pod's hostPort do, on every address of the host rather than only "
        "the bridge's."
    )
    with urllib.request.urlopen(f"http://{gateway}:{published}/", timeout=5) as response:
        answer = response.read().decode()
    narrator.compare(
        f"curl http://{gateway}:{published}/",
        [f"sent to {gateway}:{published}"],
        [answer.strip()],
        host_title="the request",
        inside_title="answered from inside",
    )
    narrator.fact("published_port_ok", answer == f"hello from {names['a']}\n")
    narrator.claim(
        "the request to the host-side address was answered by the server in container a",
        answer == f"hello from {names['a']}\n",
    )

    narrator.step("Outbound NAT: the masquerade rule a runtime adds", syscalls=["NFT_MSG_NEWRULE"])
    narrator.shell("sudo " + nat.masquerade(str(subnet), bridge))
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read().strip()
    narrator.explain(
        "Packets from the containers that leave by any other interface get the host's address as their source, "
        "so replies find their way back. A runtime also turns on routing (net.ipv4.ip_forward=1; here it is "
        f"{forward}) and a default route does the rest. isodemo sets the rule up but sends nothing out of the "
        "machine: the tests check the rule, never outside connectivity."
    )
    listing = nft.list_table_text(table_name)
    narrator.table(
        f"nft list table ip {table_name}",
        ["the host's ruleset, isodemo's table"],
        [[line] for line in listing.splitlines() if line.strip()],
    )
    rules = nft.list_table(table_name)["nftables"]
    has_masquerade = any("masquerade" in json_rule for json_rule in (str(item) for item in rules if "rule" in item))
    narrator.fact("masquerade_rule_present", has_masquerade)
    narrator.claim("the ruleset holds the masquerade rule for the containers' subnet", has_masquerade)

    narrator.step(
        f"Bandwidth: tc tbf at {rate_mbit} Mbit/s on the way into container a",
        syscalls=["RTM_NEWQDISC tbf"],
        shell=[
            f"sudo tc qdisc add dev {veth['a']} root tbf rate {rate_mbit}mbit burst 32kb latency 50ms",
            f"sudo tc qdisc show dev {veth['a']}",
        ],
    )
    boxes["a"].call(inside.start_sink, SINK_PORT)
    free_bytes = 64 << 20
    free_seconds = inside.send_bytes(address, SINK_PORT, free_bytes)
    unlimited = narrator.fact("bandwidth_unlimited_mbit", _mbit(free_bytes, free_seconds))
    ipr.tc(
        "add",
        "tbf",
        links.link_index(ipr, veth["a"]),
        0x10000,
        rate=f"{rate_mbit}mbit",
        burst=32 * 1024,
        latency="50ms",
    )
    limited_bytes = rate_mbit * 1_000_000 // 8 * MEASURE_SECONDS
    limited_seconds = inside.send_bytes(address, SINK_PORT, limited_bytes)
    measured = narrator.fact("bandwidth_measured_mbit", _mbit(limited_bytes, limited_seconds))
    narrator.fact("bandwidth_limit_mbit", rate_mbit)
    narrator.compare(
        "a TCP transfer from the host into container a",
        [f"without the limit: {unlimited} Mbit/s"],
        [f"with tbf at {rate_mbit} Mbit/s: {measured} Mbit/s"],
        host_title="before",
        inside_title="after",
    )
    narrator.claim(
        f"the transfer ran at {measured} Mbit/s, within 20% of the {rate_mbit} Mbit/s limit",
        abs(measured - rate_mbit) <= 0.2 * rate_mbit,
    )

    ctx.hold_here(
        narrator,
        {key: box.pid for key, box in boxes.items()},
        [
            f"ip netns exec {names['a']} ip addr",
            f"nsenter --net=/run/netns/{names['b']} ip route",
            f"nft list table ip {table_name}",
            f"tc qdisc show dev {veth['a']}",
            f"bridge link show master {bridge}",
        ],
        netns=list(names.values()),
    )
    narrator.kubernetes(
        "Every Pod gets a network namespace like these, held by its pause container, with an IP of its own "
        "(a Pod IP). The CNI bridge plugin does exactly steps 2 and 3: a veth pair per Pod, the host end on the "
        "bridge cni0, an address from host-local IPAM, and with ipMasq the masquerade rule of step 5. A "
        "container's hostPort is the DNAT of step 4 (the portmap plugin). The bandwidth plugin turns the "
        "annotation kubernetes.io/ingress-bandwidth into the tc tbf of step 6, on the host end of the Pod's veth; "
        "egress-bandwidth needs an ifb device to shape what the Pod sends."
    )
