"""Links in the host's network namespace: veth pairs and bridges as resources, and what `ip` shows of them.

Work inside a container's namespace runs in its Isolated child (see inside/net.py), so isodemo itself never
changes namespace. A link is removed by name with a netlink socket of its own: the demo's socket may be in
the middle of a request that an interrupt cut short.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import types
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from isodemo import signals, testpoints
from isodemo.kernel.rtnl import link_index
from isodemo.net import Resource

ENODEV = 19
AF_INET = 2


def open_host() -> Any:
    """A netlink (rtnetlink) socket in the calling process's namespace: the host's, for isodemo itself."""
    return HeldCalls(IPRoute())


class HeldCalls:
    """pyroute2's IPRoute with every call made while the handled signals are held: they arrive when it returns.

    pyroute2 0.9 runs an asyncio loop inside each call. Interrupted, raised there by isodemo's handler, can
    land in a callback the loop or the garbage collector swallows ("Exception ignored in ..."), which loses
    the Ctrl-C (the handler disarms after the first), and leaves tasks pending that print warnings later."""

    def __init__(self, ipr: Any) -> None:
        self._ipr = ipr

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._ipr, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def held(*args: Any, **kwargs: Any) -> Any:
            with signals.held():
                result = attr(*args, **kwargs)
                return tuple(result) if isinstance(result, types.GeneratorType) else result

        return held

    def __enter__(self) -> HeldCalls:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def host_networks(ipr: Any) -> list[str]:
    """Every destination this host routes, in any table: a subnet for a run must overlap none of them."""
    nets = set()
    for route in ipr.get_routes(family=AF_INET):  # a dump of every table: main, local, policy tables
        dst = route.get_attr("RTA_DST")
        if dst and route["dst_len"] > 0:
            nets.add(f"{dst}/{route['dst_len']}")
    for address in ipr.get_addr(family=AF_INET):  # and every address, even on a link that is down
        nets.add(str(ipaddress.ip_network(f"{address.get_attr('IFA_ADDRESS')}/{address['prefixlen']}", strict=False)))
    return sorted(nets)


class HostLink(Resource):
    """A link isodemo creates in the host's namespace, `ip link add NAME type KIND ...`; deleted by name."""

    kind = ""

    def __init__(self, ipr: Any, name: str) -> None:
        self.ipr = ipr
        self.name = name

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def create(self) -> None:
        self.ipr.link("add", ifname=self.name, **self.spec())
        testpoints.hit("link.created")

    def remove(self) -> None:
        with open_host() as ipr:
            delete_link(ipr, self.name)

    @property
    def index(self) -> int:
        return link_index(self.ipr, self.name)

    def up(self) -> str:
        self.ipr.link("set", index=self.index, state="up")
        return f"ip link set {self.name} up"

    def add_address(self, address: str, prefixlen: int) -> str:
        """An address (the kernel adds the route to its network); it goes with the link."""
        self.ipr.addr("add", index=self.index, address=address, prefixlen=prefixlen)
        return f"ip addr add {address}/{prefixlen} dev {self.name}"

    def del_address(self, address: str, prefixlen: int) -> str:
        self.ipr.addr("del", index=self.index, address=address, prefixlen=prefixlen)
        return f"ip addr del {address}/{prefixlen} dev {self.name}"


class Bridge(HostLink):
    """A software switch; its ports are the links whose master it is."""

    kind = "bridge"

    def command(self) -> str:
        return f"ip link add {self.name} type bridge"

    def attach(self, port: HostLink) -> str:
        self.ipr.link("set", index=port.index, master=self.index)
        return f"ip link set {port.name} master {self.name}"

    def ports(self) -> list[str]:
        index = self.index
        return [link.get_attr("IFLA_IFNAME") for link in self.ipr.get_links() if link.get_attr("IFLA_MASTER") == index]


class VethPair(HostLink):
    """Two links made together, a virtual cable: the host keeps `name`, `peer` goes into a container.

    Only the host end needs deleting: deleting either end deletes both, wherever the peer is by then."""

    kind = "veth"

    def __init__(self, ipr: Any, name: str, peer: str) -> None:
        super().__init__(ipr, name)
        self.peer = peer

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "peer": self.peer}

    def command(self) -> str:
        return f"ip link add {self.name} type veth peer name {self.peer}"

    def move_peer(self, netns_path: str, netns_name: str) -> str:
        """Move the peer into the namespace bind-mounted on `netns_path` (a NamedNetns)."""
        self.ipr.link("set", index=link_index(self.ipr, self.peer), net_ns_fd=netns_path)
        return f"ip link set {self.peer} netns {netns_name}"


def delete_link(ipr: Any, name: str) -> None:
    """`ip link delete NAME`; deleting one end of a veth pair deletes both. Gone already is fine."""
    with contextlib.suppress(LookupError):
        try:
            ipr.link("del", index=link_index(ipr, name))
        except NetlinkError as error:
            if error.code != ENODEV:
                raise
