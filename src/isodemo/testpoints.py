"""Test points: named places where the reliability tests make isodemo signal itself.

Off by default, and free when off: `hit(name)` compares against one environment variable read once. The
tests set `ISODEMO_TESTPOINT=NAME[#N]:SIGNAL` (for example `step#3:SIGINT`, `isolated.forked:SIGHUP`,
`link.created#2:SIGTERM`): the Nth time the process passes NAME (the first by default), it sends itself
SIGNAL, so a race a few microseconds wide can be hit on purpose instead of by luck. A learner never sets
this variable; nothing else reads it.
"""

from __future__ import annotations

import os

VARIABLE = "ISODEMO_TESTPOINT"


def _parse(value: str) -> tuple[str, int, int] | None:
    name, _, sig = value.rpartition(":")
    name, _, count = name.partition("#")
    import signal  # only when a test set the variable: signal.py's enums cost every start ~1.5 ms (signals.py)

    try:
        return name, int(count or "1"), int(signal.Signals[sig])
    except (KeyError, ValueError):
        return None


_target = _parse(os.environ.get(VARIABLE, "")) if os.environ.get(VARIABLE) else None
_counts: dict[str, int] = {}


def hit(name: str) -> None:
    """Mark that the process is at `name`; the test's signal, if this is its place, arrives now."""
    if _target is None or _target[0] != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == _target[1]:
        os.kill(os.getpid(), _target[2])
