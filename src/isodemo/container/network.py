"""`isodemo run --network bridge`: the container's network as Docker's default bridge network builds it.

    host:       bridge isodemo-<run>r with the gateway address .1 of a free /24, the host end of a veth on it
    container:  the other end, renamed eth0, address .2, default route via .1, lo up
    -p H:C      nftables DNAT in table ip isodemo-<run> (the net demo's NatTable), masquerade for the subnet

Simplifications, named: Docker shares one bridge (docker0) between every container and publishes on every
host address through docker-proxy as well; isodemo makes one bridge per container and publishes on the
gateway address, so `curl GATEWAY:HOST_PORT` from the host reaches the container.
Only this module (and net/) imports pyroute2, and only when --network bridge is asked for.
"""

from __future__ import annotations

from typing import Any

from isodemo.container.spec import RunSpec
from isodemo.i18n import _
from isodemo.narrate.runlog import RunLog


def bridge_network(spec: RunSpec, ctx: Any, box: Any, log: RunLog) -> str:
    """Plumb the container `box` (already in its own network namespace) into a new bridge; its address."""
    from isodemo.inside import net as inside
    from isodemo.net import addressing, links, netns, nft

    rid = ctx.run.id
    name = ctx.run.name
    ctx.own(netns.NamedNetns(name, box.pid))
    ipr = ctx.enter(links.open_host())
    with addressing.claimed_subnet(rid, lambda: links.host_networks(ipr)) as subnet:
        gateway = str(addressing.host_address(subnet, 1))
        address = str(addressing.host_address(subnet, 2))
        bridge = ctx.own(links.Bridge(ipr, f"isodemo-{rid}r"))
        bridge.add_address(gateway, subnet.prefixlen)  # from now on the subnet is routed here: taken
    bridge.up()
    pair = ctx.own(links.VethPair(ipr, f"isodemo-{rid}v", f"isodemo-{rid}p"))
    bridge.attach(pair)
    pair.up()
    moved = pair.move_peer(f"{netns.NETNS_DIR}/{name}", name)
    box.call(inside.configure, pair.peer, "eth0", address, subnet.prefixlen, gateway)
    shell = [
        f"ip link add {bridge.name} type bridge && ip addr add {gateway}/{subnet.prefixlen} dev {bridge.name}",
        pair.command(),
        f"ip link set {pair.name} master {bridge.name} up",
        moved,
        f"ip netns exec {name} ip addr add {address}/{subnet.prefixlen} dev eth0",
        f"ip netns exec {name} ip route add default via {gateway}",
    ]
    nat = ctx.own(nft.NatTable(name))
    shell += nat.commands()
    shell.append(nat.masquerade(str(subnet), bridge.name))
    for published in spec.publish:
        shell += nat.publish(gateway, published.host_port, address, published.container_port)
    log.step(
        _(
            "network: a veth pair from the bridge {bridge} into the container, {address}",
            bridge=bridge.name,
            address=address,
        ),
        [
            "RTM_NEWLINK kind bridge",
            "RTM_NEWLINK kind veth",
            "RTM_NEWLINK IFLA_NET_NS_FD",
            "RTM_NEWADDR",
            "RTM_NEWROUTE",
        ]
        + (["NFT_MSG_NEWRULE dnat"] if spec.publish else []),
        shell,
        ip_address=address,
        gateway=gateway,
        published={str(p.host_port): p.container_port for p in spec.publish},
    )
    return address
