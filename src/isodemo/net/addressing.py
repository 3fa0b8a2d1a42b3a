"""Choosing a private subnet for a run that clashes with nothing on this host, and claiming it.

`choose_subnet` and `overlapping` are pure logic, unit-tested; `claimed_subnet` adds the lock that keeps two
runs at once from choosing the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator

from isodemo import runs
from isodemo.errors import UsageError
from isodemo.i18n import _

POOL = ipaddress.IPv4Network("10.200.0.0/16")  # RFC 1918; isodemo takes one /24 per run from it


def choose_subnet(
    run_id: str, taken: Iterable[str], pool: ipaddress.IPv4Network = POOL, prefixlen: int = 24
) -> ipaddress.IPv4Network:
    """The first /24 (or /`prefixlen`) of the pool, starting at one derived from the run id, that overlaps no
    route in `taken`.

    Starting from the run id spreads concurrent runs apart; the overlap check (done under a lock by the
    caller) keeps two of them, and the host's own networks, from ever sharing a subnet.
    """
    subnets = list(pool.subnets(new_prefix=prefixlen))
    start = int(run_id, 16) % len(subnets)
    for offset in range(len(subnets)):
        candidate = subnets[(start + offset) % len(subnets)]
        if not overlapping(candidate, taken):
            return candidate
    raise ValueError(_("every /24 of {pool} is in use on this host", pool=pool))


def overlapping(subnet: ipaddress.IPv4Network, taken: Iterable[str]) -> list[str]:
    """The networks of `taken` that overlap `subnet`; a default route (/0) overlaps everything and is left out."""
    return [
        net
        for net in taken
        if (network := ipaddress.ip_network(net, strict=False)).prefixlen > 0 and subnet.overlaps(network)
    ]


def host_address(subnet: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    """.1 is the host side (the gateway, like cni0's), containers are .2, .3, ..."""
    return subnet.network_address + index


@contextlib.contextmanager
def claimed_subnet(
    run_id: str,
    taken: Callable[[], list[str]],
    requested: ipaddress.IPv4Network | None = None,
    prefixlen: int = 24,
) -> Iterator[ipaddress.IPv4Network]:
    """A subnet nothing on this host routes (`requested`, checked, or a free one), and a lock held while the
    caller claims it, that is adds the address whose route makes the next run see it as taken.

    `taken()` lists what the host routes now (links.host_networks): it is read under the lock."""
    runs.RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(runs.RUN_DIR, os.O_RDONLY | os.O_DIRECTORY)  # a lock on the directory: no lock file left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        routed = taken()
        if requested is None:
            yield choose_subnet(run_id, routed, prefixlen=prefixlen)
            return
        clash = overlapping(requested, routed)
        if clash:
            raise UsageError(
                _(
                    "--subnet {requested} overlaps {networks}, a network this host already routes",
                    requested=requested,
                    networks=", ".join(clash),
                ),
                _("leave --subnet out (isodemo picks a free /24), or choose another private /24"),
            )
        yield requested
    finally:
        os.close(fd)
