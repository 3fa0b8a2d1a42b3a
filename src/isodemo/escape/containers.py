"""One attacking container: `isodemo run`'s own runtime (container/runtime.py build() and start()), so it has
exactly the capabilities, seccomp filter, mounts and namespaces `sudo isodemo run OPTIONS busybox` gives.

Its command is the attempts' script (escape/attempts.py) with /results bound from the host; before the
execve a probe may run in its child (inside/escape_probes.py). Each container has an ExitStack of its own
(container/short_run.py) and is removed (cgroup, overlay, directories) as soon as its command has ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isodemo.container import runtime, short_run
from isodemo.container.spec import RunSpec, Volume
from isodemo.context import DemoContext
from isodemo.errors import IsodemoError
from isodemo.escape import attempts as attempts_mod
from isodemo.escape.attempts import Attempt, Result
from isodemo.i18n import _
from isodemo.narrate.runlog import RunLog

TIMEOUT = 15.0  # seconds; a normal container here ends in well under one


class Outcome:
    """What one container did: its exit status, each attempt's result, the probe's answer, and its uid_map
    as the host read it while the container lived (/proc/PID/uid_map: "0 0 4294967295" without --userns)."""

    def __init__(self, status: int, results: dict[str, Result], probe: dict[str, Any] | None, uid_map: str) -> None:
        self.status = status
        self.results = results
        self.probe = probe
        self.uid_map = uid_map

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
    own_ctx, stack = short_run.own_context(ctx)
    with stack:
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
        uid_map = _uid_map(int(started.box.pid))
        answer = None
        if probe is not None:
            process = started.process
            answer = started.box.call(probe, process["security"], process["uid"], process["gid"], *probe_args)
        status = short_run.run_to_end(started, log, TIMEOUT)
    if status is None:
        raise IsodemoError(_("the {name} container did not end within {seconds:.0f} s", name=name, seconds=TIMEOUT))
    return Outcome(status, attempts_mod.read_results(results_dir, attempts), answer, uid_map)


def _uid_map(pid: int) -> str:
    """The container's /proc/PID/uid_map, one "inside outside count" line per range, spaces squeezed."""
    with open(f"/proc/{pid}/uid_map") as f:
        return "\n".join(" ".join(line.split()) for line in f.read().splitlines() if line.strip())


def host_uid_of_root(uid_map: str) -> int | None:
    """The host uid a uid_map ("inside outside count" per line) gives uid 0; None when it maps none."""
    for line in uid_map.splitlines():
        inside, outside, count = (int(field) for field in line.split())
        if inside <= 0 < inside + count:
            return outside - inside
    return None
