"""Traffic control: a token bucket filter (tc-tbf(8)) on a link's egress, as a resource."""

from __future__ import annotations

import errno
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from isodemo import testpoints
from isodemo.kernel import rtnl
from isodemo.net import Resource, links

ROOT_HANDLE = 0x10000  # 1:0, the handle iproute2 shows as "qdisc tbf 1: root"
TC_H_ROOT = 0xFFFFFFFF  # the parent of a root qdisc


class Tbf(Resource):
    """`tc qdisc add dev DEV root tbf rate RATE burst BURST latency LATENCY`: what leaves DEV waits for tokens.

    On the host end of a veth pair it limits what the host sends into the container (the CNI bandwidth
    plugin's ingress limit). Removed by device name; it would also go with the device."""

    def __init__(self, ipr: Any, dev: str, rate_mbit: int, burst: int = 32 * 1024, latency_ms: int = 50) -> None:
        self.ipr = ipr
        self.dev = dev
        self.rate_mbit = rate_mbit
        self.burst = burst
        self.latency_ms = latency_ms

    def command(self) -> str:
        return (
            f"tc qdisc add dev {self.dev} root tbf rate {self.rate_mbit}mbit burst {self.burst // 1024}kb "
            f"latency {self.latency_ms}ms"
        )

    def create(self) -> None:
        self.ipr.tc(
            "add",
            "tbf",
            rtnl.link_index(self.ipr, self.dev),
            ROOT_HANDLE,
            rate=f"{self.rate_mbit}mbit",
            burst=self.burst,
            latency=f"{self.latency_ms}ms",
        )
        testpoints.hit("tc.created")

    def remove(self) -> None:
        with links.open_host() as ipr:
            try:
                index = rtnl.link_index(ipr, self.dev)
            except LookupError:
                return  # the device is gone, and its qdiscs with it
            # Only our tbf: deleting "root" where there is none is an EINVAL like any other bad request.
            ours = [
                q
                for q in ipr.get_qdiscs(index=index)
                if q["parent"] == TC_H_ROOT and q["handle"] == ROOT_HANDLE and q.get_attr("TCA_KIND") == "tbf"
            ]
            if ours:
                try:
                    ipr.tc("del", index=index, root=True)
                except NetlinkError as error:
                    if error.code not in (errno.ENOENT, errno.ENODEV):  # gone meanwhile, with its device
                        raise
