"""kube-proxy on the node: the Service's rules in the node's nftables, brought in line with its endpoints
each time they change (kube-proxy's syncProxyRules, run here when the demo's endpoints controller says so).

The rules themselves are kube/proxy_rules.py's (pure); this module applies them in the node's namespace as
one `nft -f -` transaction per sync and keeps what the last sync wrote.
"""

from __future__ import annotations

import time
from typing import Any

from isodemo.kube import proxy_rules
from isodemo.kube.proxy_rules import Endpoint, ServicePort


class KubeProxy:
    """The table, made at once; `sync()` per change of a service's endpoints."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.table = proxy_rules.TABLE
        self.shell = proxy_rules.base_table()
        node.nft(self.shell)
        self._synced: dict[str, list[Endpoint]] = {}

    def sync(self, service: ServicePort, endpoints: list[Endpoint]) -> tuple[list[str], float]:
        """Write the service's rules for `endpoints` (the ready ones are load-balanced to); the nft lines of
        the transaction, and when it was applied (CLOCK_MONOTONIC)."""
        lines = proxy_rules.sync(service, endpoints, self._synced.get(service.key))
        self.node.nft(lines)
        applied = time.monotonic()
        self._synced[service.key] = [Endpoint(e.pod, e.address, e.port, e.ready) for e in endpoints]
        return lines, applied

    def listing(self) -> str:
        """`nft list table ip kube-proxy` in the node's namespace."""
        return str(self.node.list_table(self.table))

    def command(self) -> str:
        return f"{self.node.exec_prefix()} nft list table ip {self.table}"
