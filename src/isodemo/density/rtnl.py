"""rtnetlink by hand (man 7 rtnetlink): the few messages a density container needs, packed with struct and sent
many to one send(2), the acknowledgements read back in one go.

pyroute2 builds the same messages, but costs ~300 ms to import and milliseconds per call (an asyncio loop
each time): for a thousand containers that is seconds of Python, not of kernel. `ip` does what this does: one
request per message, NLM_F_ACK, and an error message (nlmsgerr) with errno 0 as the acknowledgement.
"""

from __future__ import annotations

import _socket as socket
import ipaddress
import os
import struct

# <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/neighbour.h>
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH = 16, 20, 24, 28
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_AF_SPEC, IFLA_NET_NS_FD = 1, 3, 10, 18, 26, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE = 8, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY = 5
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
IFF_UP = 0x1
AF_INET, AF_INET6, AF_BRIDGE = 2, 10, 7
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
LO_INDEX = 1  # loopback is always index 1 in a new network namespace
ETH0_INDEX = 2  # the index eth0 is given in a new namespace (ifi_index in the request): nothing else is there

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
_NDMSG = struct.Struct("=BxxxiHBB")  # ndmsg: family, ifindex, state, flags, type
_ERROR = struct.Struct("=i")


class NetlinkError(OSError):
    """A request the kernel refused: errno and which message."""


def attr(kind: int, data: bytes) -> bytes:
    """One rtattr: length, type, the data padded to 4 bytes."""
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


def name_attr(kind: int, name: str) -> bytes:
    return attr(kind, name.encode() + b"\0")


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def no_ipv6_link_local() -> bytes:
    """IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE none } }: no fe80:: address, so no IPv6 duplicate
    address detection, router solicitations and MLD reports sent out of every new link, which the bridge
    floods to every one of its ports."""
    return attr(IFLA_AF_SPEC, attr(AF_INET6, attr(IFLA_INET6_ADDR_GEN_MODE, bytes([IN6_ADDR_GEN_MODE_NONE]))))


class Batch:
    """Requests collected, then sent in one send(2) and acknowledged together."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.what: list[str] = []

    def add(self, kind: int, flags: int, body: bytes, what: str) -> None:
        seq = len(self.messages) + 1
        header = _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0)
        self.messages.append(header + body)
        self.what.append(what)

    def veth(self, host: str, peer: str, *, master: int, netns_fd: int, peer_index: int, mac: str) -> None:
        """`ip link add HOST master BRIDGE up type veth peer name eth0 netns NS index N address MAC`: the peer
        is born in the namespace `netns_fd` refers to, already named and numbered."""
        peer_info = _IFINFO.pack(0, 0, peer_index, 0, 0) + name_attr(IFLA_IFNAME, peer)
        peer_info += attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd)) + attr(IFLA_ADDRESS, mac_bytes(mac))
        info = name_attr(IFLA_INFO_KIND, "veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_info))
        body = _IFINFO.pack(0, 0, 0, 0, 0) + name_attr(IFLA_IFNAME, host)
        body += attr(IFLA_MASTER, struct.pack("=I", master)) + attr(IFLA_LINKINFO, info)
        self.add(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, f"ip link add {host} type veth peer name {peer}")

    def up_without_ipv6(self, name: str) -> None:
        """`ip link set NAME addrgenmode none up`, found by name: with IPv6 on the host, the link comes up
        without a link-local address (the kernel refuses IFLA_AF_SPEC in the request that creates a veth)."""
        body = _IFINFO.pack(0, 0, 0, IFF_UP, IFF_UP) + name_attr(IFLA_IFNAME, name)
        if os.path.isdir("/proc/sys/net/ipv6"):
            body += no_ipv6_link_local()
        self.add(RTM_NEWLINK, 0, body, f"ip link set {name} addrgenmode none up")

    def up(self, index: int, what: str) -> None:
        self.add(RTM_NEWLINK, 0, _IFINFO.pack(0, 0, index, IFF_UP, IFF_UP), what)

    def address(self, index: int, address: str, prefixlen: int) -> None:
        packed = ipaddress.IPv4Address(address).packed
        body = _IFADDR.pack(AF_INET, prefixlen, 0, 0, index) + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        self.add(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body, f"ip addr add {address}/{prefixlen}")

    def default_route(self, gateway: str) -> None:
        body = _RTMSG.pack(AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        body += attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)
        self.add(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body, f"ip route add default via {gateway}")

    def neighbour(self, index: int, address: str, mac: str) -> None:
        """`ip neigh add ADDRESS lladdr MAC dev INDEX nud permanent`: no ARP for it, and (permanent) not counted
        against net.ipv4.neigh.default.gc_thresh3, a limit all namespaces share."""
        body = _NDMSG.pack(AF_INET, index, NUD_PERMANENT, 0, 0)
        body += attr(NDA_DST, ipaddress.IPv4Address(address).packed) + attr(NDA_LLADDR, mac_bytes(mac))
        self.add(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, body, f"ip neigh add {address} lladdr {mac} nud permanent")

    def send(self, sock: socket.socket) -> None:
        """Send every request in one send(2), then read until each has its acknowledgement; the first refusal
        raises NetlinkError naming the request."""
        if not self.messages:
            return
        sock.send(b"".join(self.messages))
        pending = len(self.messages)
        failure: NetlinkError | None = None
        while pending:
            data = sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
                if kind == NLMSG_ERROR:
                    pending -= 1
                    (code,) = _ERROR.unpack_from(data, offset + _HEADER.size)
                    if code and failure is None:
                        failure = NetlinkError(-code, f"{os.strerror(-code)}: {self.what[seq - 1]}")
                offset += (length + 3) & ~3 if length else len(data)
        if failure is not None:
            raise failure


def open_socket() -> socket.socket:
    """A rtnetlink socket in the caller's network namespace (it stays bound to that one, wherever it goes)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock
