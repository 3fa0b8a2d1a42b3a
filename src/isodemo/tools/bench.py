"""`isodemo bench`: what a container costs on this machine, measured, next to what a VM costs.

Starting: how long it takes to create a process in six new namespaces (pid, mnt, uts, ipc, net, cgroup)
and hear back from it, against a plain fork. Memory: what a minimal container (busybox sleep in those
namespaces, in a cgroup of its own) is charged. From that, how many would fit in the memory available now.
A VM, for comparison: the boot time systemd measured on this machine, when there is one.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time

from isodemo import host as hostinfo
from isodemo.context import DemoContext
from isodemo.i18n import _
from isodemo.inside import processes
from isodemo.isolated import Isolated
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes

NAMESPACES = ("pid", "mnt", "uts", "ipc", "net", "cgroup")
RUNS = 20


def _start_ms(namespaces: tuple[str, ...], comm: str) -> list[float]:
    times = []
    for _run in range(RUNS):
        start = time.perf_counter()
        with Isolated(namespaces, comm=comm) as box:
            box.call(os.getpid)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _vm_boot_seconds() -> float | None:
    """systemd's own measurement of how long this machine took to boot (firmware + kernel + userspace)."""
    if not shutil.which("systemd-analyze"):
        return None
    out = subprocess.run(["systemd-analyze", "time"], capture_output=True, text=True, check=False).stdout
    if "=" not in out:
        return None
    total = out.split("=", 1)[1].split("\n")[0].strip()  # "12.345s" or "1min 2.345s"
    seconds = 0.0
    for part in total.split():
        if part.endswith("ms"):
            seconds += float(part[:-2]) / 1000
        elif part.endswith("min"):
            seconds += float(part[:-3]) * 60
        elif part.endswith("s"):
            seconds += float(part[:-1])
    return seconds


def run(narrator: Narrator, ctx: DemoContext) -> None:
    density = ctx.options.get("density")
    if density is not None:
        from isodemo.density import run as density_run

        density_run.run(narrator, ctx, int(density))
        return
    narrator.step(
        _("Starting a container, {runs} times", runs=RUNS),
        syscalls=[f"unshare({'|'.join(NAMESPACES)})", "fork()"],
        shell=["time sudo unshare --pid --mount --uts --ipc --net --cgroup --fork true"],
    )
    plain = _start_ms((), ctx.run.name)
    isolated = _start_ms(NAMESPACES, ctx.run.name)
    start_ms = narrator.fact("start_ms_median", round(statistics.median(isolated), 2))
    fork_ms = narrator.fact("fork_ms_median", round(statistics.median(plain), 2))
    narrator.compare(
        _("median time to start a process and hear back from it"),
        [_("plain fork: {ms} ms", ms=fork_ms)],
        [
            _(
                "in 6 new namespaces: {ms} ms (min {low:.2f}, max {high:.2f})",
                ms=start_ms,
                low=min(isolated),
                high=max(isolated),
            )
        ],
        host_title=_("no isolation"),
        inside_title=_("a container's namespaces"),
    )
    narrator.explain(
        _(
            "Namespaces are a few kernel structures each: creating them costs milliseconds at most. "
            "Most of a container runtime's start time is elsewhere (unpacking images, networking)."
        )
    )

    busybox = hostinfo.require_static_busybox()
    narrator.step(_("Memory of a minimal container"), syscalls=["mkdir(2) in cgroupfs", "execve(busybox sleep)"])
    cgroup = ctx.cgroup("bench", ["memory"])
    box = ctx.isolated(NAMESPACES)
    cgroup.add(box.pid)
    box.call(processes.spawn_program, [busybox, "sleep", "1000"])
    charged = narrator.fact("container_memory_bytes", cgroup.memory_current())
    available = narrator.fact("mem_available_bytes", _mem_available())
    fit = narrator.fact("containers_that_fit", available // max(charged, 1))
    narrator.compare(
        _("memory"),
        [_("available on this machine: {size}", size=format_bytes(available))],
        [
            _(
                "one container (its cgroup's {file}): {size}",
                file=os.path.basename(cgroup.memory_usage_file),
                size=format_bytes(charged),
            ),
            _("so at most about {n} would fit", n=fit),
        ],
        host_title=_("host"),
        inside_title=_("container"),
    )
    narrator.explain(
        _(
            "An upper bound on the count: the cgroup is charged for what the container did after it joined "
            "(busybox's own pages), not for the namespaces made before, and a real container is charged for what "
            "its program uses. The kernel is shared: nothing is booted, no memory is set aside up front."
        )
    )

    narrator.step(_("And a VM?"), shell=["systemd-analyze time", "time vagrant up"])
    boot = _vm_boot_seconds()
    narrator.fact("machine_boot_seconds", boot)
    if boot is not None:
        narrator.compare(
            _("starting"),
            [_("this machine booted in {seconds:.1f} s (systemd-analyze)", seconds=boot)],
            [_("a container: {ms} ms", ms=start_ms)],
            host_title=_("a (virtual) machine"),
            inside_title=_("a container"),
        )
        narrator.claim(
            _("a container starts more than 100 times faster than this machine booted"), boot * 1000 > 100 * start_ms
        )
    else:
        narrator.explain(
            _(
                "systemd-analyze is not here to say how long this machine took to boot. In the VM of "
                "vagrant/, run `systemd-analyze time`; from the host, `time vagrant up`."
            )
        )
    narrator.note(
        _(
            "Measured on {node}, kernel {kernel}, {cpus} CPUs.",
            node=os.uname().nodename,
            kernel=os.uname().release,
            cpus=os.cpu_count(),
        )
    )
    narrator.kubernetes(
        _(
            "This is why a Pod starts in about a second while a new node takes minutes: a Pod is processes in "
            "namespaces and cgroups on a kernel that is already running; a node is a machine that must boot."
        )
    )
