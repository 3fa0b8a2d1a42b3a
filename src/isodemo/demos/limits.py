"""limits: a Pod's resources turned into its QoS class, the kubelet's cgroups and oom_score_adj, observed.

What you will see: the QoS class of a Pod (isodemo's default three-container Pod, or yours with -f) and the
rule that decided it; for the node, the QoS level, the Pod and each container the cgroup files and values the
kubelet and the runtime write, on both cgroup versions (this machine's marked); those cgroups created for
real in the kubelet's cgroupfs layout (kubepods/burstable/pod<uid>/<container id>) and read back from the
kernel; each container's oom_score_adj. Then three behaviours: a CPU-limited container is throttled while a
request-only one is not; two busy containers on one CPU share it by their weights; and under memory pressure
inside kubepods' shared limit the OOM killer picks the BestEffort container and spares the Guaranteed one.
Kubernetes: resources.requests and resources.limits, QoS classes, OOMKilled. shared/design/k8s-reference.md
section 2 has the sources; docs/limits.md the simplifications.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from isodemo.cgroups import Cgroup
from isodemo.context import DemoContext
from isodemo.demos import common
from isodemo.i18n import _
from isodemo.inside import workloads
from isodemo.isolated import ChildGone, Isolated
from isodemo.kube import cgroup_values as cv
from isodemo.kube import layout, manifest, qos
from isodemo.kube.manifest import Container, Pod
from isodemo.kube.quantity import format_memory, format_millicores
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes

CONTROLLERS = ("cpu", "memory")
# kubepods' memory limit: on a node it is the allocatable memory (capacity minus kube-reserved,
# system-reserved and the eviction threshold); here a small stand-in, so that pressure comes in a second.
NODE_MEMORY = 160 << 20
GUARANTEED_HOLDS = 104 << 20  # what the Guaranteed container allocates, under its own 128Mi limit
ALLOCATE_STEP = 8 << 20
THROTTLE_SECONDS = 1.5
SHARE_SECONDS = 3.0
SETTLE_SECONDS = 0.25
PAGE = 4096


def default_pod(
    api_cpu: str = "500m", api_memory: str = "64Mi", batch_cpu: str = "750m", cache_cpu: str = "250m"
) -> Pod:
    """The default Pod: `api` with equal requests and limits (cpu limited), `batch` and `cache` with cpu
    requests only. Together: Burstable."""
    import uuid

    return Pod(
        "web",
        str(uuid.uuid4()),
        [
            manifest.container("api", {"cpu": api_cpu, "memory": api_memory}, {"cpu": api_cpu, "memory": api_memory}),
            manifest.container("batch", {"cpu": batch_cpu, "memory": "32Mi"}),
            manifest.container("cache", {"cpu": cache_cpu}),
        ],
    )


@dataclass
class Made:
    """One cgroup of the layout, made: its layout name, the cgroup, and what was written to it."""

    name: str
    cgroup: Cgroup
    written: dict[str, str | None] = field(default_factory=dict)  # file path -> value (None: not written)


@dataclass
class Running:
    container: Container
    made: Made
    box: Isolated


def run(narrator: Narrator, ctx: DemoContext) -> None:
    pod: Pod = ctx.options.get("filename") or default_pod(
        **{k: ctx.options[k] for k in ("api_cpu", "api_memory", "batch_cpu", "cache_cpu") if ctx.options.get(k)}
    )
    formula = str(ctx.options.get("cpu_weight_formula") or "new")
    version = 2 if ctx.host.cgroup_mode == "v2" else 1
    qos_class = _qos(narrator, pod)
    plan = _plan(narrator, pod, qos_class, version, formula)
    made = _create(narrator, ctx, pod=pod, qos_class=qos_class, plan=plan, version=version)
    running = _start(narrator, ctx, pod, qos_class, made)
    _throttling(narrator, running)
    _sharing(narrator, running, version)
    oom_pids = _oom(narrator, ctx, made, version, formula=formula, running=running)
    ctx.hold_here(
        narrator,
        {**{r.container.name: r.box.pid for r in running}, **oom_pids},
        [f"cat /proc/{r.box.pid}/oom_score_adj" for r in running[:1]],
        cgroups=made[layout.KUBEPODS].cgroup.paths,
    )
    narrator.kubernetes(
        _(
            "A Pod's resources become three things. The QoS class (Guaranteed, Burstable, BestEffort) decides "
            "where its cgroup sits under kubepods and its containers' oom_score_adj, so under memory pressure "
            "BestEffort goes first and Guaranteed last. requests.cpu becomes cpu.shares (v1) or cpu.weight (v2): "
            "a share of contended CPU, never a cap. limits.cpu becomes a CFS quota: the container is throttled, "
            "not killed. limits.memory becomes memory.limit_in_bytes or memory.max: over it, the OOM killer ends "
            "the container (OOMKilled, exit code 137). requests.memory is read by the scheduler and by eviction's "
            "ranking, and sets the oom_score_adj of a Burstable container (and memory.min on v2 with the MemoryQoS "
            "feature, not shown here)."
        )
    )


# -- the class ---------------------------------------------------------------------------------------------


def _qos(narrator: Narrator, pod: Pod) -> str:
    narrator.step(_("The Pod {name} and its QoS class", name=pod.name))
    rows = []
    for kind_label, containers in ((_("init"), pod.init_containers), ("", pod.containers)):
        for c in containers:
            rows.append(
                [
                    f"{c.name} {kind_label}".strip(),
                    _shown(c, "requests", "cpu"),
                    _shown(c, "limits", "cpu"),
                    _shown(c, "requests", "memory"),
                    _shown(c, "limits", "memory"),
                ]
            )
    narrator.table(
        _("spec.containers[*].resources"),
        [_("container"), "requests.cpu", "limits.cpu", "requests.memory", "limits.memory"],
        rows,
    )
    qos_class, rule = qos.pod_qos(pod)
    narrator.explain(
        _(
            "The kubelet's rule (ComputePodQOS): only cpu and memory count. No request and no limit anywhere: "
            "BestEffort. Every container with cpu and memory limits equal to its requests: Guaranteed. Anything "
            "else: Burstable. A request left out defaults to the limit. Here: {rule}.",
            rule=rule,
        )
    )
    if pod.init_containers:
        narrator.explain(_("Init containers count for the class; isodemo does not run them."))
    narrator.fact("qos_class", qos_class)
    return qos_class


def _shown(container: Container, kind: str, resource: str) -> str:
    value = getattr(container, kind).get(resource)
    if value is None:
        return "-"
    text = container.quantity_text(kind, resource)
    exact = format_millicores(value) if resource == "cpu" else format_memory(value)
    return text if text == exact else f"{text} = {exact}"


# -- the files ---------------------------------------------------------------------------------------------


def _node_milli() -> int:
    return 1000 * len(os.sched_getaffinity(0))


def _plan(
    narrator: Narrator, pod: Pod, qos_class: str, version: int, formula: str
) -> list[tuple[str, list[cv.FileValue]]]:
    """(layout name, values) from kubepods down to each container, in the order they are made."""
    narrator.step(
        _("The files the kubelet and the runtime write"),
    )
    plan: list[tuple[str, list[cv.FileValue]]] = [(layout.KUBEPODS, cv.node_values(_node_milli(), NODE_MEMORY))]
    if qos_class != qos.GUARANTEED:
        burstable = cv.pod_requests(pod, "cpu") if qos_class == qos.BURSTABLE else 0
        plan.append((layout.qos_dir(qos_class), cv.qos_values(qos_class, burstable)))
    plan.append((layout.pod_dir(qos_class, pod.uid), cv.pod_values(pod, qos_class)))
    for c in pod.containers:
        plan.append((f"{layout.pod_dir(qos_class, pod.uid)}/{c.name}", cv.container_values(c, formula)))
    mark = _(" (this machine)")
    rows = []
    for name, values in plan:
        for value in values:
            rows.append(
                [
                    _short(name),
                    value.v1_file or "-",
                    "-" if value.v1_value is None else value.v1_value,
                    value.v2_file or "-",
                    "-" if value.v2_value is None else value.v2_value,
                ]
            )
    v1, v2 = "cgroup v1" + (mark if version == 1 else ""), "cgroup v2" + (mark if version == 2 else "")
    narrator.table(
        _("cgroup files, by who writes them"),
        [_("cgroup"), v1, _("value"), v2, _("value")],
        rows,
    )
    narrator.explain(
        _(
            "The kubelet (pkg/kubelet/cm/helpers_linux.go): shares = milliCPU x 1024 / 1000, at least 2 (no "
            "request: 2); quota = milliCPU x 100000 / 1000 per 100000 us period, at least 1000. A Pod's cgroup gets "
            "the sum of its containers' requests as shares, a quota only if every container has a cpu limit, a "
            "memory limit only if every container has one; kubepods/besteffort gets 2 shares, kubepods/burstable "
            "the sum of its Pods' requests; Guaranteed Pods sit directly under kubepods. On v2 the kubelet turns "
            "its own shares into cpu.weight linearly: 1 + (shares - 2) x 9999 / 262142."
        )
    )
    narrator.explain(
        _(
            "A container's values go through the runtime (containerd, then runc or crun), which converts shares "
            "to cpu.weight on v2 itself. runc up to 1.3.1 and older crun use the same line (1024 shares: 39); "
            "runc 1.3.2 and later, 1.4, and crun 1.23 and later use a log-scale curve that maps 1024 shares to "
            "100, the v2 default (1 CPU requested gets the default weight). isodemo writes the {formula} one "
            '(--cpu-weight-formula). With no cpu limit the runtime writes the period only (cpu.max "max '
            '100000"). On v2 the kubelet also sets memory.oom.group = 1: an OOM kill takes the whole container.',
            formula=_("new") if formula == "new" else _("old"),
        )
    )
    for name, values in plan[-len(pod.containers) :]:
        for value in values:
            if value.v1_file == "cpu.shares":
                narrator.explain(f"{name.rsplit('/', 1)[-1]}: {value.how}")
    narrator.explain(
        _(
            "isodemo names the container cgroups <pod>/<container id> as containerd does (64 hex digits; the "
            "table says the container's name). With the systemd cgroup driver the same Pod would be {slice} and "
            "a container {scope}.",
            slice=layout.systemd_pod_slice(qos_class, pod.uid),
            scope="cri-containerd-<id>.scope",
        )
    )
    return plan


def _short(name: str) -> str:
    """kubepods/burstable/pod<uid>/api -> .../pod<first 8 of uid>/api, for a table that fits."""
    parts = [p[:11] + "..." if p.startswith("pod") and len(p) > 14 else p for p in name.split("/")]
    return "/".join(parts)


def _create(
    narrator: Narrator,
    ctx: DemoContext,
    *,
    pod: Pod,
    qos_class: str,
    plan: list[tuple[str, list[cv.FileValue]]],
    version: int,
) -> dict[str, Made]:
    narrator.step(
        _("Created for real, and read back from the kernel"),
        syscalls=["mkdir(CGROUP, 0755)", 'write(cgroup.subtree_control, "+cpu +memory")  (v2)', "write(FILE)"],
    )
    top = ctx.cgroup("kubepods", CONTROLLERS)
    narrator.shell(*top.setup_commands)
    made: dict[str, Made] = {layout.KUBEPODS: Made(layout.KUBEPODS, top)}
    swap = top.disable_swap()
    if swap:
        narrator.shell(swap.shell)
    _write(narrator, made[layout.KUBEPODS], plan[0][1], version)
    ids = {f"{layout.pod_dir(qos_class, pod.uid)}/{c.name}": layout.container_id() for c in pod.containers}
    _make(narrator, ctx, made=made, plan=plan[1:], ids=ids, version=version)
    _read_back(narrator, made.values())
    narrator.explain(
        _(
            "isodemo's kubepods is {path}: under isodemo's own cgroup, not the node's. Its memory limit, {limit}, "
            "stands in for the node's allocatable memory; swap is off for it, as the kubelet expects.",
            path=top.path,
            limit=format_bytes(NODE_MEMORY),
        )
    )
    return made


def _make(
    narrator: Narrator,
    ctx: DemoContext,
    *,
    made: dict[str, Made],
    plan: list[tuple[str, list[cv.FileValue]]],
    ids: dict[str, str],
    version: int,
) -> None:
    """Make each cgroup of the plan inside its parent (already made), named by its layout name's last part
    or, for a container, by its id; then write its values."""
    for name, values in plan:
        parent_name, leaf = name.rsplit("/", 1)
        cgroup = ctx.own(made[parent_name].cgroup.child(ids.get(name, leaf)))
        narrator.shell(*cgroup.setup_commands)
        made[name] = Made(name, cgroup)
        _write(narrator, made[name], values, version)


def _write(narrator: Narrator, made: Made, values: list[cv.FileValue], version: int) -> None:
    for value in values:
        filename, text = value.file(version), value.value(version)
        if not filename:
            continue
        path = made.cgroup.file_path(filename, cv.controller_of(filename))
        if text is None:
            made.written[path] = None
            continue
        write = made.cgroup.write(filename, text, cv.controller_of(filename))
        made.written[path] = text
        narrator.shell(write.shell)


def _read_back(narrator: Narrator, made: Iterable[Made]) -> None:
    rows, files, good = [], {}, True
    for item in made:
        for path, written in item.written.items():
            read = common.read_or_reason(path)
            files[path] = {"written": written, "read": read}
            ok = _same(written, read, path)
            good = good and ok
            rows.append([_short(item.name), os.path.basename(path), "-" if written is None else written, read])
    narrator.table(_("read back from the kernel"), [_("cgroup"), _("file"), _("written"), _("read back")], rows)
    narrator.fact("cgroup_files", files, show=False)
    narrator.claim(
        _("the kernel holds every value as written (memory limits rounded down to whole pages at most)"), good
    )


def _same(written: str | None, read: str, path: str) -> bool:
    if written is None:  # not written: the kernel's default, whatever it is, is the right value
        return True
    if read == written:
        return True
    if os.path.basename(path) in ("memory.max", "memory.limit_in_bytes") and read.isdigit() and written.isdigit():
        return int(read) == int(written) // PAGE * PAGE
    return False


# -- processes and oom_score_adj ------------------------------------------------------------------------


def _memory_capacity() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 1


def _start(narrator: Narrator, ctx: DemoContext, pod: Pod, qos_class: str, made: dict[str, Made]) -> list[Running]:
    narrator.step(
        _("A process in each container, and its oom_score_adj"),
        syscalls=["clone(SIGCHLD)  (fork)", 'write(cgroup.procs, "PID")', 'write(/proc/PID/oom_score_adj, "ADJ")'],
    )
    capacity = _memory_capacity()
    running, adjs = [], {}
    for c in pod.containers:
        item = made[f"{layout.pod_dir(qos_class, pod.uid)}/{c.name}"]
        box = ctx.isolated([])
        narrator.shell(*(w.shell for w in item.cgroup.add(box.pid)))
        adj = qos.oom_score_adj(qos_class, c.requests.get("memory", 0), capacity)
        adjs[c.name] = common.write_oom_score_adj(narrator, box.pid, adj)
        running.append(Running(c, item, box))
    narrator.explain(
        _(
            "The kubelet's policy (pkg/kubelet/qos/policy.go): Guaranteed -997, BestEffort 1000, Burstable "
            "1000 - 1000 x requests.memory / the node's memory capacity, kept within 3..999. The capacity here is "
            "this machine's MemTotal, {capacity}. The kernel adds oom_score_adj / 1000 of the memory to a "
            "process's badness when it picks whom to kill.",
            capacity=format_bytes(capacity),
        )
    )
    narrator.explain(
        _(
            "Simplification: each container is one plain process moved into its cgroup; the pod demo shows the "
            "namespaces a real container also gets, and the pause container (oom_score_adj -998, 2 shares) that "
            "isodemo leaves out here."
        )
    )
    narrator.fact("oom_score_adj", adjs)
    return running


# -- behaviours ----------------------------------------------------------------------------------------------


def _throttling(narrator: Narrator, running: list[Running]) -> None:
    limited = next((r for r in running if r.container.limits.get("cpu")), None)
    request_only = next((r for r in running if not r.container.limits.get("cpu")), None)
    narrator.step(_("A CPU limit throttles; a request does not"))
    if limited is None or request_only is None:
        narrator.explain(
            _("This Pod needs a container with a cpu limit and one without to show this; it has not both.")
        )
        return
    narrator.explain(
        _(
            "{limited} (limits.cpu {limit}) and then {other} (no cpu limit) run a busy loop for {seconds} s each, "
            "alone, on any CPU. The first may use {limit} per 100 ms period and is then held back (throttled) "
            "until the next; the second has no quota at all. cpu.stat counts the throttled periods.",
            limited=limited.container.name,
            limit=format_millicores(limited.container.limits["cpu"]),
            other=request_only.container.name,
            seconds=format(THROTTLE_SECONDS, "g"),
        )
    )
    pair = [limited, request_only]
    # One after the other: together, on a machine with one CPU, their weights would give the limited one less
    # than its quota, and a quota that is never reached never throttles.
    used = [_busy_share(r) for r in pair]
    stats = [r.made.cgroup.cpu_stat() for r in pair]
    narrator.shell(*(f"cat {r.made.cgroup.file_path('cpu.stat', 'cpu')}" for r in pair))
    narrator.table(
        "cpu.stat",
        [_("container"), "nr_periods", "nr_throttled", _("CPU used")],
        [
            [r.container.name, str(s.get("nr_periods", 0)), str(s.get("nr_throttled", 0)), f"{100 * u:.0f}%"]
            for r, s, u in zip(pair, stats, used, strict=True)
        ],
    )
    throttled, free = stats[0].get("nr_throttled", 0), stats[1].get("nr_throttled", 0)
    narrator.check(
        "throttled_limited",
        throttled,
        _("{name} was throttled in {n} periods", name=limited.container.name, n=throttled),
        throttled > 0,
        show=True,
    )
    narrator.check(
        "throttled_request_only",
        free,
        _(
            "{name}, with a request only, was never throttled: nr_throttled {n}",
            name=request_only.container.name,
            n=free,
        ),
        free == 0,
        show=True,
    )


def _busy_share(running: Running) -> float:
    """A busy loop in the container for THROTTLE_SECONDS: the CPU it got, as a fraction of one CPU."""
    burner = running.box.call(workloads.start_burner, None)
    before = running.made.cgroup.cpu_usage_usec()
    time.sleep(THROTTLE_SECONDS)
    used = (running.made.cgroup.cpu_usage_usec() - before) / (THROTTLE_SECONDS * 1e6)
    running.box.call(workloads.stop, burner)
    return used


def _sharing(narrator: Narrator, running: list[Running], version: int) -> None:
    pair = [r for r in running if not r.container.limits.get("cpu")][:2]
    cpu = sorted(os.sched_getaffinity(0))[0]
    narrator.step(
        _("Two busy containers on one CPU share it by their requests"),
        syscalls=[f"sched_setaffinity(0, ..., {{{cpu}}})"],
    )
    if len(pair) < 2:
        narrator.explain(_("This Pod needs two containers without a cpu limit to show this; it has fewer."))
        return
    weight_file = "cpu.weight" if version == 2 else "cpu.shares"
    weights = {r.container.name: int(common.read_or_reason(r.made.cgroup.file_path(weight_file, "cpu"))) for r in pair}
    total = sum(weights.values())
    expected = {name: w / total for name, w in weights.items()}
    narrator.explain(
        _(
            "{a} and {b} each run a busy loop pinned to CPU {cpu}, so they contend. The kernel shares the CPU "
            "between sibling cgroups in proportion to their {file}: {weights}, so {expected}. On v1 (and with the "
            "old v2 formula) that is the ratio of the requests; the new v2 formula bends it.",
            a=pair[0].container.name,
            b=pair[1].container.name,
            cpu=cpu,
            file=weight_file,
            weights=" : ".join(map(str, weights.values())),
            expected=" / ".join(f"{100 * e:.0f}%" for e in expected.values()),
        )
    )
    burners = [(r, r.box.call(workloads.start_burner, cpu)) for r in pair]
    time.sleep(SETTLE_SECONDS)
    before = {r.container.name: r.made.cgroup.cpu_usage_usec() for r in pair}
    time.sleep(SHARE_SECONDS)
    used = {r.container.name: r.made.cgroup.cpu_usage_usec() - before[r.container.name] for r in pair}
    for r, burner in burners:
        r.box.call(workloads.stop, burner)
    all_used = sum(used.values()) or 1
    shares = {name: round(u / all_used, 3) for name, u in used.items()}
    narrator.compare(
        _("share of CPU {cpu}", cpu=cpu),
        [f"{n}: {weight_file} {w}" for n, w in weights.items()],
        [f"{n}: {100 * s:.1f}%" for n, s in shares.items()],
        host_title=_("weights"),
        inside_title=_("measured"),
    )
    narrator.check(
        "cpu_share_measured",
        shares,
        _(
            "the CPU was shared about {expected}, as the weights say: measured {measured}",
            expected=" / ".join(f"{100 * e:.0f}" for e in expected.values()),
            measured=" / ".join(f"{100 * s:.0f}" for s in shares.values()),
        ),
        all(abs(shares[n] - expected[n]) <= 0.05 for n in weights),
        show=True,
    )


def _oom(
    narrator: Narrator, ctx: DemoContext, made: dict[str, Made], version: int, *, formula: str, running: list[Running]
) -> dict[str, int]:
    narrator.step(
        _("Memory pressure in kubepods: the OOM killer picks BestEffort"),
        syscalls=["mmap(NULL, SIZE, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)  (then page faults)"],
    )
    guaranteed = Pod(
        "db", _uid(), [manifest.container("db", {"cpu": "100m", "memory": "128Mi"}, {"cpu": "100m", "memory": "128Mi"})]
    )
    best_effort = Pod("scratch", _uid(), [manifest.container("scratch")])
    narrator.explain(
        _(
            "Two more Pods join kubepods, whose {limit} all Pods share: db, Guaranteed (128Mi requested and "
            "limited), and scratch, BestEffort (nothing). db takes {holds}, more than scratch will hold; then "
            "scratch allocates {step} at a time until kubepods is full. Without oom_score_adj the kernel would "
            "kill the biggest process, db; with -997 against 1000 it kills scratch.",
            limit=format_bytes(NODE_MEMORY),
            holds=format_bytes(GUARANTEED_HOLDS),
            step=format_bytes(ALLOCATE_STEP),
        )
    )
    boxes, adjs = {}, {}
    for pod in (guaranteed, best_effort):
        qos_class, _rule = qos.pod_qos(pod)
        plan: list[tuple[str, list[cv.FileValue]]] = []
        if qos_class != qos.GUARANTEED and layout.qos_dir(qos_class) not in made:
            plan.append((layout.qos_dir(qos_class), cv.qos_values(qos_class, 0)))
        plan.append((layout.pod_dir(qos_class, pod.uid), cv.pod_values(pod, qos_class)))
        container = pod.containers[0]
        plan.append((f"{layout.pod_dir(qos_class, pod.uid)}/{container.name}", cv.container_values(container, formula)))
        _make(narrator, ctx, made=made, plan=plan, ids={plan[-1][0]: layout.container_id()}, version=version)
        box = ctx.isolated([])
        cgroup = made[plan[-1][0]].cgroup
        narrator.shell(*(w.shell for w in cgroup.add(box.pid)))
        adjs[pod.name] = common.write_oom_score_adj(narrator, box.pid, qos.oom_score_adj(qos_class, 0, 1))
        boxes[qos_class] = (box, cgroup)
    db, _db_cgroup = boxes[qos.GUARANTEED]
    scratch, scratch_cgroup = boxes[qos.BEST_EFFORT]
    held = 0
    while held < GUARANTEED_HOLDS:
        held = db.call(workloads.allocate, ALLOCATE_STEP)
    kubepods = made[layout.KUBEPODS].cgroup
    scores = {
        "db": int(common.read_or_reason(f"/proc/{db.pid}/oom_score")),
        "scratch": int(common.read_or_reason(f"/proc/{scratch.pid}/oom_score")),
    }
    scratch_held = 0
    with narrator.meter(os.path.basename(kubepods.memory_usage_file), NODE_MEMORY, format_bytes) as meter:
        for _attempt in range(4 * NODE_MEMORY // ALLOCATE_STEP):
            try:
                scratch_held = scratch.call(workloads.allocate, ALLOCATE_STEP)
            except ChildGone:
                break
            meter.update(kubepods.memory_current(), _("scratch holds {size}", size=format_bytes(scratch_held)))
    narrator.shell(
        f"cat /proc/{db.pid}/oom_score", f"cat {scratch_cgroup.file_path(scratch_cgroup.oom_kills()[1], 'memory')}"
    )
    narrator.table(
        _("oom_score read before scratch allocated"),
        [_("container"), "QoS", "oom_score_adj", "oom_score", _("memory held")],
        [
            ["db", qos.GUARANTEED, str(adjs["db"]), str(scores["db"]), format_bytes(held)],
            [
                "scratch",
                qos.BEST_EFFORT,
                str(adjs["scratch"]),
                str(scores["scratch"]),
                format_bytes(scratch_held),
            ],
        ],
    )
    db_alive = db.alive and _alive(db)
    scratch_dead = not scratch.alive or scratch.exit_status is not None
    kills, source = scratch_cgroup.oom_kills()
    victim = qos.BEST_EFFORT if scratch_dead and db_alive else (qos.GUARANTEED if not db_alive else "")
    narrator.fact("oom_kill_events", kills)
    narrator.check(
        "first_oom_victim_qos",
        victim,
        _(
            "the OOM killer chose scratch (BestEffort, exit status {status}) and spared db (Guaranteed), which "
            "held more memory",
            status=scratch.exit_status,
        ),
        victim == qos.BEST_EFFORT and scratch.exit_status == 137,
        show=True,
    )
    narrator.claim(_("{source} of scratch counts the kill: oom_kill {n}", source=source, n=kills), kills >= 1)
    if running:
        narrator.claim(
            _(
                "the first Pod's containers ({names}), with a lower oom_score_adj than scratch, were spared too",
                names=", ".join(r.container.name for r in running),
            ),
            all(_alive(r.box) for r in running),
        )
    return {"db": db.pid}


def _alive(box: Isolated) -> bool:
    try:
        box.call(os.getpid)
    except ChildGone:
        return False
    return True


def _uid() -> str:
    import uuid

    return str(uuid.uuid4())
