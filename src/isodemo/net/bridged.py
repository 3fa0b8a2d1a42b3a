"""A network namespace wired to a bridge of its own: what Docker's bridge driver does for `isodemo run
--network bridge` and the CNI bridge plugin for `isodemo pod`.

    host:       bridge isodemo-<run>r with the gateway .1 of a free /24, the host end of a veth on it
    namespace:  the other end, renamed eth0, address .2, default route via .1, lo up (configured from inside,
                by a process in the namespace: the plugin's setns(2))
"""

from __future__ import annotations

from typing import Any


class Bridged:
    """What was made: the bridge, the veth pair, the addresses, and the commands a shell would have run."""

    def __init__(self, bridge: Any, pair: Any, subnet: Any, moved: str, netns_name: str) -> None:
        from isodemo.net import addressing

        self.bridge = bridge
        self.pair = pair
        self.subnet = subnet
        self.prefixlen: int = subnet.prefixlen
        self.gateway = str(addressing.host_address(subnet, 1))
        self.address = str(addressing.host_address(subnet, 2))
        inside = f"ip netns exec {netns_name}"
        self.shell = [
            f"ip link add {bridge.name} type bridge && ip addr add {self.gateway}/{self.prefixlen} dev {bridge.name}",
            f"ip link set {bridge.name} up",
            pair.command(),
            f"ip link set {pair.name} master {bridge.name} up",
            moved,
            f"{inside} ip link set {pair.peer} name eth0",
            f"{inside} ip addr add {self.address}/{self.prefixlen} dev eth0",
            f"{inside} ip link set eth0 up && {inside} ip link set lo up",
            f"{inside} ip route add default via {self.gateway}",
        ]


def wire(ctx: Any, ipr: Any, netns_path: str, netns_name: str, inside_box: Any) -> Bridged:
    """Make the bridge and the veth pair (owned by `ctx`), move the peer into the namespace pinned at
    `netns_path` (named `netns_name`), and have `inside_box`, an Isolated child in that namespace, configure
    eth0 and lo there. The subnet is claimed under addressing's lock, the clash checks included."""
    from isodemo.inside import net as inside
    from isodemo.net import addressing, links

    rid = ctx.run.id
    with addressing.claimed_subnet(rid, lambda: links.host_networks(ipr)) as subnet:
        gateway = str(addressing.host_address(subnet, 1))
        bridge = ctx.own(links.Bridge(ipr, f"isodemo-{rid}r"))
        bridge.add_address(gateway, subnet.prefixlen)  # from now on the subnet is routed here: taken
    bridge.up()
    pair = ctx.own(links.VethPair(ipr, f"isodemo-{rid}v", f"isodemo-{rid}p"))
    bridge.attach(pair)
    pair.up()
    moved = pair.move_peer(netns_path, netns_name)
    wired = Bridged(bridge, pair, subnet, moved, netns_name)
    inside_box.call(inside.configure, pair.peer, "eth0", wired.address, wired.prefixlen, gateway)
    return wired
