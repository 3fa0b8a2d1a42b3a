"""Links, addresses and routes through netlink (pyroute2): what `ip link`, `ip addr`, `ip route` do.

Host-side work uses one IPRoute socket in the host's network namespace; work inside a container's
namespace runs in its Isolated child (see net/inside.py), so isodemo itself never changes namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
from types import TracebackType
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

ENODEV = 19


def link_index(ipr: Any, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise LookupError(f"no link named {name}")
    return int(found[0])


def link_table(ipr: Any) -> list[str]:
    """`ip -brief link`: name, state and addresses of every link, one line each."""
    lines = []
    for link in ipr.get_links():
        index = link["index"]
        addresses = [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=index, family=2)]
        state = link.get_attr("IFLA_OPERSTATE")
        lines.append(f"{link.get_attr('IFLA_IFNAME'):<16} {state:<8} {' '.join(addresses)}".rstrip())
    return lines


def route_table(ipr: Any) -> list[str]:
    """`ip route` of the main table, IPv4."""
    lines = []
    for route in ipr.get_routes(family=2, table=254):
        dst = route.get_attr("RTA_DST")
        target = f"{dst}/{route['dst_len']}" if dst else "default"
        via = route.get_attr("RTA_GATEWAY")
        oif = route.get_attr("RTA_OIF")
        names = ipr.get_links(oif) if oif else []
        dev = names[0].get_attr("IFLA_IFNAME") if names else "?"
        lines.append(f"{target}{f' via {via}' if via else ''} dev {dev}")
    return lines


def host_networks(ipr: Any) -> list[str]:
    """Every destination this host routes, in any table: a subnet for a run must overlap none of them."""
    nets = set()
    for route in ipr.get_routes(family=2):  # a dump of every table: main, local, policy tables
        dst = route.get_attr("RTA_DST")
        if dst and route["dst_len"] > 0:
            nets.add(f"{dst}/{route['dst_len']}")
    for address in ipr.get_addr(family=2):  # and every address, even on a link that is down
        nets.add(str(ipaddress.ip_network(f"{address.get_attr('IFA_ADDRESS')}/{address['prefixlen']}", strict=False)))
    return sorted(nets)


class HostLink:
    """A link isodemo creates in the host's namespace (a veth pair's host end, a bridge); deleted on exit."""

    def __init__(self, ipr: Any, name: str, **spec: Any) -> None:
        self.ipr = ipr
        self.name = name
        self.spec = spec

    def __enter__(self) -> HostLink:
        self.ipr.link("add", ifname=self.name, **self.spec)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        delete_link(self.ipr, self.name)

    @property
    def index(self) -> int:
        return link_index(self.ipr, self.name)


def delete_link(ipr: Any, name: str) -> None:
    """`ip link delete NAME`; deleting one end of a veth pair deletes both. Gone already is fine."""
    with contextlib.suppress(LookupError):
        try:
            ipr.link("del", index=link_index(ipr, name))
        except NetlinkError as error:
            if error.code != ENODEV:
                raise


def open_host() -> Any:
    return IPRoute()
