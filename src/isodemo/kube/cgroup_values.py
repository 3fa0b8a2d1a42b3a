"""The cgroup files and values the kubelet and the container runtime write for a Pod, on either version.

Kubelet constants and formulas: pkg/kubelet/cm/helpers_linux.go (MilliCPUToShares, MilliCPUToQuota,
ResourceConfigForPod), pkg/kubelet/cm/cgroup_manager_linux.go (getCPUWeight, the linear conversion the
kubelet uses for its own pod and QoS cgroups on v2), pkg/kubelet/kuberuntime/kuberuntime_container_linux.go
(calculateLinuxResources, a container's values). Container weights on v2 are converted by the OCI runtime:
the old linear formula (runc <= 1.3.1, opencontainers/cgroups <= v0.0.2) or the new log-scale one
(opencontainers/cgroups v0.0.3+: runc >= 1.3.2 and 1.4, crun >= 1.23; runc PR #4785, kubernetes #131216).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from isodemo.kube import qos as kqos
from isodemo.kube.quantity import format_memory, format_millicores

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from isodemo.kube.manifest import Container, Pod

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
MILLI_CPU_TO_CPU = 1000
QUOTA_PERIOD = 100000
MIN_QUOTA_PERIOD = 1000
MAX_WEIGHT = 10000
FORMULAS = ("new", "old")  # the runtime's shares -> weight conversion on v2; "new" is today's runc and crun


def milli_cpu_to_shares(milli: int) -> int:
    """MilliCPUToShares: 0 -> 2; else milli * 1024 / 1000, within [2, 262144] (integer division)."""
    if milli == 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli * SHARES_PER_CPU // MILLI_CPU_TO_CPU))


def milli_cpu_to_quota(milli: int, period: int = QUOTA_PERIOD) -> int:
    """MilliCPUToQuota: 0 -> 0 (no quota); else milli * period / 1000, at least 1000."""
    if milli == 0:
        return 0
    return max(MIN_QUOTA_PERIOD, milli * period // MILLI_CPU_TO_CPU)


def kubelet_cpu_weight(shares: int) -> int:
    """getCPUWeight, the kubelet's own v2 conversion for pod and QoS cgroups: linear."""
    if shares >= MAX_SHARES:
        return MAX_WEIGHT
    return 1 + ((shares - 2) * 9999) // 262142


def runtime_weight_old(shares: int) -> int:
    """runc <= 1.3.1: the same line, 2..262144 onto 1..10000 (1024, the v1 default, becomes 39)."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def runtime_weight_new(shares: int) -> int:
    """opencontainers/cgroups ConvertCPUSharesToCgroupV2Value since v0.0.3: a parabola in log2(shares) that
    maps 2 -> 1, 1024 -> 100 (the v2 default) and 262144 -> 10000."""
    if shares == 0:
        return 0
    if shares <= MIN_SHARES:
        return 1
    if shares >= MAX_SHARES:
        return MAX_WEIGHT
    log = math.log2(shares)
    return math.ceil(10 ** ((log * log + 125 * log) / 612.0 - 7.0 / 34.0))


def runtime_weight(shares: int, formula: str) -> int:
    return runtime_weight_new(shares) if formula == "new" else runtime_weight_old(shares)


@dataclass(frozen=True)
class FileValue:
    """One setting on both versions. A value of None: nothing is written, the kernel's default stays."""

    v1_file: str
    v1_value: str | None
    v2_file: str
    v2_value: str | None
    how: str  # the formula with its numbers, for the narration (not translated: formulas and file names)

    def file(self, version: int) -> str:
        return self.v2_file if version == 2 else self.v1_file

    def value(self, version: int) -> str | None:
        return self.v2_value if version == 2 else self.v1_value


def _shares(milli: int, v2_weight: int, how_weight: str) -> FileValue:
    shares = milli_cpu_to_shares(milli)
    how = f"shares = MilliCPUToShares({format_millicores(milli)}) = {shares}; {how_weight}"
    return FileValue("cpu.shares", str(shares), "cpu.weight", str(v2_weight), how)


