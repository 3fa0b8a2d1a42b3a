"""One attacking container: `isodemo run`'s own runtime (container/runtime.py build() and start()), so it has
exactly the capabilities, seccomp filter, mounts and namespaces `sudo isodemo run OPTIONS busybox` gives.

Its command is the attempts' script (escape/attempts.py) with /results bound from the host; before the
execve a probe may run in its child (inside/escape_probes.py). Each container has an ExitStack of its own and is
removed (cgroup, overlay, directories) as soon as its command has ended.
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Callable
from typing import Any

from isodemo.container import runtime
from isodemo.container.spec import RunSpec, Volume
from isodemo.context import DemoContext
from isodemo.errors import IsodemoError
from isodemo.escape import attempts as attempts_mod
from isodemo.escape.attempts import Attempt, Result
from isodemo.i18n import _
from isodemo.narrate.runlog import RunLog
from isodemo.pod.containers import quiet_output

TIMEOUT = 15.0  # seconds; a normal container here ends in well under one


class Outcome:
    """What one container did: its exit status, each attempt's result, the probe's answer, its facts."""

    def __init__(
        self, status: int, results: dict[str, Result], probe: dict[str, Any] | None, facts: dict[str, Any]
    ) -> None:
        self.status = status
        self.results = results
        self.probe = probe
        self.facts = facts

    def __getitem__(self, name: str) -> Result:
        return self.results[name]


def run(
    ctx: DemoContext,
    name: str,
    attempts: list[Attempt],
    results_dir: str,
    *,
    volumes: tuple[Volume, ...] = (),
    probe: Callable[..., dict[str, Any]] | None = None,
    probe_args: tuple[Any, ...] = (),
    **options: Any,
) -> Outcome:
    """Build the container, run the probe in its child (given the container's Security fields, uid and gid,
    then `probe_args`), start the script, wait for its end, read /results; the container is gone after."""
    stack = contextlib.ExitStack()
    ctx.enter(stack)
    with stack:
        own_ctx = DemoContext(ctx.run, ctx.host, stack, False, ctx.options)
        spec = RunSpec(
            "busybox",
            command=("sh", "-c", attempts_mod.script(attempts)),
            name=name,
            hostname=name,
            volumes=(Volume(results_dir, attempts_mod.RESULTS), *volumes),
            **options,
        )
        log = RunLog()
        started = runtime.build(spec, own_ctx, log, role=f"esc-{name}")
        box = started.box
        answer = None
        if probe is not None:
            process = started.process
            answer = box.call(probe, process["security"], process["uid"], process["gid"], *probe_args)
        box.call(quiet_output)
        runtime.start(started, log)
        status = _wait(box)
    if status is None:
        raise IsodemoError(_("the {name} container did not end within {seconds:.0f} s", name=name, seconds=TIMEOUT))
    return Outcome(status, attempts_mod.read_results(results_dir, attempts), answer, dict(log.report.facts))


def _wait(box: Any) -> int | None:
    fd = box.wait_fd()
    try:
        readable, _w, _x = select.select([fd], [], [], TIMEOUT)
    finally:
        os.close(fd)
    if not readable:
        box.kill()
        return None
    return int(box.reap())
