"""What a client of the Service saw during a rollout, set against what the controller did: pure logic.

The controller records an Event each time the Service's endpoints or the pods change (a pod ready and added, pods
taken out, pods created or terminated), with the counts right after it. The client records one request each:
(start, seconds, status, body), body "<pod> <version>" when it was answered (cluster/client.py). From the two:
- rows(): one row per event that changed the endpoints, with what answered until the next one (a timeline);
- versions_seen(): the versions that answered in a window;
- most() and fewest(): the most containers running at once (sampled from /proc at each event) and the fewest
  ready endpoints kube-proxy was given (the EndpointSlice's history), to check against maxSurge and
  maxUnavailable.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence, Sized

Record = tuple[float, float, int, str]

# Event.kind
START = "start"  # the update was asked for
CREATED = "created"  # new pods exist, not ready yet
READY = "ready"  # a pod passed its readiness probe: in the endpoints
OUT = "out"  # pods taken out of the endpoints (ready=false), still running
TERMINATED = "terminated"  # pods stopped and gone
COMPLETE = "complete"  # every new pod available, no old pod left
ENDPOINT_KINDS = (START, READY, OUT, COMPLETE)


@dataclasses.dataclass(frozen=True)
class Event:
    """One change, at `at` (CLOCK_MONOTONIC), and the counts right after it."""

    at: float
    kind: str
    pods: tuple[str, ...]
    old_pods: int
    old_ready: int
    new_pods: int
    new_ready: int


@dataclasses.dataclass(frozen=True)
class Row:
    """From one endpoints change to the next: when (seconds from the start), the counts, what the client got."""

    seconds: float
    event: Event
    answered: dict[str, int]  # version -> requests it answered
    failed: int


def version_of(body: str) -> str:
    """The version in an answer "<pod> <version>" ("" when there is none)."""
    words = body.split()
    return words[-1] if len(words) >= 2 else ""


def between(records: list[Record], since: float, until: float | None) -> list[Record]:
    """The requests that started in [since, until) (until None: to the end)."""
    return [r for r in records if r[0] >= since and (until is None or r[0] < until)]


def answered_by_version(records: list[Record]) -> dict[str, int]:
    counts = Counter(version_of(body) for _start, _s, status, body in records if status == 200)
    return dict(sorted(counts.items()))


def failures(records: list[Record]) -> int:
    return sum(1 for r in records if r[2] != 200)


def rows(events: list[Event], records: list[Record]) -> list[Row]:
    """A row for each event that changed the endpoints (and the start and the end), with the requests that started
    from it to the next such event; the first row also takes the requests sent before the start, the last those
    after the end."""
    shown = [e for e in events if e.kind in ENDPOINT_KINDS]
    if not shown:
        return []
    began = shown[0].at
    result = []
    for index, event in enumerate(shown):
        since = event.at if index else float("-inf")
        until = shown[index + 1].at if index + 1 < len(shown) else None
        part = between(records, since, until)
        result.append(Row(event.at - began, event, answered_by_version(part), failures(part)))
    return result


def versions_seen(records: list[Record], since: float, until: float) -> list[str]:
    """The versions that answered requests started in [since, until), sorted."""
    return sorted(answered_by_version(between(records, since, until)))


def in_window(samples: Sequence[tuple[float, Sized]], since: float, until: float) -> list[int]:
    """The sizes of `samples` [(at, collection)] in force during [since, until]: the last one taken before
    `since` (the state the window began in) and every one taken inside it."""
    before = [len(items) for at, items in samples if at < since]
    inside = [len(items) for at, items in samples if since <= at <= until]
    return before[-1:] + inside


def most(samples: Sequence[tuple[float, Sized]], since: float, until: float) -> int:
    """The largest size during [since, until] (0 when nothing was sampled)."""
    return max(in_window(samples, since, until), default=0)


def fewest(samples: Sequence[tuple[float, Sized]], since: float, until: float) -> int:
    """The smallest size during [since, until] (0 when nothing was sampled)."""
    return min(in_window(samples, since, until), default=0)


def answered_text(answered: dict[str, int]) -> str:
    """ "v1 12, v2 3" for a table cell ("-" when nothing answered)."""
    return ", ".join(f"{version} {count}" for version, count in answered.items()) or "-"
