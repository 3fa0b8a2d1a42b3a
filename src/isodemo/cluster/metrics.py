"""A pod's CPU usage as the HorizontalPodAutoscaler gets it: a counter in the container's cgroup, read twice,
the difference divided by the time between the two readings.

    cgroup v2   <cgroup>/cpu.stat        "usage_usec N"    microseconds of CPU time, all CPUs summed
    cgroup v1   <cpuacct>/cpuacct.usage  "N"               nanoseconds (the cpuacct hierarchy: on its own, or
                                                           co-mounted with cpu as "cpu,cpuacct")

Both counters only grow; the rate in millicores is 1000 x (CPU seconds used) / (seconds passed).

Simplification, named: in a cluster the kubelet's cAdvisor (or the CRI's stats) reads the same counters, the
metrics-server scrapes the kubelet's /metrics/resource every 15 s and serves the rate over that window through
the metrics.k8s.io API, and the HPA controller asks that API. Here the autoscaler reads the cgroup files itself,
at each sync, over the time since its last reading.
"""

from __future__ import annotations

import math
import os
import time

from isodemo.cgroups.base import parse_keyed, read_file

V2_FILE = "cpu.stat"
V1_FILE = "cpuacct.usage"


def usage_usec_v2(text: str) -> int:
    """cpu.stat's usage_usec (cgroup v2), in microseconds."""
    values = parse_keyed(text)
    if "usage_usec" not in values:
        raise ValueError("cpu.stat has no usage_usec line")
    return values["usage_usec"]


def usage_usec_v1(text: str) -> int:
    """cpuacct.usage (cgroup v1) is in nanoseconds: microseconds, rounded down."""
    return int(text.strip()) // 1000


def usage_usec(path: str, text: str) -> int:
    """The counter in `text`, read from `path`: which file it is says how to read it."""
    name = os.path.basename(path)
    if name == V2_FILE:
        return usage_usec_v2(text)
    if name == V1_FILE:
        return usage_usec_v1(text)
    raise ValueError(f"{name} is not a CPU usage file ({V2_FILE} or {V1_FILE})")


def read_usage_usec(path: str) -> int:
    return usage_usec(path, read_file(path))


def millicores(before_usec: int, after_usec: int, seconds: float) -> int:
    """The CPU used between two readings `seconds` apart, in millicores, rounded up as the API's quantities
    are (a pod that used anything used at least 1m)."""
    if seconds <= 0:
        raise ValueError("the readings must be apart in time")
    return math.ceil(round((after_usec - before_usec) / 1000 / seconds, 6))


class CpuMeter:
    """The last reading of each pod's counter; rate() gives the usage since then and keeps the new reading."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[float, int]] = {}  # pod -> (monotonic time, usage_usec)

    def start(self, pod: str, path: str) -> int:
        """The first reading (when the pod is ready): the rate starts from here."""
        usage = read_usage_usec(path)
        self.last[pod] = (time.monotonic(), usage)
        return usage

    def rate(self, pod: str, path: str) -> tuple[int, float]:
        """(millicores since the last reading, the seconds it covers)."""
        usage = read_usage_usec(path)
        now = time.monotonic()
        then, before = self.last[pod]
        self.last[pod] = (now, usage)
        return millicores(before, usage, now - then), now - then

    def forget(self, pod: str) -> None:
        self.last.pop(pod, None)
