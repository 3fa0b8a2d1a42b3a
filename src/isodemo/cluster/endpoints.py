"""The Service's EndpointSlice and the controllers that keep it: a pod's entry is added when the pod exists,
made ready when its readiness probe passes, ready=false when the pod is not ready or is terminating
(staging/src/k8s.io/endpointslice/utils.go podToEndpoint); every change is followed by kube-proxy's sync.

Simplification, named: in a cluster the kubelet reports the pod's status to the API server, the
EndpointSlice controller writes the slice and kube-proxy, watching it, syncs its rules (about a second in
all, more under load); here one process does the three at once, so the time from a pod's death to the new
rules is what nftables alone costs.
"""

from __future__ import annotations

from typing import Any

from isodemo.kube.proxy_rules import Endpoint, ServicePort


class EndpointSlice:
    """The endpoints of one Service, by pod name, in the order the pods came."""

    def __init__(self, service: ServicePort, proxy: Any) -> None:
        self.service = service
        self.proxy = proxy
        self.endpoints: dict[str, Endpoint] = {}
        self.history: list[tuple[float, list[str]]] = []  # (applied at, the ready pods then)

    def set(self, pod: str, address: str, ready: bool) -> tuple[list[str], float]:
        """Add or change a pod's entry, then sync: the nft lines and when they were applied."""
        self.endpoints[pod] = Endpoint(pod, address, self.service.target_port, ready)
        return self._sync()

    def remove(self, pod: str) -> tuple[list[str], float]:
        """The pod is gone: its entry goes, then sync."""
        self.endpoints.pop(pod, None)
        return self._sync()

    def ready_pods(self) -> list[str]:
        return [name for name, e in self.endpoints.items() if e.ready]

    def _sync(self) -> tuple[list[str], float]:
        lines, applied = self.proxy.sync(self.service, list(self.endpoints.values()))
        self.history.append((applied, self.ready_pods()))
        return lines, applied
