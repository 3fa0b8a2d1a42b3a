"""`isodemo bench --density N`: the run, narrated, with its facts."""

from __future__ import annotations

import contextlib
import json
import os
import time

from isodemo import leftovers, signals
from isodemo.context import DemoContext
from isodemo.density import checks, child, host, plan, zygote
from isodemo.errors import IsodemoError, UsageError
from isodemo.i18n import _
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes

STOP_TIMEOUT = 60.0


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def pids_free() -> int:
    """What pid_max leaves (the kernel's pid count is /proc/loadavg's 4th field's total)."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    with open("/proc/loadavg") as f:
        total = int(f.read().split()[3].split("/")[1])
    return pid_max - total


class Zygote:
    """The zygote process seen from isodemo: its pid, the pipes, the reports it reads."""

    def __init__(self, the_plan: zygote.Plan) -> None:
        commands_r, self.commands = os.pipe()
        self.reports_r, reports_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.commands)
            os.close(self.reports_r)
            zygote.serve(the_plan, commands_r, reports_w)
        os.close(commands_r)
        os.close(reports_w)
        self.reader = os.fdopen(self.reports_r, "r")

    def send(self, text: str) -> None:
        os.write(self.commands, text.encode() + b"\n")

    def stop(self) -> None:
        """Stop: "stop", the zygote SIGKILLs and reaps every container; then reap it (SIGKILL it if it hangs)."""
        if self.pid <= 0:
            return
        with contextlib.suppress(OSError):
            self.send("stop")
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            done, _status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.005)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        self.pid = 0
        os.close(self.commands)
        self.reader.close()


def refuse_too_many(count: int) -> int:
    fit = plan.fits(mem_available(), pids_free())
    if count < 1 or count > fit:
        raise UsageError(
            _(
                "--density {n}: this machine holds at most {fit} now (half of MemAvailable at 2 MiB each, "
                "and the pids that pid_max leaves)",
                n=count,
                fit=fit,
            ),
            _("ask for fewer: --density {fit}", fit=max(fit, 1)),
        )
    return fit


def run(narrator: Narrator, ctx: DemoContext, count: int) -> None:
    fit = refuse_too_many(count)
    narrator.fact("containers_that_fit", fit, show=False)
    rid = ctx.run.id
    narrator.step(
        _("Preparing {n} containers: one bridge, one parent cgroup, the busybox image", n=count),
        syscalls=["mkdir(2)", "socket(AF_NETLINK)", "RTM_NEWLINK bridge"],
        shell=[f"ip link add isodemo-{rid}s type bridge", f"mkdir /sys/fs/cgroup/.../isodemo-{rid}-density"],
    )
    base, lower = host.directories(ctx)
    parent = ctx.cgroup("density", ["memory"])
    parallel = max(2, 2 * (os.cpu_count() or 1))
    with signals.held():
        zyg = Zygote(zygote.Plan(rid, count, base, parent, parallel))
        ctx.on_exit(zyg.stop)
    from isodemo.net import links

    with links.open_host() as ipr:
        bridge, subnet, bridge_mac = host.bridge(ctx, ipr, count)
        bridge_index = bridge.index
    addresses = [str(subnet.network_address + 2 + i) for i in range(count)]
    config = {
        "bridge_index": bridge_index,
        "bridge_mac": bridge_mac,
        "gateway": str(subnet.network_address + 1),
        "prefixlen": subnet.prefixlen,
        "lower": lower,
        "exec_name": ctx.run.name,
        "memory_limit": plan.MEMORY_LIMIT,
        "addresses": addresses,
    }
    narrator.step(
        _("Starting {n} containers", n=count),
        syscalls=[
            "clone(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET)",
            'write(tasks or cgroup.procs, "0")  (its own memory cgroup)',
            "mount(overlay)",
            "sethostname()",
            "RTM_NEWLINK veth",
            "chroot(merged)",
            "execve(busybox sleep)",
        ],
        shell=[
            "unshare --pid --mount --uts --ipc --net --fork sh -c 'mount -t overlay ...; exec chroot merged sleep inf'",
            f"ip link add iso{rid}0000 master isodemo-{rid}s up type veth peer name eth0 netns PID",
        ],
    )
    before = mem_available()
    pids: dict[int, int] = {}
    finished: list[float] = []
    errors: list[str] = []
    stages: list[list[int]] = []  # per container, in the order they finished: clone, then child.STAGES
    started = time.monotonic()
    zyg.send(json.dumps(config))
    with narrator.meter(_("containers started"), count) as meter:
        for line in zyg.reader:
            kind, _sep, rest = line.rstrip("\n").partition(" ")
            if kind == "done":
                break
            if kind == "ok":
                index, pid, at, *stage_ns = rest.split()
                pids[int(index)] = int(pid)
                finished.append(float(at))
                stages.append([int(ns) for ns in stage_ns])
            else:
                errors.append(rest)
            done = len(pids) + len(errors)
            if done % max(1, count // 50) == 0 or done == count:
                rate = len(pids) / max(time.monotonic() - started, 1e-6)
                meter.update(done, _("{rate:.0f} containers/s", rate=rate))
    if errors:
        raise IsodemoError(
            _("{n} of {count} containers did not start", n=len(errors), count=count), "; ".join(errors[:3])
        )
    finished.sort()
    start_seconds = narrator.fact("start_seconds", round(finished[-1] - started, 3))
    by_decile = narrator.fact("per_container_ms_by_decile", plan.deciles(finished, started))
    growth = narrator.fact("growth", plan.growth(by_decile))
    narrator.fact("containers", count)
    narrator.fact("stage_ms_by_decile", plan.stage_deciles(stages, ("clone", *child.STAGES)), show=False)
    after = mem_available()
    usage = 0
    usage_file = os.path.basename(parent.memory_usage_file)
    for number in range(count):
        with open(os.path.join(parent.path, f"c{number:05d}", usage_file)) as f:
            usage += int(f.read())
    per_container = narrator.fact("memory_per_container_bytes", max(before - after, 0) // count)
    narrator.fact("cgroup_memory_per_container_bytes", usage // count)
    narrator.table(
        _("start time per container, by tenth of the run"),
        [_("containers running"), "", "ms"],
        [line.rsplit(" ", 2) for line in plan.chart(by_decile)],
    )
    narrator.compare(
        _("{n} containers", n=count),
        [
            _("all started in {seconds:.2f} s", seconds=start_seconds),
            _("growth, last tenth over first: {growth}x", growth=growth),
        ],
        [
            _("memory each: {size} (MemAvailable before and after)", size=format_bytes(per_container)),
            _("of which its cgroup is charged: {size}", size=format_bytes(usage // count)),
        ],
        host_title=_("time taken"),
        inside_title=_("memory"),
    )
    narrator.explain(
        _(
            "Each is a process in five new namespaces (pid, mnt, uts, ipc, net), in a memory cgroup of its own with "
            "a limit, on an overlay of the busybox image, with a veth on one bridge. Left out, as simplifications: "
            "capabilities, seccomp, /proc and pivot_root (chroot here), which a real runtime adds."
        )
    )

    narrator.step(
        _("Checking every container: a ping to its address, its PID 1 in its cgroup"),
        syscalls=["socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)", "read(cgroup.procs)"],
        shell=[f"ping -c 1 {addresses[0]}", "grep -x PID .../c00000/cgroup.procs"],
    )
    answered = checks.ping_all(addresses)
    in_cgroup = sum(
        checks.pid1_in_cgroup(os.path.join(parent.path, f"c{index:05d}", "cgroup.procs"), pid)
        for index, pid in pids.items()
    )
    narrator.check(
        "pings_answered", len(answered), _("every container answers a ping"), len(answered) == count, show=True
    )
    narrator.check(
        "pid1_in_cgroup", in_cgroup, _("every container's PID 1 is in its cgroup"), in_cgroup == count, show=True
    )

    narrator.step(
        _("Tearing all {n} down", n=count),
        syscalls=["kill(SIGKILL)", "waitpid(2)", "rmdir(2)"],
        shell=["kill -9 PIDS", f"ip link delete isodemo-{rid}s"],
    )
    begin = time.monotonic()
    zyg.stop()
    deadline = time.monotonic() + STOP_TIMEOUT
    while host.bridge_ports(bridge.name) and time.monotonic() < deadline:
        time.sleep(0.002)  # the kernel deletes each veth pair with its namespace, in a work queue
    parent.remove()
    from isodemo.container import overlay

    overlay.remove(base)
    bridge.remove()
    teardown = narrator.fact("teardown_seconds", round(time.monotonic() - begin, 3))
    left = [str(item) for item in leftovers.find({rid}, include_records=False)]
    narrator.check("leftovers", left, _("nothing is left: no link, cgroup, directory or process"), not left, show=True)
    narrator.note(_("torn down in {seconds:.2f} s", seconds=teardown))
    narrator.kubernetes(
        _(
            "A node runs at most 110 Pods by default (kubelet's maxPods): not because containers are expensive, "
            "as this shows, but for the control plane's sake and the node's IP addresses."
        )
    )
