"""The containers of `isodemo volume`: each one made by `isodemo run`'s own code (container/runtime.py), with
the volumes a kubelet would give it as binds (-v), and a pod of them owning its own teardown."""

from __future__ import annotations

import contextlib

from isodemo.container import runtime, short_run
from isodemo.container.spec import RunSpec, Volume
from isodemo.context import DemoContext
from isodemo.isolated import Isolated
from isodemo.narrate.runlog import RunLog

IDLE = ("sleep", "3600")


class Container:
    """One built container: its PID 1 waits, in its namespaces and its root, before the execve (runc's
    `created` state); `started` is runtime.build()'s, `steps` the syscalls it logged."""

    def __init__(self, name: str, started: runtime.Started, log: RunLog) -> None:
        self.name = name
        self.started = started
        self.log = log

    @property
    def pid(self) -> int:
        return int(self.started.box.pid)

    @property
    def box(self) -> Isolated:
        return self.started.box  # type: ignore[no-any-return]

    @property
    def syscalls(self) -> list[str]:
        return [call for step in self.log.report.steps for call in step.syscalls]


def build(
    ctx: DemoContext,
    name: str,
    volumes: list[Volume],
    *,
    memory: int | None = None,
    command: tuple[str, ...] = IDLE,
) -> Container:
    """A busybox container named isodemo-<run>-<name>, its memory limit with no swap (the kubelet's), its
    volumes bound in."""
    spec = RunSpec(
        "busybox",
        command=command,
        name=name,
        hostname=name,
        memory=memory,
        memory_swap=memory,
        volumes=tuple(volumes),
    )
    log = RunLog()  # quiet: the demo tells what it did
    return Container(name, runtime.build(spec, ctx, log, role=name), log)


def run_to_end(container: Container, timeout: float) -> int | None:
    """execve the container's command (runtime.start) and wait for its end; its exit status, or None when it
    ran longer than `timeout` (then it is killed)."""
    return short_run.run_to_end(container.started, container.log, timeout)


def pod_context(ctx: DemoContext) -> tuple[DemoContext, contextlib.ExitStack]:
    """A DemoContext whose ExitStack is the pod's: the demo's stack owns it (an interrupt ends it too), and
    closing it deletes the pod's containers, cgroups and overlays before the demo ends."""
    return short_run.own_context(ctx, hold=True)
