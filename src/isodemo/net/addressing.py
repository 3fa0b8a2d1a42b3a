"""Choosing a private subnet for a run that clashes with nothing on this host. Pure logic, unit-tested."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

POOL = ipaddress.IPv4Network("10.200.0.0/16")  # RFC 1918; isodemo takes one /24 per run from it


def choose_subnet(run_id: str, taken: Iterable[str], pool: ipaddress.IPv4Network = POOL) -> ipaddress.IPv4Network:
    """The first /24 of the pool, starting at one derived from the run id, that overlaps no route in `taken`.

    Starting from the run id spreads concurrent runs apart; the overlap check (done under a lock by the
    caller) keeps two of them, and the host's own networks, from ever sharing a subnet.
    """
    used = [ipaddress.ip_network(net, strict=False) for net in taken]
    subnets = list(pool.subnets(new_prefix=24))
    start = int(run_id, 16) % len(subnets)
    for offset in range(len(subnets)):
        candidate = subnets[(start + offset) % len(subnets)]
        if not any(candidate.overlaps(net) for net in used if net.prefixlen > 0):  # a default route overlaps all
            return candidate
    raise ValueError(f"every /24 of {pool} is in use on this host")


def host_address(subnet: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    """.1 is the host side (the gateway, like cni0's), containers are .2, .3, ..."""
    return subnet.network_address + index
