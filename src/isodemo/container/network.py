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
    from isodemo.net import bridged, links, netns, nft

    name = ctx.run.name
    ctx.own(netns.NamedNetns(name, box.pid))
    ipr = ctx.enter(links.open_host())
    wired = bridged.wire(ctx, ipr, f"{netns.NETNS_DIR}/{name}", name, box)
    bridge, subnet, gateway, address = wired.bridge, wired.subnet, wired.gateway, wired.address
    shell = list(wired.shell)
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
        bridge=bridge.name,
        ip_address=address,
        gateway=gateway,
        published={str(p.host_port): p.container_port for p in spec.publish},
    )
    return address
