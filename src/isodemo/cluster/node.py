"""The node: a network namespace of its own, and the process in it that plays the node's agents.

    isodemo-<run>-node (pinned in /run/netns)
      lo, cni0 10.244.0.1/24          the pod bridge, as the CNI bridge plugin names it
      eth0 192.0.2.10/24              the uplink with the default route; its peer stays down (TEST-NET-1:
                                      nothing answers there, and the demo sends nothing there)
      table ip kube-proxy             kube-proxy's rules (proxy.py)
      net.ipv4.ip_forward = 1         the node routes between pods and the Service's virtual IP

The node's process is an Isolated child in that namespace: it makes the links (the CNI plugin's work), runs
`nft` (kube-proxy's) and sends the probes (the kubelet's). Everything it makes goes with the namespace.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from isodemo import host as hostinfo
from isodemo.errors import MissingFeature
from isodemo.i18n import _

POD_CIDR = "10.244.0.0/24"  # the first node's podCIDR of kubeadm's and flannel's default 10.244.0.0/16
SERVICE_CIDR = "10.96.0.0/12"  # kube-apiserver's --service-cluster-ip-range default
BRIDGE = "cni0"
UPLINK = "eth0"
UPLINK_ADDRESS = "192.0.2.10/24"
UPLINK_GATEWAY = "192.0.2.1"


class Node:
    """The node's namespace, pinned, and its process; pod addresses handed out in order (host-local IPAM)."""

    def __init__(self, ctx: Any) -> None:
        from isodemo.inside import net as inside
        from isodemo.net import netns

        self.ctx = ctx
        self.nft_binary = hostinfo.find_tool("nft")
        self.network = ipaddress.ip_network(POD_CIDR)
        self.gateway = str(self.network[1])
        self.box = ctx.isolated(["net"])
        self.netns = ctx.own(netns.NamedNetns(ctx.run.object_name("node"), self.box.pid))
        self.name = self.netns.name
        self.box.call(
            inside.node_setup, BRIDGE, self.gateway, self.network.prefixlen, (UPLINK, UPLINK_ADDRESS, UPLINK_GATEWAY)
        )
        self._next_host = 2
        run = f"ip netns exec {self.name}"
        self.shell = [
            f"ip netns add {self.name}",
            f"{run} ip link set lo up",
            f"{run} ip link add {BRIDGE} type bridge && {run} ip addr add {self.gateway}/24 dev {BRIDGE}",
            f"{run} ip link set {BRIDGE} address {inside.bridge_mac(self.gateway)} up",
            f"{run} ip link add {UPLINK} type veth peer name {UPLINK}-peer",
            f"{run} ip addr add {UPLINK_ADDRESS} dev {UPLINK} && {run} ip link set {UPLINK} up",
            f"{run} ip route add default via {UPLINK_GATEWAY}",
            f"{run} sysctl -w net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0",
        ]

    def exec_prefix(self) -> str:
        return f"sudo ip netns exec {self.name}"

    def allocate(self) -> str:
        """host-local IPAM: the next free address of the pod CIDR (never one handed out before in this run)."""
        if self._next_host >= self.network.num_addresses - 1:
            raise MissingFeature(_("the node's pod network {cidr} is full", cidr=POD_CIDR))
        address = str(self.network[self._next_host])
        self._next_host += 1
        return address

    def attach(self, pod_name: str, netns_path: str, netns_name: str) -> tuple[str, list[str]]:
        """CNI ADD: a veth from cni0 into the pod's namespace pinned at `netns_path`, its end named eth0 with the
        next address, from the node's child (the plugin's setns into the namespace). The address, and the
        commands."""
        from isodemo.inside import net as inside

        host_end = veth_name(pod_name)
        peer = host_end.replace("veth", "peer", 1)
        self.box.call(inside.node_add_pod_link, host_end, peer, BRIDGE, netns_path)
        address = self.allocate()
        self.box.call(inside.node_configure_pod, netns_path, peer, address, self.network.prefixlen, self.gateway)
        run, inside_run = f"ip netns exec {self.name}", f"ip netns exec {netns_name}"
        return address, [
            f"{run} ip link add {host_end} type veth peer name {peer}",
            f"{run} ip link set {host_end} master {BRIDGE} up",
            f"{run} ip link set {peer} netns {netns_name}",
            f"{inside_run} ip link set {peer} name eth0 && {inside_run} ip addr add {address}/24 dev eth0",
            f"{inside_run} ip link set eth0 up && {inside_run} ip link set lo up",
            f"{inside_run} ip route add default via {self.gateway}",
        ]

    def detach(self, pod_name: str) -> None:
        """CNI DEL: the pod's veth removed (both ends)."""
        from isodemo.inside import net as inside

        self.box.call(inside.node_delete_link, veth_name(pod_name))

    def nft(self, lines: list[str]) -> None:
        """One `nft -f -` transaction in the node's namespace."""
        from isodemo.inside import node as inside

        error = self.box.call(inside.nft, self.nft_binary, "\n".join(lines) + "\n")
        if error:
            raise MissingFeature(
                _("nft refused the rules: {error}", error=error),
                _("the kernel needs nf_tables with nat, numgen and fib (modprobe nft_nat nft_chain_nat nft_fib_ipv4)"),
            )

    def list_table(self, table: str) -> str:
        from isodemo.inside import node as inside

        return str(self.box.call(inside.nft_list, self.nft_binary, "table", "ip", table))

    def http_get(self, address: str, port: int, path: str = "/", timeout: float = 1.0) -> tuple[int, str]:
        """An HTTP GET from the node, as the kubelet's httpGet probe sends it."""
        from isodemo.inside import http

        status, body = self.box.call(http.http_get, address, port, path, timeout)
        return int(status), str(body)


def veth_name(pod_name: str) -> str:
    """The host end's name, as the bridge plugin makes one: veth and 8 hex digits (15 bytes at most)."""
    return "veth" + hashlib.sha256(pod_name.encode()).hexdigest()[:8]
