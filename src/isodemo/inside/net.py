"""Network work done inside a container's namespace: functions the Isolated child runs with box.call().

The child lives in the new network namespace, so a netlink socket it opens talks to that namespace's
stack: this is `ip netns exec NAME ip ...` without the exec.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import socketserver
import time
from typing import Any

from isodemo.kernel import icmp, process, rtnl


def _iproute() -> Any:
    """A netlink socket in the calling process's network namespace. pyroute2 is imported here, in the child
    that calls it: the isodemo process passes these functions to box.call() without loading pyroute2 itself
    (a demo whose links are all made inside, as the control-loop demos' node, never loads it)."""
    from pyroute2 import IPRoute

    return IPRoute()


def link_table() -> list[str]:
    with _iproute() as ipr:
        return rtnl.link_table(ipr)


def route_table() -> list[str]:
    with _iproute() as ipr:
        return rtnl.route_table(ipr)


def configure(ifname: str, new_name: str, address: str, prefixlen: int, gateway: str | None) -> None:
    """Rename the moved veth end, give it its address, bring it and lo up, add the default route."""
    with _iproute() as ipr:
        _configure(ipr, ifname, new_name, address=address, prefixlen=prefixlen, gateway=gateway)


def _configure(ipr: Any, ifname: str, new_name: str, *, address: str, prefixlen: int, gateway: str | None) -> None:
    index = rtnl.link_index(ipr, ifname)
    ipr.link("set", index=index, ifname=new_name)
    ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
    ipr.link("set", index=index, state="up")
    ipr.link("set", index=rtnl.link_index(ipr, "lo"), state="up")
    if gateway:
        ipr.route("add", dst="0.0.0.0/0", gateway=gateway)


def ping(address: str) -> bool:
    """One ICMP echo, 2 s at most, from this namespace: True when the reply came back."""
    return icmp.ping(address)


def http_server(port: int, body: str) -> int:
    """Fork a small HTTP server (Python's http.server) answering `body` on every GET; returns its pid."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # quiet: the narrator tells the story
            pass

    class Server(socketserver.TCPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            # A client that went away mid-answer (isodemo interrupted during the request: BrokenPipeError,
            # ConnectionResetError) is no news; socketserver would print its traceback on the terminal.
            pass

    server = Server(("0.0.0.0", port), Handler)
    child = os.fork()
    if child == 0:
        try:
            process.set_pdeathsig(signal.SIGKILL)  # dies with the container's process, and its namespace
            server.serve_forever()
        finally:
            os._exit(0)
    server.server_close()
    return child


def start_sink(port: int) -> int:
    """Fork a TCP sink: it accepts connections and reads them to the end, then acks with one byte."""
    listener = socket.create_server(("0.0.0.0", port))
    child = os.fork()
    if child == 0:
        try:
            process.set_pdeathsig(signal.SIGKILL)
            while True:
                conn, _ = listener.accept()
                with conn, contextlib.suppress(OSError):  # a sender gone mid-transfer: wait for the next one
                    while conn.recv(1 << 16):
                        pass
                    conn.sendall(b"k")
        finally:
            os._exit(0)
    listener.close()
    return child


def send_bytes(address: str, port: int, total: int) -> float:
    """Send `total` bytes to a sink and wait for its ack: seconds for the transfer (run on the host)."""
    chunk = b"\0" * (1 << 16)
    with socket.create_connection((address, port), timeout=30) as conn:
        start = time.monotonic()
        sent = 0
        while sent < total:
            sent += conn.send(chunk[: min(len(chunk), total - sent)])
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
        return time.monotonic() - start


# -- the node of the control-loop demos (cluster/node.py): run by the node's child in its namespace --------


def node_setup(bridge: str, gateway: str, prefixlen: int, uplink: tuple[str, str, str]) -> None:
    """lo up; the bridge (cni0) with the pod network's gateway; an uplink eth0 with the default route (a veth
    whose peer stays down: nothing is behind it); IP forwarding on, ICMP redirects off (the node routes
    between pods on one bridge and would tell them to talk directly, which they cannot: masquerade)."""
    uplink_name, uplink_address, uplink_gateway = uplink  # eth0, its address/prefix, the default gateway
    with _iproute() as ipr:
        ipr.link("set", index=rtnl.link_index(ipr, "lo"), state="up")
        ipr.link("add", ifname=bridge, kind="bridge")
        index = rtnl.link_index(ipr, bridge)
        # a MAC of its own, as the CNI bridge plugin sets one (from the gateway's IP): left alone, a bridge takes
        # the lowest MAC of its ports and changes it as pods come and go, and pods whose ARP cache holds the old
        # one lose packets (containernetworking/cni#285, kubernetes/kubernetes#30783)
        ipr.link("set", index=index, address=bridge_mac(gateway))
        ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
        ipr.link("add", ifname=uplink_name, kind="veth", peer=f"{uplink_name}-peer")
        index = rtnl.link_index(ipr, uplink_name)
        address, length = uplink_address.split("/")
        ipr.addr("add", index=index, address=address, prefixlen=int(length))
        ipr.link("set", index=index, state="up")
        ipr.route("add", dst="0.0.0.0/0", gateway=uplink_gateway, oif=index)
    for name, value in (("ipv4/ip_forward", "1"), ("ipv4/conf/all/send_redirects", "0")):
        with open(f"/proc/sys/net/{name}", "w") as f:
            f.write(value)


def bridge_mac(address: str) -> str:
    """hwaddr.GenerateHardwareAddr4 of the CNI plugins: 0a:58 and the four bytes of the IPv4 address."""
    return ":".join(f"{byte:02x}" for byte in (0x0A, 0x58, *map(int, address.split("."))))


def node_add_pod_link(host_end: str, peer: str, bridge: str, netns_path: str) -> None:
    """The CNI bridge plugin's veth: `host_end` on the bridge, `peer` moved into the pod's namespace."""
    with _iproute() as ipr:
        ipr.link("add", ifname=host_end, kind="veth", peer=peer)
        index = rtnl.link_index(ipr, host_end)
        ipr.link("set", index=index, master=rtnl.link_index(ipr, bridge))
        ipr.link("set", index=index, state="up")
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ipr.link("set", index=rtnl.link_index(ipr, peer), net_ns_fd=fd)
        finally:
            os.close(fd)


def node_configure_pod(netns_path: str, peer: str, address: str, prefixlen: int, gateway: str) -> None:
    """The CNI plugin's work inside the pod's namespace, done from the node's child: a netlink socket made
    while in the pod's namespace (setns there and back: a socket belongs to the namespace it was made in, as
    pyroute2's NetNS and the plugins' ns.Do do it), then eth0 named, addressed and up, lo up, the route."""
    from isodemo.kernel import namespaces

    here = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    there = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        namespaces.setns(there, namespaces.NAMESPACE_TYPES["net"].flag)
        try:
            ipr = _iproute()
        finally:
            namespaces.setns(here, namespaces.NAMESPACE_TYPES["net"].flag)
    finally:
        os.close(there)
        os.close(here)
    with ipr:
        _configure(ipr, peer, "eth0", address=address, prefixlen=prefixlen, gateway=gateway)


def node_delete_link(name: str) -> None:
    """`ip link delete NAME` here (the pod's end goes with it); gone already is fine."""
    with _iproute() as ipr:
        try:
            index = rtnl.link_index(ipr, name)
        except LookupError:
            return
        ipr.link("del", index=index)


def node_bridge_ports(bridge: str) -> list[str]:
    with _iproute() as ipr:
        index = rtnl.link_index(ipr, bridge)
        return sorted(
            str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links() if link.get_attr("IFLA_MASTER") == index
        )
