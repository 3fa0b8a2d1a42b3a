"""Ctrl-C and SIGTERM end a demo the same way: an exception that unwinds every resource's teardown.

The first SIGINT or SIGTERM raises `Interrupted`; further ones, while teardown runs, are noted and ignored
so a second Ctrl-C cannot cut a cleanup in half. `--hold` consumes one signal and re-arms.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType

_state = {"armed": True}
HANDLED = (signal.SIGINT, signal.SIGTERM)


def _handler(signum: int, frame: FrameType | None) -> None:
    from isodemo.errors import Interrupted

    if _state["armed"]:
        _state["armed"] = False
        raise Interrupted(signal.Signals(signum).name)


def rearm() -> None:
    _state["armed"] = True


def disarm() -> None:
    _state["armed"] = False


@contextlib.contextmanager
def interrupts_unwind() -> Iterator[None]:
    """Install the handler for the duration of a demo; restore the previous handlers afterwards."""
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    rearm()
    for sig in HANDLED:
        signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for_signal() -> None:
    """Sleep until a handled signal arrives (its handler raises).

    Short sleeps, not signal.pause(): a signal that lands just before pause() would be missed until the
    next one; a sleep is at most one tick late.
    """
    while True:
        time.sleep(0.2)