def _kubelet_shares(milli: int) -> FileValue:
    shares = milli_cpu_to_shares(milli)
    weight = kubelet_cpu_weight(shares)
    return _shares(milli, weight, f"v2 weight (kubelet, linear) = 1 + ({shares} - 2) x 9999 / 262142 = {weight}")


def _quota(milli: int) -> list[FileValue]:
    quota = milli_cpu_to_quota(milli)
    how = f"quota = {format_millicores(milli)} x {QUOTA_PERIOD} / 1000 = {quota}"
    return [
        FileValue("cpu.cfs_period_us", str(QUOTA_PERIOD), "cpu.max", f"{quota} {QUOTA_PERIOD}", how),
        FileValue("cpu.cfs_quota_us", str(quota), "", None, how),
    ]


def _memory(limit: int) -> FileValue:
    return FileValue(
        "memory.limit_in_bytes", str(limit), "memory.max", str(limit), f"limits.memory {format_memory(limit)}"
    )


def node_values(allocatable_milli: int, allocatable_memory: int) -> list[FileValue]:
    """kubepods: the node's allocatable CPU as shares, its allocatable memory as the limit."""
    return [_kubelet_shares(allocatable_milli), _memory(allocatable_memory)]


def qos_values(qos_class: str, burstable_requests_milli: int) -> list[FileValue]:
    """kubepods/burstable: the summed cpu requests of its pods; kubepods/besteffort: 2 shares."""
    if qos_class == kqos.BEST_EFFORT:
        return [_kubelet_shares(0)]
    return [_kubelet_shares(burstable_requests_milli)]


def pod_requests(pod: Pod, resource: str, kind: str = "requests") -> int:
    """resource.PodRequests / PodLimits: the containers' sum, or the largest init container if larger."""

    def amount(container: Container) -> int:
        return (container.requests if kind == "requests" else container.limits).get(resource, 0)

    regular = sum(amount(c) for c in pod.containers)
    init = max((amount(c) for c in pod.init_containers), default=0)
    return max(regular, init)


def pod_values(pod: Pod, qos_class: str) -> list[FileValue]:
    """ResourceConfigForPod: Guaranteed gets shares, quota and memory; Burstable shares always, a quota only
    when every container has a cpu limit, memory only when every container has a memory limit; BestEffort
    only 2 shares."""
    if qos_class == kqos.BEST_EFFORT:
        return [_kubelet_shares(0)]
    containers: Sequence[Container] = [*pod.init_containers, *pod.containers]
    values = [_kubelet_shares(pod_requests(pod, "cpu"))]
    if all(c.limits.get("cpu") for c in containers):
        values += _quota(pod_requests(pod, "cpu", "limits"))
    if all(c.limits.get("memory") for c in containers):
        values.append(_memory(pod_requests(pod, "memory", "limits")))
    return values


def container_values(container: Container, formula: str = "new") -> list[FileValue]:
    """calculateLinuxResources, then the runtime: shares from the request (or the limit), the period always
    and the quota from the limit, the memory limit, and on v2 memory.oom.group = 1 (the kubelet's
    singleProcessOOMKill is false on v2: an OOM kill takes the whole container)."""
    milli = container.requests.get("cpu") or container.limits.get("cpu", 0)
    shares = milli_cpu_to_shares(milli)
    old, new = runtime_weight_old(shares), runtime_weight_new(shares)
    weight = new if formula == "new" else old
    how = f"v2 weight (runtime): old linear {old}, new log-scale {new}; written: {formula}"
    values = [_shares(milli, weight, how)]
    limit = container.limits.get("cpu", 0)
    if limit:
        values += _quota(limit)
    else:
        values.append(
            FileValue(
                "cpu.cfs_period_us", str(QUOTA_PERIOD), "cpu.max", f"max {QUOTA_PERIOD}", "no cpu limit: no quota"
            )
        )
    if container.limits.get("memory"):
        values.append(_memory(container.limits["memory"]))
    values.append(FileValue("", None, "memory.oom.group", "1", "singleProcessOOMKill=false (the v2 default)"))
    return values


def controller_of(filename: str) -> str:
    """The v2 name of the controller a file belongs to: cpu.max -> cpu, memory.max -> memory."""
    return filename.split(".", 1)[0]
