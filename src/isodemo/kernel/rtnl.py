"""Read-only rtnetlink views: a link's index by name, `ip -brief link` and `ip route` as lines.

Each takes an open rtnetlink socket (pyroute2's IPRoute, opened by the caller in whatever network namespace it
lives in), so the same function answers on the host and inside a container's namespace. No import of pyroute2
here: the caller already paid for it.
"""

from __future__ import annotations

import ipaddress
from socket import AF_INET
from typing import Any

from isodemo.i18n import _

MAIN_TABLE = 254  # RT_TABLE_MAIN, linux/rtnetlink.h


def link_index(ipr: Any, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise LookupError(_("no link named {name}", name=name))
    return int(found[0])


def link_table(ipr: Any) -> list[str]:
    """`ip -brief link`: name, state and addresses of every link, one line each."""
    lines = []
    for link in ipr.get_links():
        index = link["index"]
        addresses = [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=index, family=AF_INET)]
        state = link.get_attr("IFLA_OPERSTATE")
        lines.append(f"{link.get_attr('IFLA_IFNAME'):<16} {state:<8} {' '.join(addresses)}".rstrip())
    return lines


def route_table(ipr: Any, within: ipaddress.IPv4Network | None = None) -> list[str]:
    """`ip route` of the main table, IPv4; with `within`, only the routes to networks inside that one."""
    lines = []
    for route in ipr.get_routes(family=AF_INET, table=MAIN_TABLE):
        dst = route.get_attr("RTA_DST")
        if within is not None and not (dst and ipaddress.IPv4Network(f"{dst}/{route['dst_len']}").subnet_of(within)):
            continue
        target = f"{dst}/{route['dst_len']}" if dst else "default"
        via = route.get_attr("RTA_GATEWAY")
        oif = route.get_attr("RTA_OIF")
        names = ipr.get_links(oif) if oif else []
        dev = names[0].get_attr("IFLA_IFNAME") if names else "?"
        lines.append(f"{target}{f' via {via}' if via else ''} dev {dev}")
    return lines
