"""cgroup-pids: a limit on the number of processes, and fork() failing with EAGAIN at it.

What you will see: pids.max written on a new cgroup, a process inside forking in a bounded loop (never an
unbounded fork bomb) until the kernel refuses with EAGAIN, pids.current at the limit, and pids.events
counting the refusals.
Kubernetes: the kubelet's pod PID limit (podPidsLimit) that keeps one Pod from exhausting the node's pids.
"""

from __future__ import annotations

from isodemo.context import DemoContext
from isodemo.i18n import _, ngettext
from isodemo.inside import workloads
from isodemo.narrate.base import Narrator

DEFAULT_LIMIT = 20
EXTRA_ATTEMPTS = 10


def run(narrator: Narrator, ctx: DemoContext) -> None:
    limit = int(ctx.options.get("limit") or DEFAULT_LIMIT)
    narrator.step(
        ngettext("A cgroup that allows {n} process", "A cgroup that allows {n} processes", limit),
        syscalls=["mkdir(cgroup directory, 0777)", f'write(pids.max, "{limit}")'],
    )
    cgroup = ctx.cgroup("pids", ["pids"])
    narrator.shell(*cgroup.setup_commands)
    narrator.shell(cgroup.set_pids_max(limit).shell)
    narrator.fact("cgroup_version", cgroup.version)
    narrator.fact("cgroup_path", cgroup.controller_dir("pids"))
    stored = int(cgroup.read("pids.max", cgroup.controller_dir("pids")))
    narrator.check("pids_max", stored, _("pids.max holds {stored}", stored=stored), stored == limit)
    narrator.explain(
        _(
            "pids.max counts every task in the cgroup: processes and their threads. fork() and "
            "clone() fail with EAGAIN once the count would go over it."
        )
    )

    narrator.step(_("One process inside"), syscalls=["clone(SIGCHLD)  (fork)", 'write(cgroup.procs, "PID")'])
    box = ctx.isolated([])
    narrator.shell(*(w.shell for w in cgroup.add(box.pid)))
    before = cgroup.pids_current()
    narrator.check(
        "pids_current_before", before, _("pids.current counts the one process: {count}", count=before), before == 1
    )

    attempts = limit + EXTRA_ATTEMPTS
    narrator.step(
        ngettext(
            "Fork, at most {n} time, until the kernel refuses",
            "Fork, at most {n} times, until the kernel refuses",
            attempts,
        ),
        syscalls=["clone(SIGCHLD)  (fork), in a bounded loop, until it fails with EAGAIN"],
        shell=[f"for i in $(seq {attempts}); do sleep 1000 & done; kill $(jobs -p)   # in a shell in the cgroup"],
    )
    narrator.explain(
        ngettext(
            "Each child just waits on a pipe. The loop stops at the first refusal, or after "
            "{n} fork: a bounded experiment, never an open-ended fork bomb.",
            "Each child just waits on a pipe. The loop stops at the first refusal, or after "
            "{n} forks: a bounded experiment, never an open-ended fork bomb.",
            attempts,
        )
    )
    result = box.call(workloads.fork_until_refused, attempts)
    forks = narrator.fact("forks_succeeded", result["forks_succeeded"])
    error = narrator.fact("fork_error", result["fork_error"])
    events = cgroup.pids_events()
    refusals = narrator.fact("pids_events_max", events.get("max", 0))
    narrator.compare(
        _("the count"),
        [
            f"pids.max {limit}",
            ngettext(
                "fork() succeeded {n} time, then {error}",
                "fork() succeeded {n} times, then {error}",
                forks,
                error=error,
            ),
        ],
        [f"pids.events: max {refusals}"],
        host_title=_("what the process saw"),
        inside_title=_("what the cgroup recorded"),
    )
    narrator.claim(
        ngettext(
            "fork() failed with EAGAIN once the cgroup held {n} process",
            "fork() failed with EAGAIN once the cgroup held {n} processes",
            limit,
        ),
        error == "EAGAIN" and forks == limit - before,
    )
    narrator.claim(_("pids.events counted the refusal: max {refusals}", refusals=refusals), refusals >= 1)
    after = cgroup.pids_current()
    narrator.check(
        "pids_current_after",
        after,
        _("the children were reaped: pids.current is back to {count}", count=after),
        after == 1,
    )

    ctx.hold_here(
        narrator,
        {"box": box.pid},
        [f"cat {cgroup.controller_dir('pids')}/pids.current"],
        cgroups=cgroup.paths,
    )
    narrator.kubernetes(
        _(
            "The kubelet sets pids.max on every Pod's cgroup from its podPidsLimit setting, so one Pod's fork "
            "bomb or thread leak cannot take all of the node's process IDs. Inside, the program just sees fork() "
            'or pthread_create() fail with EAGAIN ("Resource temporarily unavailable").'
        )
    )
