"""The arithmetic of a density run, pure and unit-tested: how many containers fit, which subnet size holds
them, and how the start time per container is summarised (deciles, growth)."""

from __future__ import annotations

import math

DEFAULT_COUNT = 100
MAX_COUNT = 16000  # a /18 of the 10.200.0.0/16 pool holds 16382 addresses; more is never a lesson
BYTES_PER_CONTAINER = 2 << 20  # what one costs, kernel objects included (measured ~1 MiB), twice for margin
MEMORY_SHARE = 2  # use at most half of what is available: the machine must stay usable
PIDS_PER_CONTAINER = 1  # a sleeping PID 1; the clone child becomes it
PIDS_MARGIN = 1000  # pids left for everything else on the machine
MEMORY_LIMIT = 16 << 20  # each container's memory cgroup limit: busybox sleep needs ~100 KiB


def count(value: str | int) -> int:
    """`--density N`: a whole number of containers, 1 to MAX_COUNT (what fits now is checked when it runs)."""
    from isodemo.values import whole_number

    return whole_number(value, 1, MAX_COUNT, "--density", 100)


def fits(mem_available: int, pids_free: int) -> int:
    """How many density containers this machine holds now: memory (half of MemAvailable at 2 MiB each) and
    pids (what pid_max and the pids limit leave, less a margin), whichever is smaller."""
    by_memory = mem_available // MEMORY_SHARE // BYTES_PER_CONTAINER
    by_pids = max(pids_free - PIDS_MARGIN, 0) // PIDS_PER_CONTAINER
    return max(0, min(by_memory, by_pids, MAX_COUNT))


def prefixlen_for(count: int) -> int:
    """The longest IPv4 prefix whose subnet holds the gateway (.1) and `count` containers, never beyond /24:
    a /24 holds 253 containers, 1000 need a /22."""
    hosts = count + 3  # network address, gateway, broadcast
    return min(24, 32 - math.ceil(math.log2(hosts)))


def deciles(finished_at: list[float], started_at: float) -> list[float]:
    """Milliseconds per container in each tenth of the run, in order: the time a tenth took from the end of
    the previous tenth, divided by how many it holds. `finished_at` are completion times (seconds, sorted)."""
    count = len(finished_at)
    if count == 0:
        return []
    result = []
    previous = started_at
    for tenth in range(10):
        end = math.ceil((tenth + 1) * count / 10)
        begin = math.ceil(tenth * count / 10)
        if end <= begin:  # fewer than ten containers: an empty tenth repeats nothing
            continue
        last = finished_at[end - 1]
        result.append(round((last - previous) * 1000 / (end - begin), 3))
        previous = last
    return result


def growth(by_decile: list[float]) -> float:
    """How much slower the last tenth started than the first: 1.0 is flat, 1.8 the shell loop's."""
    if not by_decile or by_decile[0] <= 0:
        return 0.0
    return round(by_decile[-1] / by_decile[0], 2)


def chart(by_decile: list[float], width: int = 40) -> list[str]:
    """A small bar chart, one line per tenth: the start time per container against how many were running."""
    if not by_decile:
        return []
    top = max(by_decile) or 1.0
    return [
        f"{(i + 1) * 10:>3}% {'#' * max(1, round(value / top * width)):<{width}} {value:.2f} ms"
        for i, value in enumerate(by_decile)
    ]


def stage_deciles(stages: list[list[int]], names: tuple[str, ...]) -> dict[str, list[float]]:
    """For each stage, its mean duration in milliseconds in each tenth of the containers (in the order they
    finished): which step of a container's start grows as more are running."""
    count = len(stages)
    result: dict[str, list[float]] = {name: [] for name in names}
    for tenth in range(10):
        part = stages[math.ceil(tenth * count / 10) : math.ceil((tenth + 1) * count / 10)]
        if not part:
            continue
        for position, name in enumerate(names):
            values = [row[position] for row in part if len(row) > position]
            result[name].append(round(sum(values) / max(len(values), 1) / 1e6, 3))
    return result
