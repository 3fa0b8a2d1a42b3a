"""cgroup-cpu: a CPU quota (limits.cpu) and CPU weights (requests.cpu), measured.

What you will see: a busy loop in a cgroup with a quota of 20 % of one CPU (cpu.max on v2,
cpu.cfs_quota_us on v1) and a live meter of the CPU share it really gets, read from the cgroup's own usage
counter; the throttling counters in cpu.stat; then two busy cgroups pinned to the same CPU, sharing it
in proportion to their weights (WEIGHTS: 100 and 300, so about 25 / 75).
Kubernetes: limits.cpu becomes the quota, requests.cpu the weight, with the kubelet's formulas.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable

from isodemo.cgroups import Cgroup
from isodemo.context import DemoContext
from isodemo.i18n import _, ngettext
from isodemo.inside import workloads
from isodemo.isolated import Isolated
from isodemo.narrate.base import Narrator

PERIOD_US = 100_000
DEFAULT_CPUS = 0.2
SAMPLE_S = 0.25
SAMPLES = 16  # 4 s: 40 CFS periods
WEIGHTS = {"a": 100, "b": 300}


def _share(cgroup: Cgroup, seconds: float) -> float:
    start_usage, start = cgroup.cpu_usage_usec(), time.monotonic()
    time.sleep(seconds)
    return (cgroup.cpu_usage_usec() - start_usage) / ((time.monotonic() - start) * 1e6)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    cpus = float(ctx.options.get("cpus") or DEFAULT_CPUS)
    cgroup = _quota(narrator, ctx, cpus)
    box = _busy_loop(narrator, ctx, cgroup, cpus)
    groups = _weights(narrator, ctx, WEIGHTS)
    ctx.hold_here(
        narrator, {"box": box.pid}, cgroups=[*cgroup.paths, *(path for g in groups.values() for path in g.paths)]
    )
    narrator.kubernetes(
        _(
            "limits.cpu becomes the quota: quota = milliCPU x 100000 / 1000 per 100000 us period, so 500m is "
            'cpu.max "50000 100000"; a container over it is throttled, not killed. requests.cpu becomes the '
            "weight: shares = milliCPU x 1024 / 1000 (cpu.shares on v1), converted for v2 as "
            "cpu.weight = 1 + ((shares - 2) x 9999) / 262142, so 1 CPU (1024 shares) is weight 39; newer runc "
            "and crun use a logarithmic conversion instead, which maps 1024 shares to weight 100. Weights only "
            "decide who runs when the node's CPUs are busy; the HorizontalPodAutoscaler reads the same usage "
            "counter (cpu.stat usage_usec) to compute utilisation."
        )
    )


def _quota(narrator: Narrator, ctx: DemoContext, cpus: float) -> Cgroup:
    quota = round(cpus * PERIOD_US)
    narrator.step(
        _("A quota of {cpus} CPU", cpus=format(cpus, "g")),
        syscalls=["mkdir(cgroup directory, 0777)", f'write(quota file, "{quota} {PERIOD_US}")'],
    )
    cgroup = ctx.cgroup("cpu", ["cpu"])
    narrator.shell(*cgroup.setup_commands)
    narrator.shell(*(w.shell for w in cgroup.set_cpu_quota(quota, PERIOD_US)))
    narrator.explain(
        _(
            "Every {period} ms period, the cgroup may run {quota} ms of CPU time in "
            "all; when it has used its quota, its tasks are throttled (not scheduled) until the next "
            "period. That is the CFS bandwidth controller.",
            period=PERIOD_US // 1000,
            quota=quota // 1000,
        )
    )
    narrator.fact("cgroup_version", cgroup.version)
    narrator.fact("cgroup_path", cgroup.path)
    narrator.fact("quota_percent", round(100 * quota / PERIOD_US, 1))
    return cgroup


def _busy_loop(narrator: Narrator, ctx: DemoContext, cgroup: Cgroup, cpus: float) -> Isolated:
    quota_percent = round(100 * cpus, 1)
    narrator.step(
        _("A busy loop inside, measured"),
        syscalls=["clone(SIGCHLD)  (fork)", 'write(cgroup.procs, "PID")'],
    )
    box = ctx.isolated([])
    narrator.shell(*(w.shell for w in cgroup.add(box.pid)))
    usage_file = cgroup.cpu_usage_file
    narrator.shell("sh -c 'while :; do :; done' &   # from a shell in the cgroup", f"cat {usage_file}")
    # One busy loop per CPU of quota, and one more, so that the quota, not the loops, is what limits.
    loops = min(math.ceil(cpus) + 1, (os.cpu_count() or 1) + 1)
    burners = [box.call(workloads.start_burner, None) for _loop in range(loops)]
    readings = []
    label = _("CPU from {file}", file=os.path.basename(usage_file))
    with narrator.meter(label, 100.0 * max(1, math.ceil(cpus)), lambda v: f"{v:.1f}%") as meter:
        for _sample in range(SAMPLES):
            share = 100 * _share(cgroup, SAMPLE_S)
            readings.append(share)
            meter.update(share, _("limit {percent}%", percent=format(quota_percent, "g")))
    for burner in burners:
        box.call(workloads.stop, burner)
    measured = round(sum(readings[1:]) / len(readings[1:]), 1)
    stat = cgroup.cpu_stat()
    throttled = stat.get("nr_throttled", 0)
    narrator.fact("nr_periods", stat.get("nr_periods", 0))
    narrator.compare(
        os.path.join(cgroup.path, "cpu.stat"),
        [f"nr_periods {stat.get('nr_periods', 0)}", f"nr_throttled {throttled}"],
        [_("measured {measured}% for a quota of {quota}%", measured=measured, quota=format(quota_percent, "g"))],
        host_title=_("the kernel's counters"),
        inside_title=_("measured"),
    )
    narrator.check(
        "measured_percent",
        measured,
        _(
            "the loop got {measured}% of a CPU, within 2 points of the {quota}% quota",
            measured=measured,
            quota=format(quota_percent, "g"),
        ),
        abs(measured - quota_percent) <= 2,
        show=True,
    )
    narrator.check(
        "nr_throttled",
        throttled,
        _("cpu.stat shows throttled periods: nr_throttled {throttled}", throttled=throttled),
        throttled > 0,
    )
    return box


def _weights(narrator: Narrator, ctx: DemoContext, weights: dict[str, int]) -> dict[str, Cgroup]:
    cpu = sorted(os.sched_getaffinity(0))[0]
    narrator.step(
        ngettext(
            "{n} busy cgroup on CPU {cpu}, weight {weights}",
            "{n} busy cgroups on CPU {cpu}, weights {weights}",
            len(weights),
            cpu=cpu,
            weights=_listed(weights.values()),
        ),
        syscalls=[f"sched_setaffinity(0, ..., {{{cpu}}})", 'write(weight file, "WEIGHT")'],
    )
    narrator.explain(
        _(
            "A weight only matters when CPUs are contended: the loops are all pinned to the same CPU. "
            "The CPU is then shared in proportion to the weights, {ratio}.",
            ratio=" : ".join(map(str, weights.values())),
        )
    )
    groups, pinned, writes = {}, [], []
    for name, weight in weights.items():
        group = ctx.cgroup(f"cpu-{name}", ["cpu"])
        write = group.set_cpu_weight(weight)
        writes.append(f"{write.file} {write.value}")
        narrator.shell(*group.setup_commands, write.shell)
        child = ctx.isolated([])
        narrator.shell(*(w.shell for w in group.add(child.pid)))
        pinned.append((child, child.call(workloads.start_burner, cpu)))
        groups[name] = group
    narrator.explain(
        _("Written: {writes}. {note}.", writes=", ".join(writes), note=_(next(iter(groups.values())).weight_note))
    )
    time.sleep(SAMPLE_S)  # let both settle on the CPU before measuring
    starts = {name: g.cpu_usage_usec() for name, g in groups.items()}
    time.sleep(SAMPLES * SAMPLE_S)
    used = {name: g.cpu_usage_usec() - starts[name] for name, g in groups.items()}
    for child, burner in pinned:  # measured: free the CPU (a --hold must not keep it busy)
        child.call(workloads.stop, burner)
    total = sum(used.values()) or 1
    shares = {name: round(value / total, 3) for name, value in used.items()}
    narrator.fact("weights", dict(weights))
    narrator.compare(
        _("share of the CPU"),
        [_("{name}: weight {weight}", name=n, weight=w) for n, w in weights.items()],
        [f"{n}: {100 * s:.1f}%" for n, s in shares.items()],
        host_title=_("weights"),
        inside_title=_("measured"),
    )
    shares_as_weighted(narrator, shares, weights)
    return groups


def shares_as_weighted(narrator: Narrator, shares: dict[str, float], weights: dict[str, int]) -> bool:
    """Claim that the measured shares are the weights' proportions, each within 5 points."""
    total = sum(weights.values())
    expected = {n: w / total for n, w in weights.items()}
    return narrator.check(
        "weight_shares_measured",
        shares,
        _(
            "the CPU was shared about {expected}, as the weights say: measured {measured}",
            expected=" / ".join(f"{100 * e:.0f}" for e in expected.values()),
            measured=" / ".join(f"{100 * shares.get(n, 0):.0f}" for n in weights),
        ),
        all(abs(shares.get(n, 0.0) - expected[n]) <= 0.05 for n in weights),
        show=True,
    )


def _listed(values: Iterable[object]) -> str:
    """1, 2 and 3 (in Korean: 1, 2, 3)."""
    items = [str(v) for v in values]
    return _("{items} and {last}", items=", ".join(items[:-1]), last=items[-1]) if len(items) > 1 else "".join(items)
