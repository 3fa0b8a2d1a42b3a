"""A container whose command is short: started by `isodemo run`'s runtime.start (its run.exec test point
too), waited for with a timeout, killed when it runs longer. The demos that build one container after
another to look at its outcome use it (isodemo volume, container, escape)."""

from __future__ import annotations

import contextlib
import os
import select

from isodemo.container import runtime
from isodemo.context import DemoContext
from isodemo.narrate.runlog import RunLog


def run_to_end(started: runtime.Started, log: RunLog, timeout: float, *, locked: bool = False) -> int | None:
    """execve the container's command (runtime.start; `locked`: the caller made the lock-down itself) and
    wait for its end through its pidfd; its exit status, or None when it ran longer than `timeout` seconds
    (then it is killed and reaped)."""
    runtime.start(started, log, locked=locked)
    box = started.box
    fd = box.wait_fd()
    try:
        readable, _w, _x = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not readable:
        box.kill()
        return None
    return int(box.reap())


def own_context(ctx: DemoContext, *, hold: bool = False) -> tuple[DemoContext, contextlib.ExitStack]:
    """A DemoContext whose ExitStack is one container's (or one pod's): the demo's stack owns it (an interrupt
    ends it too), and closing it removes that container's cgroup, overlay and directories before the demo
    ends. `hold`: the demo's --hold applies to it."""
    stack = ctx.enter(contextlib.ExitStack())
    return DemoContext(ctx.run, ctx.host, stack, hold and ctx.hold, ctx.options), stack
