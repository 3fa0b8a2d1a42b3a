"""cgroup-memory: a memory limit, and the OOM killer that enforces it.

What you will see: a cgroup made for one process, the limit written to the kernel's own file
(memory.max on cgroup v2, memory.limit_in_bytes on v1), the process allocating step by step while a meter
shows the cgroup's usage against the limit, and then the kernel killing it: exit 137, the oom_kill counter,
and the peak.
Kubernetes: resources.limits.memory, and a container's OOMKilled status with exit code 137.
"""

from __future__ import annotations

import signal
from pathlib import Path

from isodemo import workloads
from isodemo.demos.context import DemoContext
from isodemo.isolated import ChildGone
from isodemo.kernel import procfs
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes

DEFAULT_LIMIT = 64 << 20
STEPS_TO_LIMIT = 16


def _swap_devices() -> int:
    return len(Path("/proc/swaps").read_text().splitlines()) - 1


def run(narrator: Narrator, ctx: DemoContext) -> None:
    limit = int(ctx.options.get("limit") or DEFAULT_LIMIT)
    narrator.step("A cgroup for the container", syscalls=["mkdir(2) in the cgroup filesystem"])
    cgroup = ctx.cgroup("memory", ["memory"])
    narrator.shell(*cgroup.setup_commands)
    narrator.explain(
        f"A cgroup is a directory in the cgroup filesystem; the kernel fills it with control files. This "
        f"machine uses cgroup v{cgroup.version}"
        + (
            " (one tree, every controller in one directory)."
            if cgroup.version == 2
            else ": one hierarchy per controller, and the memory controller has its own tree."
        )
    )
    narrator.fact("cgroup_version", cgroup.version)
    narrator.fact("cgroup_path", cgroup.path)

    narrator.step(f"Limit it to {format_bytes(limit)}", syscalls=["write(2) to the limit file"])
    writes = cgroup.set_memory_limit(limit)
    swap = cgroup.disable_swap()
    narrator.shell(*(w.shell for w in [*writes, *([swap] if swap else [])]))
    stored = narrator.fact("limit_bytes", int(cgroup.read(writes[0].file, writes[0].directory)))
    narrator.compare(
        "the limit",
        f"asked for {limit} bytes",
        f"{writes[0].file}: {stored}",
        host_title="isodemo",
        inside_title="the kernel stored",
    )
    swaps = _swap_devices()
    if swap:
        narrator.explain(
            f"{swap.file} = {swap.value}: no swap for this cgroup, so going over "
            "the limit cannot be postponed by paging out: the OOM killer must act."
        )
    else:
        narrator.explain(
            f"This kernel has no per-cgroup swap file here; the machine has {swaps} swap device(s)"
            + (", so nothing can be paged out." if swaps == 0 else ": swapping could postpone the OOM kill.")
        )
    narrator.fact("swap_devices", swaps)
    narrator.claim(
        "the kernel stored the limit (rounded to whole pages at most)",
        0 < limit - stored < 4096 or stored == limit,
    )

    narrator.step("Put a process in it", syscalls=["fork()", f"write(2) of its pid to {cgroup.path}/cgroup.procs"])
    box = ctx.isolated([])
    adds = cgroup.add(box.pid)
    narrator.shell(*(w.shell for w in adds))
    memberships = procfs.cgroup(box.pid)
    controller_key = "" if cgroup.version == 2 else "memory"
    narrator.compare(
        f"/proc/{box.pid}/cgroup",
        [f"memory: {procfs.cgroup('self').get(controller_key, '?')}"],
        [f"memory: {memberships.get(controller_key, '?')}"],
        host_title="isodemo",
        inside_title="the child",
    )
    narrator.claim("the child is in the new cgroup", box.pid in cgroup.procs())

    narrator.step("Allocate, step by step, past the limit", syscalls=["mmap(2) + page faults, in the child"])
    narrator.explain(
        "The child allocates a block and writes to every page of it, so the kernel must really provide the "
        "memory, then waits for the next request. The meter reads the cgroup's own counter after each step."
    )
    step = max(1 << 20, limit // STEPS_TO_LIMIT)
    usage_file = "memory.current" if cgroup.version == 2 else "memory.usage_in_bytes"
    allocated = 0
    died_by_itself = False
    with narrator.meter(usage_file, limit, format_bytes) as meter:
        for _ in range(3 * STEPS_TO_LIMIT):
            try:
                allocated = box.call(workloads.allocate, step)
            except ChildGone:
                died_by_itself = True
                break
            meter.update(cgroup.memory_current(), f"child holds {format_bytes(allocated)}")
        else:
            box.kill(signal.SIGKILL)  # it never hit the limit (swap?): stop it; the claims below will say so
    exit_code = narrator.fact("exit_code", box.exit_status)
    narrator.explain(
        f"The child asked for one more {format_bytes(step)} after holding {format_bytes(allocated)}; "
        f"it ended with exit status {exit_code} (128 + {exit_code - 128 if exit_code else '?'}, "
        f"{signal.Signals(exit_code - 128).name if exit_code and exit_code > 128 else 'no signal'})."
    )

    events, source = cgroup.oom_kills()
    narrator.step(
        "What the kernel recorded",
        shell=[
            f"cat {cgroup.path}/{source}",
            f"cat {cgroup.path}/" + ("memory.peak" if cgroup.version == 2 else "memory.max_usage_in_bytes"),
        ],
    )
    peak = cgroup.memory_peak()
    if cgroup.version == 1:
        narrator.fact("memory_failcnt", int(cgroup.read("memory.failcnt")))  # times the limit refused a charge
    narrator.fact("oom_kill_events", events)
    narrator.fact("peak_bytes", peak)
    narrator.fact("oom_killed", died_by_itself and exit_code == 137 and events >= 1)
    narrator.claim("the kernel killed the child with SIGKILL: exit status 137", died_by_itself and exit_code == 137)
    narrator.claim(f"{source} counts the kill: oom_kill {events}", events >= 1)
    if peak is not None:
        narrator.claim(f"the peak, {format_bytes(peak)}, is within 5% of the limit", 0.95 * stored <= peak <= stored)
    ctx.hold_here(narrator, {}, [f"cat {cgroup.path}/{source}"], cgroups=cgroup.paths)
    narrator.kubernetes(
        "resources.limits.memory of a container becomes this limit on the container's cgroup (memory.max on "
        "cgroup v2, under kubepods.slice/...). Going over it is not an error a program can catch: the kernel's "
        "OOM killer ends it with SIGKILL, the kubelet reports the container as OOMKilled with exit code 137, "
        "and restartPolicy decides whether it starts again. requests.memory only helps the scheduler place "
        "the Pod; on v2 the MemoryQoS feature maps it to memory.min."
    )
