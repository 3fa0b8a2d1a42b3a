"""cgroup-memory: a memory limit, and the OOM killer that enforces it.

What you will see: a cgroup made for one process, the limit written to the kernel's own file
(memory.max on cgroup v2, memory.limit_in_bytes on v1), the process allocating step by step while a meter
shows the cgroup's usage against the limit, and then the kernel killing it: exit 137, the oom_kill counter,
and the peak.
Kubernetes: resources.limits.memory, and a container's OOMKilled status with exit code 137.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from isodemo.cgroups import Cgroup
from isodemo.context import DemoContext
from isodemo.i18n import _, ngettext
from isodemo.inside import workloads
from isodemo.isolated import ChildGone, Isolated
from isodemo.kernel import procfs
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes

DEFAULT_LIMIT = 64 << 20
STEPS_TO_LIMIT = 16


def _swap_devices() -> int:
    return len(Path("/proc/swaps").read_text().splitlines()) - 1


def run(narrator: Narrator, ctx: DemoContext) -> None:
    limit = int(ctx.options.get("limit") or DEFAULT_LIMIT)
    cgroup = _new_cgroup(narrator, ctx)
    stored = _limit(narrator, cgroup, limit)
    box = _put_a_process_in(narrator, ctx, cgroup)
    died_by_itself = _allocate_past_the_limit(narrator, box, cgroup, limit)
    source = _what_the_kernel_recorded(narrator, cgroup, box.exit_status, died_by_itself, stored)
    ctx.hold_here(narrator, {}, [f"cat {cgroup.path}/{source}"], cgroups=cgroup.paths)
    narrator.kubernetes(
        _(
            "resources.limits.memory of a container becomes this limit on the container's cgroup (memory.max on "
            "cgroup v2, under kubepods.slice/...). Going over it is not an error a program can catch: the "
            "kernel's OOM killer ends it with SIGKILL, the kubelet reports the container as OOMKilled with exit "
            "code 137, and restartPolicy decides whether it starts again. requests.memory only helps the "
            "scheduler place the Pod; on v2 the MemoryQoS feature maps it to memory.min."
        )
    )


def _new_cgroup(narrator: Narrator, ctx: DemoContext) -> Cgroup:
    narrator.step(_("A cgroup for the container"), syscalls=["mkdir(cgroup directory, 0777)"])
    cgroup = ctx.cgroup("memory", ["memory"])
    narrator.shell(*cgroup.setup_commands)
    narrator.explain(
        _(
            "A cgroup is a directory in the cgroup filesystem; the kernel fills it with control files. This "
            "machine uses cgroup v{version}: {layout}.",
            version=cgroup.version,
            layout=_(cgroup.layout),
        )
    )
    narrator.fact("cgroup_version", cgroup.version)
    narrator.fact("cgroup_path", cgroup.path)
    return cgroup


def _limit(narrator: Narrator, cgroup: Cgroup, limit: int) -> int:
    narrator.step(_("Limit it to {limit}", limit=format_bytes(limit)), syscalls=[f'write(limit file, "{limit}")'])
    writes = cgroup.set_memory_limit(limit)
    swap = cgroup.disable_swap()
    narrator.shell(*(w.shell for w in [*writes, *([swap] if swap else [])]))
    stored = int(cgroup.read(writes[0].file, writes[0].directory))
    narrator.compare(
        _("the limit"),
        _("asked for {limit} bytes", limit=limit),
        f"{writes[0].file}: {stored}",
        host_title="isodemo",
        inside_title=_("the kernel stored"),
    )
    swaps = _swap_devices()
    if swap:
        narrator.explain(
            _(
                "{file} = {value}: no swap for this cgroup, so going over "
                "the limit cannot be postponed by paging out: the OOM killer must act.",
                file=swap.file,
                value=swap.value,
            )
        )
    elif swaps == 0:
        narrator.explain(
            _(
                "This kernel has no per-cgroup swap file here, and the machine has no swap device, so nothing "
                "can be paged out."
            )
        )
    else:
        narrator.explain(
            ngettext(
                "This kernel has no per-cgroup swap file here; the machine has {n} swap device: swapping could "
                "postpone the OOM kill.",
                "This kernel has no per-cgroup swap file here; the machine has {n} swap devices: swapping could "
                "postpone the OOM kill.",
                swaps,
            )
        )
    narrator.fact("swap_devices", swaps)
    narrator.check(
        "limit_bytes",
        stored,
        _("the kernel stored the limit (rounded to whole pages at most): {stored}", stored=stored),
        0 < limit - stored < 4096 or stored == limit,
    )
    return stored


def _put_a_process_in(narrator: Narrator, ctx: DemoContext, cgroup: Cgroup) -> Isolated:
    narrator.step(
        _("Put a process in it"), syscalls=["clone(SIGCHLD)  (fork)", f'write({cgroup.path}/cgroup.procs, "PID")']
    )
    box = ctx.isolated([])
    narrator.shell(*(w.shell for w in cgroup.add(box.pid)))
    key = cgroup.proc_key
    narrator.compare(
        f"/proc/PID/cgroup, {cgroup.proc_line}",
        [f"{procfs.cgroup('self').get(key, '?')}"],
        [f"{procfs.cgroup(box.pid).get(key, '?')}"],
        host_title="isodemo",
        inside_title=_("the child"),
    )
    narrator.claim(_("the child is in the new cgroup"), box.pid in cgroup.procs())
    return box


def _allocate_past_the_limit(narrator: Narrator, box: Isolated, cgroup: Cgroup, limit: int) -> bool:
    """Returns whether the child died by itself (the kernel killed it) before isodemo gave up on it."""
    narrator.step(
        _("Allocate, step by step, past the limit"),
        syscalls=["mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)  (then page faults)"],
    )
    narrator.explain(
        _(
            "The child allocates a block and writes to every page of it, so the kernel must really provide the "
            "memory, then waits for the next request. The meter reads the cgroup's own counter after each step."
        )
    )
    step = max(1 << 20, limit // STEPS_TO_LIMIT)
    allocated = 0
    died_by_itself = False
    with narrator.meter(os.path.basename(cgroup.memory_usage_file), limit, format_bytes) as meter:
        for _attempt in range(3 * STEPS_TO_LIMIT):
            try:
                allocated = box.call(workloads.allocate, step)
            except ChildGone:
                died_by_itself = True
                break
            meter.update(cgroup.memory_current(), _("child holds {size}", size=format_bytes(allocated)))
        else:
            box.kill(signal.SIGKILL)  # it never hit the limit (swap?): stop it; the claims below will say so
    exit_code = narrator.fact("exit_code", box.exit_status)
    narrator.explain(
        _(
            "The child asked for one more {step} after holding {allocated}; "
            "it ended with exit status {exit_code} ({how}).",
            step=format_bytes(step),
            allocated=format_bytes(allocated),
            exit_code=exit_code,
            how=describe_exit(exit_code),
        )
    )
    return died_by_itself


def describe_exit(status: int | None) -> str:
    """How a shell's exit status came about: 137 is `128 + 9: killed by SIGKILL`."""
    if status is None:
        return _("still running")
    if status > 128:
        try:
            return _("128 + {n}: killed by {signal}", n=status - 128, signal=signal.Signals(status - 128).name)
        except ValueError:
            return _("128 + {n}: killed by signal {n}", n=status - 128)
    return _("it exited by itself: no signal killed it")


def _what_the_kernel_recorded(
    narrator: Narrator, cgroup: Cgroup, exit_code: int | None, died_by_itself: bool, stored: int
) -> str:
    events, source = cgroup.oom_kills()
    peak_file = cgroup.memory_peak_file
    narrator.step(
        _("What the kernel recorded"),
        shell=[f"cat {cgroup.path}/{source}", *([f"cat {peak_file}"] if peak_file else [])],
    )
    peak = cgroup.memory_peak()
    narrator.fact("oom_kill_events", events)
    narrator.fact("peak_bytes", peak)
    narrator.fact("oom_killed", died_by_itself and exit_code == 137 and events >= 1)
    narrator.claim(
        _("the kernel killed the child with SIGKILL: exit status {exit_code}, expected 137", exit_code=exit_code),
        died_by_itself and exit_code == 137,
    )
    narrator.claim(_("{source} counts the kill: oom_kill {events}", source=source, events=events), events >= 1)
    if peak is not None:
        narrator.claim(
            _(
                "the peak, {peak} in {file}, is within 5% of the limit",
                peak=format_bytes(peak),
                file=os.path.basename(peak_file or ""),
            ),
            0.95 * stored <= peak <= stored,
        )
    return source
