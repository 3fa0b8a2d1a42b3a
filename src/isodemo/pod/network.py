"""The pod's network, as the CNI bridge plugin makes it (`CNI ADD` against a pinned network namespace).

    host:  bridge isodemo-<run>r (the plugin's cni0) with the gateway .1 of a free /24, the host end of a veth
    pod:   the other end, renamed eth0, address .2 (host-local IPAM's first), default route via .1, lo up

Simplifications, named: the bridge plugin shares one cni0 among every pod of the node and adds a masquerade
rule with ipMasq; isodemo makes a bridge for this pod and no NAT (nothing here leaves the machine).
Only this module (and net/) imports pyroute2.
"""

from __future__ import annotations

from typing import Any

from isodemo.i18n import _


class PodNetwork:
    """What CNI ADD returned: the pod's address, and what was made for it."""

    def __init__(self, address: str, gateway: str, prefixlen: int, *, bridge: str, veth: str, shell: list[str]) -> None:
        self.address = address
        self.gateway = gateway
        self.prefixlen = prefixlen
        self.bridge = bridge
        self.veth = veth  # the host end; it disappears by itself with the pod's network namespace
        self.shell = shell


def cni_add(ctx: Any, holder: Any, netns_path: str, netns_name: str) -> PodNetwork:
    """Wire the network namespace pinned at `netns_path` to a new bridge. `holder` is a process in that
    namespace (an Isolated child) that configures the pod's end from inside, as the plugin does after its
    setns(2) into the namespace."""
    from isodemo.net import bridged, links

    with links.open_host() as ipr:  # closed before the containers are forked
        wired = bridged.wire(ctx, ipr, netns_path, netns_name, holder)
    return PodNetwork(
        wired.address,
        wired.gateway,
        wired.prefixlen,
        bridge=wired.bridge.name,
        veth=wired.pair.name,
        shell=wired.shell,
    )


def describe(network: PodNetwork) -> str:
    return _(
        "CNI ADD: bridge {bridge} ({gateway}), a veth into the pod, eth0 {address}",
        bridge=network.bridge,
        gateway=network.gateway,
        address=network.address,
    )
