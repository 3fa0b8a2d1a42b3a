"""pod: a Pod made the way kubelet, containerd and runc make one: a sandbox, then containers that join it.

What you will see: a network namespace made first and pinned, wired to a bridge with a veth (the CNI bridge
plugin's job); the pause process, PID 1 of the pod's pid namespace, holding ipc, uts (and mnt, pid) of its
own; two busybox containers built by `isodemo run`'s runtime that open /proc/<pause>/ns/{ipc,uts,net}, setns
into them in runc's order and unshare their own mnt and pid. Then, observed: the same net, ipc and uts inodes
for both, different mnt and pid; one IP; HTTP over 127.0.0.1 from one container to the other; one hostname; a
SysV queue and a /dev/shm file shared; each `ps` showing only its own container (with --share-processes: one
pid namespace whose PID 1 is pause, which reaps an orphan); container b killed and restarted into the same
namespaces with the same IP; pause stopped, and the whole pod gone.
Kubernetes: the Pod, its pause ("infra") container, shareProcessNamespace, container restarts.

The objects are the pod package's (sandbox, pause, containers, enter); this module asks for them and tells.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from typing import Any

from isodemo.context import DemoContext
from isodemo.demos import common
from isodemo.i18n import _
from isodemo.kernel import namespaces as kns
from isodemo.kernel import procfs
from isodemo.kube import layout, manifest, qos
from isodemo.narrate.base import Narrator
from isodemo.pod import containers, enter, parsing, sandbox
from isodemo.pod.cgroups import SANDBOX_OOM_SCORE_ADJ, PodCgroups, best_effort_pod
from isodemo.pod.containers import PodContainer
from isodemo.pod.network import describe
from isodemo.pod.sandbox import Sandbox
from isodemo.pod.shm import SandboxShm

HTTP_PORT = 8080
HTTP_BODY = "hello from container a"
COMMANDS = {
    "a": (
        "sh",
        "-c",
        f"mkdir -p /www && echo '{HTTP_BODY}' > /www/index.html && exec httpd -f -p 127.0.0.1:{HTTP_PORT} -h /www",
    ),
    "b": ("sleep", "3600"),
}
MAIN_COMM = {"a": "httpd", "b": "sleep"}
COMPARED = ("ipc", "uts", "net", "pid", "mnt", "cgroup")
WAIT_SECONDS = 5.0


class _Pod:
    """What the steps share."""

    def __init__(self, narrator: Narrator, ctx: DemoContext, share: bool) -> None:
        self.narrator = narrator
        self.ctx = ctx
        self.share = share
        self.name = ctx.run.object_name("pod")  # the pod's name, and its hostname
        self.sandbox: Sandbox | None = None
        self.containers: dict[str, PodContainer] = {}
        self.uid = str(uuid.uuid4())
        self.cgroups: PodCgroups | None = None  # made before the pause starts (_cgroups)
        self.layout: dict[str, str] = {}  # container name -> kubepods/<qos>/pod<uid>/<id>
        self.adjs: dict[str, int] = {}  # container name -> oom_score_adj, as read back

    @property
    def pod(self) -> Sandbox:
        assert self.sandbox is not None  # set by the first steps
        return self.sandbox

    def start_container(self, name: str) -> PodContainer:
        join = self.pod.join_paths(share_processes=self.share)
        assert self.cgroups is not None  # made by the first steps
        container_id = layout.container_id()
        container = containers.start(
            self.ctx,
            name,
            COMMANDS[name],
            join=join,
            hostname=self.name,
            shm=self.pod.shm.path,
            cgroup_parent=(self.cgroups.cgroup, container_id),
            before_start=lambda cgroup, pid: self._resources(name, cgroup, pid),
        )
        self.containers[name] = container
        self.layout[name] = self.cgroups.layout_path(container_id)
        return container

    def _resources(self, name: str, cgroup: Any, pid: int) -> None:
        """Before the execve: the kubelet's values for a container without requests or limits, written by the
        runtime into its cgroup, and its oom_score_adj (the kubelet's policy for its QoS class)."""
        assert self.cgroups is not None
        self.narrator.shell(*self.cgroups.write_container(cgroup, manifest.container(name)))
        adj = qos.oom_score_adj(self.cgroups.qos_class, 0, 1)
        self.adjs[name] = common.write_oom_score_adj(self.narrator, pid, adj)

    def exec(self, name: str, argv: list[str]) -> str:
        container = self.containers[name]
        _status, output = enter.exec_in(self.ctx, container.pid, argv, container.cgroup)
        return output

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.containers.items()}


def run(narrator: Narrator, ctx: DemoContext) -> None:
    pod = _Pod(narrator, ctx, bool(ctx.options.get("share_processes")))
    _cgroups(pod)
    _sandbox(pod)
    for name in ("a", "b"):
        _container(pod, name)
    narrator.fact("containers", pod.pids())
    _cgroup_layout(pod)
    _namespaces(pod)
    _one_address(pod)
    _localhost(pod)
    _hostname(pod)
    _ipc(pod)
    _processes(pod)
    _restart(pod)
    ctx.hold_here(
        narrator,
        {"pause": pod.pod.pause_pid, **pod.pids()},
        [
            f"sudo lsns -p {pod.pod.pause_pid}",
            *(f"sudo lsns -p {pid}" for pid in pod.pids().values()),
            f"sudo ip netns exec {pod.pod.name} ip addr show eth0",
            enter.shell(pod.containers["b"].pid, ["wget", "-q", "-O", "-", f"http://127.0.0.1:{HTTP_PORT}/"]),
        ],
        cgroups=[path for c in pod.containers.values() for path in c.cgroup.paths],
        netns=[pod.pod.name],
    )
    _pause_ends(pod)
    narrator.kubernetes(
        _(
            "This is a Pod. The kubelet asks the runtime for a sandbox (RunPodSandbox: the network namespace, CNI "
            "ADD, the pause container), then for each container (CreateContainer, StartContainer), which joins "
            "the sandbox's net, ipc and uts namespaces (pid too with shareProcessNamespace: true) and keeps its "
            "own mount namespace. The pod's IP and its namespaces belong to the sandbox, so a restarted container "
            "keeps them; when the sandbox dies, the kubelet stops the containers and makes a new sandbox, with a "
            "new IP."
        )
    )


# -- the cgroups -------------------------------------------------------------------------------------------


def _cgroups(pod: _Pod) -> None:
    narrator, ctx = pod.narrator, pod.ctx
    narrator.step(
        _("The pod's cgroup, made by the kubelet before anything else"),
        syscalls=["mkdir(CGROUP, 0755)", 'write(cgroup.subtree_control, "+cpu +memory +pids")  (v2)', "write(FILE)"],
    )
    cgroups = PodCgroups(ctx, best_effort_pod(pod.name, pod.uid, ["a", "b"]))
    pod.cgroups = cgroups
    narrator.shell(*cgroups.shell)
    narrator.explain(
        _(
            "The kubelet makes the pod's cgroup first (its cgroupfs driver: kubepods/<QoS class>/pod<uid>), and "
            "the runtime makes one cgroup per container inside it, named by the container's id. No container of "
            "this pod asks for cpu or memory, so its QoS class is {qos} ({rule}), and the kubelet gives that level "
            "and the pod the smallest CPU share, 2 (`isodemo limits` shows every rule). isodemo's kubepods is "
            "{path}, under isodemo's own cgroup rather than the node's.",
            qos=cgroups.qos_class,
            rule=cgroups.rule,
            path=cgroups.kubepods.path,
        )
    )


def _cgroup_layout(pod: _Pod) -> None:
    """Where /proc/PID/cgroup says the pause and each container are: the kubelet's layout, observed."""
    cgroups = pod.cgroups
    assert cgroups is not None
    narrator = pod.narrator
    pids = {"pause": pod.pod.pause_pid, **pod.pids()}
    narrator.step(_("Each container in its own cgroup, inside the pod's"), shell=[f"cat /proc/{pids['a']}/cgroup"])
    key = cgroups.cgroup.proc_key
    rows, observed, good = [], {}, True
    for name, pid in pids.items():
        seen = procfs.cgroup(pid).get(key, "")
        top, _sep, below = seen.rpartition("-" + layout.KUBEPODS + "/")
        observed[name] = f"{layout.KUBEPODS}/{below}" if top else seen
        good = good and observed[name] == pod.layout[name]
        rows.append([name, str(pid), seen])
    narrator.table(
        _("/proc/PID/cgroup, {line}", line=cgroups.cgroup.proc_line), [_("container"), "PID", "cgroup"], rows
    )
    narrator.fact("cgroup_layout", observed)
    narrator.claim(
        _(
            "the pause and both containers are in kubepods/{qos}/pod{uid}/<container id>",
            qos=layout.qos_dir(cgroups.qos_class).removeprefix(layout.KUBEPODS + "/"),
            uid=pod.uid,
        ),
        good,
    )
    files = {path: {"written": value, "read": common.read_or_reason(path)} for path, value in cgroups.written.items()}
    narrator.table(
        _("the values written, read back from the kernel"),
        [_("file"), _("written"), _("read back")],
        [[_from_kubepods(path), v["written"], v["read"]] for path, v in files.items()],
    )
    narrator.fact("pod_cgroup_files", files, show=False)
    narrator.claim(_("the kernel holds every value as written"), all(v["written"] == v["read"] for v in files.values()))
    narrator.fact("oom_score_adj", dict(pod.adjs))
    narrator.explain(
        _(
            "With no requests and no limits anywhere the pod is BestEffort: 2 CPU shares for its QoS level, the "
            "pod and each container (cpu.weight 1 on v2), no CPU quota, no memory limit, and oom_score_adj 1000: "
            "under memory pressure its containers are the first the OOM killer takes. containerd gives the pause "
            "2 shares and oom_score_adj {adj}, so that it outlives them.",
            adj=SANDBOX_OOM_SCORE_ADJ,
        )
    )


def _from_kubepods(path: str) -> str:
    """.../isodemo-<run>-kubepods/besteffort/pod<uid>/<id>/cpu.shares -> kubepods/besteffort/pod1a2b.../3c4d.../
    cpu.shares: the ids cut as `docker ps` cuts them, so that a row fits a terminal (the fact has them whole)."""
    _top, sep, below = path.rpartition("-" + layout.KUBEPODS + "/")
    parts = [layout.KUBEPODS, *below.split("/")] if sep else path.split("/")
    return "/".join(p[:12] + "..." if len(p) > 20 and "." not in p else p for p in parts)


# -- the sandbox --------------------------------------------------------------------------------------------


def _sandbox(pod: _Pod) -> None:
    narrator, ctx = pod.narrator, pod.ctx
    netns_name = ctx.run.name
    narrator.step(
        _("The pod's network namespace, made first and pinned, then wired by CNI"),
        syscalls=["unshare(CLONE_NEWNET)", f'mount("/proc/PID/ns/net", "/run/netns/{netns_name}", MS_BIND)'],
        shell=[f"sudo ip netns add {netns_name}"],
    )
    narrator.explain(
        _(
            "containerd makes the pod's network namespace before anything else (/var/run/netns/cni-<uuid>, a bind "
            "mount of a /proc/PID/ns/net file: the pin keeps the namespace without any process in it), then runs "
            "the CNI plugins against that path. isodemo's helper unshares it and leaves; the pin stays."
        )
    )
    netns_path, network, pinned_inode = sandbox.network(ctx, netns_name)
    narrator.fact("netns", netns_path)
    narrator.claim(
        _("the namespace lives on, pinned, after the process that made it exited (inode {inode})", inode=pinned_inode),
        pinned_inode != 0,
    )
    narrator.shell(*network.shell)
    narrator.explain(describe(network))
    narrator.fact("pod_ip", network.address)

    narrator.step(
        _("The pause process: joins the pinned network namespace, gets its own ipc, uts, pid and mount"),
        syscalls=[
            f"openat(AT_FDCWD, {netns_path}, O_RDONLY)",
            "setns(fd, CLONE_NEWNET)",
            "unshare(CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS)",
            "clone(SIGCHLD)  (fork)",
            f'sethostname("{pod.name}")',
            "rt_sigaction(SIGINT), rt_sigaction(SIGTERM), rt_sigaction(SIGCHLD)",
            "pause()",
        ],
        shell=[
            f"sudo nsenter --net={netns_path} unshare --ipc --uts --pid --mount --fork "
            f"sh -c 'hostname {pod.name}; exec sleep infinity'"
        ],
    )
    shm = ctx.own(SandboxShm(ctx.run))
    assert pod.cgroups is not None
    pause_id = layout.container_id()
    pause_cgroup = pod.cgroups.container(ctx, pause_id)
    narrator.shell(*pod.cgroups.write_sandbox(pause_cgroup))
    box, inside = sandbox.start_pause(ctx, netns_path, pod.name, pause_cgroup.self_join_files())
    pod.sandbox = Sandbox(netns_name, netns_path, network, shm, box)
    pod.layout["pause"] = pod.cgroups.layout_path(pause_id)
    pod.adjs["pause"] = common.write_oom_score_adj(narrator, box.pid, SANDBOX_OOM_SCORE_ADJ)
    narrator.explain(
        _(
            "kubernetes' pause.c installs handlers for SIGINT and SIGTERM (exit 0) and SIGCHLD (reap every "
            "zombie), then sleeps in pause(2) forever. isodemo's pause is the same loop in Python (pod/pause.py), "
            "in the Isolated child rather than a 700 KB static binary from registry.k8s.io/pause, and it keeps "
            "the host's files in its own mount namespace instead of a read-only image."
        )
    )
    narrator.fact("pause_pid", box.pid)
    narrator.check(
        "pause_pid_inside",
        inside["pid"],
        _("pause is PID 1 of its pid namespace (host pid {pid})", pid=box.pid),
        inside["pid"] == 1,
    )
    narrator.step(
        _("The sandbox's /dev/shm: one tmpfs for the whole pod"),
        syscalls=[shm.syscall],
        shell=[shm.shell],
    )
    narrator.explain(
        _(
            "containerd gives the sandbox a 64 MiB /dev/shm and bind-mounts it into every container of the pod; "
            "isodemo mounts it on {path} and passes it to each container as a volume on /dev/shm.",
            path=shm.path,
        )
    )


def _container(pod: _Pod, name: str) -> None:
    narrator = pod.narrator
    join = pod.pod.join_paths(share_processes=pod.share)
    own = ["mnt"] + ([] if pod.share else ["pid"])
    if pod.ctx.host.cgroup_mode == "v2":
        own.append("cgroup")
    narrator.step(
        _("Container {name}: opens the pause's namespaces, setns in runc's order, unshares its own", name=name),
        syscalls=[
            *(f"openat(AT_FDCWD, {path}, O_RDONLY)" for path in join.values()),
            *(f"setns(fd, {kns.NAMESPACE_TYPES[ns].flag_name})" for ns in kns.SETNS_ORDER if ns in join),
            f"unshare({'|'.join(kns.NAMESPACE_TYPES[ns].flag_name for ns in own)})",
            "clone(SIGCHLD)  (fork)",
            "pivot_root(...)",
            f"execve({COMMANDS[name][0]!r}, ...)",
        ],
        shell=[
            "sudo nsenter "
            + " ".join(f"{kns.NAMESPACE_TYPES[ns].unshare_option}={path}" for ns, path in join.items())
            + " unshare --fork "
            + " ".join(kns.NAMESPACE_TYPES[ns].unshare_option for ns in own)
            + " ... "
            + " ".join(COMMANDS[name])
        ],
    )
    container = pod.start_container(name)
    narrator.explain(
        _(
            "runc opens every path first (after it joins a mount namespace it may no longer reach them), joins "
            "in the order ipc, uts, net, pid, mnt, then unshares the rest and forks PID 1. The busybox image, "
            "the overlay, the capabilities and seccomp filter are `isodemo run`'s, unchanged; its cgroup is made "
            "inside the pod's ({count} system calls).",
            count=len(container.syscalls),
        )
    )
    narrator.fact(f"container_{name}_pid", container.pid)


# -- what is shared -----------------------------------------------------------------------------------------


def _inodes(pid: int | str) -> dict[str, int]:
    present = set(kns.available_types())
    return {ns: kns.ns_inode(pid, ns) for ns in COMPARED if ns in present}


def classify(pause: dict[str, int], a: dict[str, int], b: dict[str, int], host: dict[str, int]) -> dict[str, list[str]]:
    """Each namespace type as "shared" (both containers in the pause's, which is not the host's), "own" (each
    container in one of its own, neither the pause's nor the host's) or "host" (everyone in the host's)."""
    kinds: dict[str, list[str]] = {"shared": [], "own": [], "host": []}
    for ns, held in pause.items():
        if a[ns] == b[ns] == held != host[ns]:
            kinds["shared"].append(ns)
        elif len({a[ns], b[ns], held}) == 3 and host[ns] not in (a[ns], b[ns]):
            kinds["own"].append(ns)  # the pause may have none of its own (cgroup: containerd gives the
            # containers one on v2, the sandbox keeps the host's)
        elif a[ns] == b[ns] == held == host[ns]:
            kinds["host"].append(ns)
    return {kind: sorted(names) for kind, names in kinds.items()}


def _namespaces(pod: _Pod) -> None:
    narrator = pod.narrator
    a, b = pod.containers["a"], pod.containers["b"]
    narrator.step(
        _("Which namespaces are the pause's: the inodes of /proc/PID/ns"),
        shell=[f"sudo lsns -p {pod.pod.pause_pid}", f"sudo ls -l /proc/{a.pid}/ns /proc/{b.pid}/ns"],
    )
    seen = {"pause": _inodes(pod.pod.pause_pid), "a": _inodes(a.pid), "b": _inodes(b.pid), "host": _inodes("self")}
    narrator.table(
        _("namespace inodes, seen from the host"),
        [_("type"), "pause", "a", "b", _("host")],
        [[ns, *(str(seen[who][ns]) for who in ("pause", "a", "b", "host"))] for ns in seen["pause"]],
    )
    script = "for t in " + " ".join(seen["pause"]) + "; do readlink /proc/$$/ns/$t; done"
    inside = {name: parsing.readlinks(pod.exec(name, ["sh", "-c", script])) for name in ("a", "b")}
    narrator.compare(
        "readlink /proc/$$/ns/*",
        [f"{ns}:[{inode}]" for ns, inode in inside["a"].items()],
        [f"{ns}:[{inode}]" for ns, inode in inside["b"].items()],
        host_title=_("inside a"),
        inside_title=_("inside b"),
    )
    kinds = classify(seen["pause"], seen["a"], seen["b"], seen["host"])
    expected_shared = sorted(["ipc", "net", "uts", *(["pid"] if pod.share else [])])
    narrator.check(
        "shared_namespaces",
        kinds["shared"],
        _("a and b are in the pause's {names} namespaces", names=", ".join(kinds["shared"])),
        kinds["shared"] == expected_shared,
        show=True,
    )
    expected_own = {"mnt"} if pod.share else {"mnt", "pid"}
    narrator.check(
        "own_namespaces",
        kinds["own"],
        _("each has its own {names} namespace", names=", ".join(kinds["own"])),
        expected_own <= set(kinds["own"]) and not set(kinds["own"]) & set(expected_shared),
        show=True,
    )
    narrator.fact("host_namespaces", kinds["host"])
    narrator.claim(
        _("inside, each container reads the same inodes as the host reads for it"),
        inside["a"] == seen["a"] and inside["b"] == seen["b"],
    )


def _one_address(pod: _Pod) -> None:
    from isodemo.kernel import icmp

    narrator = pod.narrator
    address = pod.pod.network.address
    narrator.step(_("One IP for the pod"), shell=[enter.shell(pod.containers["a"].pid, ["ip", "-4", "addr"])])
    seen = {name: parsing.inet_addresses(pod.exec(name, ["ip", "-4", "addr", "show"])) for name in ("a", "b")}
    narrator.compare(_("eth0's address"), seen["a"], seen["b"], host_title=_("inside a"), inside_title=_("inside b"))
    narrator.claim(
        _("a and b have one address, the pod's: {address}", address=address),
        seen["a"] == seen["b"] == [address],
    )
    answered = icmp.ping(address)
    narrator.check(
        "ping_host_to_pod",
        answered,
        _("the host reaches the pod at {address} over the bridge", address=address),
        answered,
    )


def _localhost(pod: _Pod) -> None:
    narrator = pod.narrator
    url = f"http://127.0.0.1:{HTTP_PORT}/"
    argv = ["wget", "-q", "-O", "-", url]  # not -T: busybox 1.36 wget crashes (SIGSEGV) with it
    narrator.step(
        _("Container a serves HTTP on 127.0.0.1; container b reaches it over localhost"),
        syscalls=["connect(127.0.0.1:8080)  (in b, the pod's loopback)"],
        shell=[enter.shell(pod.containers["b"].pid, argv)],
    )
    body = ""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:  # httpd may still be starting
        body = pod.exec("b", argv).strip()
        if body == HTTP_BODY:
            break
        time.sleep(0.1)
    narrator.compare(_("b: wget {url}", url=url), [url], [body or _("(nothing)")], inside_title=_("inside b"))
    narrator.check(
        "localhost_http_ok",
        body == HTTP_BODY,
        _("b got a's page over 127.0.0.1: one loopback interface for the pod"),
        body == HTTP_BODY,
    )


def _hostname(pod: _Pod) -> None:
    narrator = pod.narrator
    narrator.step(_("One hostname for the pod"), shell=[enter.shell(pod.containers["a"].pid, ["hostname"])])
    names = {name: pod.exec(name, ["hostname"]).strip() for name in ("a", "b")}
    host = os.uname().nodename
    narrator.compare(_("hostname"), [host], [names["a"], names["b"]], inside_title=_("inside a, b"))
    narrator.check(
        "hostname_shared",
        names,
        _("a and b say {name}, the pause's UTS namespace's; the host's is unchanged", name=pod.name),
        names["a"] == names["b"] == pod.name != host,
    )


def _ipc(pod: _Pod) -> None:
    from isodemo.inside import ipc
    from isodemo.kernel import sysvipc

    narrator, ctx = pod.narrator, pod.ctx
    key = ctx.run.sysv_key
    a, b = pod.containers["a"], pod.containers["b"]
    narrator.step(
        _("A SysV message queue made in a is seen in b; a /dev/shm file too"),
        syscalls=[
            f"msgget(0x{key:08x}, IPC_CREAT|IPC_EXCL|0600)  (in a)",
            "openat(AT_FDCWD, /proc/sysvipc/msg, O_RDONLY)  (in b)",
        ],
        shell=[enter.shell(b.pid, ["cat", "/proc/sysvipc/msg"]), "ipcs -q"],
    )
    with enter.entered(ctx, a.pid, a.cgroup) as inside_a:
        msqid = inside_a.call(sysvipc.msgget, key)
    in_b = [q.key_hex for q in sysvipc.parse_msg_queues(pod.exec("b", ["cat", "/proc/sysvipc/msg"]))]
    on_host = ipc.msg_queue_keys()
    key_hex = f"0x{key:08x}"
    narrator.compare(_("message queues"), on_host or [_("(none)")], in_b or [_("(none)")], inside_title=_("inside b"))
    narrator.explain(
        _(
            "busybox has no ipcmk: a process in a's namespaces made the queue with msgget(2), as ipcmk would. "
            "The queue lives in the pod's IPC namespace and goes with it."
        )
    )
    narrator.check(
        "ipc_shared_ok",
        key_hex in in_b and key_hex not in on_host,
        _("b lists queue {key} (msqid {id}) that a made; the host does not", key=key_hex, id=msqid),
        key_hex in in_b and key_hex not in on_host,
    )
    pod.exec("a", ["sh", "-c", "echo from a > /dev/shm/pod-note"])
    note = pod.exec("b", ["cat", "/dev/shm/pod-note"]).strip()
    narrator.check(
        "shm_shared_ok",
        note == "from a",
        _("b reads /dev/shm/pod-note that a wrote: the sandbox's shm, bound into both"),
        note == "from a",
    )


def _processes(pod: _Pod) -> None:
    narrator = pod.narrator
    argv = ["ps", "-o", "pid,comm"]
    title = (
        _("shareProcessNamespace: one pid namespace, pause is PID 1")
        if pod.share
        else _("Each container's ps shows only its own processes")
    )
    narrator.step(title, shell=[enter.shell(pod.containers["a"].pid, argv)])
    rows = {name: parsing.ps_rows(pod.exec(name, argv)) for name in ("a", "b")}
    narrator.compare(
        "ps -o pid,comm",
        [f"{pid} {comm}" for pid, comm in rows["a"]],
        [f"{pid} {comm}" for pid, comm in rows["b"]],
        host_title=_("inside a"),
        inside_title=_("inside b"),
    )
    comms = {name: {comm for _pid, comm in rows[name]} for name in rows}
    pid1 = {name: dict(rows[name]).get(1, "") for name in rows}
    narrator.fact("ps", {name: [f"{pid} {comm}" for pid, comm in rows[name]] for name in rows}, show=False)
    narrator.fact("pid1", pid1, show=False)
    if not pod.share:
        isolated = pid1 == {"a": "httpd", "b": "sleep"} and "sleep" not in comms["a"] and "httpd" not in comms["b"]
        narrator.check(
            "processes_isolated_ok",
            isolated,
            _("a sees httpd as PID 1 and no sleep; b sees sleep as PID 1 and no httpd; neither sees pause"),
            isolated,
        )
        return
    pause_comm = pod.ctx.run.name
    shared = all(pid1[n] == pause_comm and {"httpd", "sleep"} <= comms[n] for n in rows)
    narrator.check(
        "processes_shared_ok",
        shared,
        _("a and b both see pause ({comm}) as PID 1, and httpd and sleep", comm=pause_comm),
        shared,
    )
    _orphan(pod)


def _orphan(pod: _Pod) -> None:
    narrator = pod.narrator
    argv = ["sh", "-c", "sleep 2 >/dev/null 2>&1 & echo $!"]
    narrator.step(
        _("pause reaps an orphan of the pod"),
        syscalls=["wait4(-1, NULL, WNOHANG)  (in pause, on SIGCHLD)"],
        shell=[enter.shell(pod.containers["a"].pid, argv)],
    )
    inner = int(pod.exec("a", argv).strip() or 0)
    pidns = kns.ns_inode(pod.pod.pause_pid, "pid")
    orphan = _host_pid_of(inner, pidns)
    parent = procfs.ppid(orphan) if orphan else 0
    narrator.fact("orphan_inner_pid", inner)
    narrator.claim(
        _("the shell exited; its sleep (pid {inner} in the pod) now has the pause as parent", inner=inner),
        orphan is not None and parent == pod.pod.pause_pid,
    )
    reaped = orphan is not None and _gone(orphan, 2 + WAIT_SECONDS)
    narrator.check(
        "orphan_reaped_by_pause",
        reaped,
        _("when the sleep ended, pause reaped it: no zombie is left"),
        reaped,
    )


def _host_pid_of(inner: int, pidns: int) -> int | None:
    """The host pid of the process that is `inner` in the pid namespace `pidns` (NSpid's last entry)."""
    for pid in procfs.pids():
        with contextlib.suppress(OSError, KeyError, ValueError):
            if procfs.nspid(pid)[-1] == inner and kns.ns_inode(pid, "pid") == pidns:
                return pid
    return None


def _gone(pid: int, timeout: float) -> bool:
    """Whether process `pid` is gone, not even a zombie, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.05)
    return False


# -- lifecycle ----------------------------------------------------------------------------------------------


def _restart(pod: _Pod) -> None:
    narrator = pod.narrator
    before = _inodes(pod.pod.pause_pid)
    b = pod.containers["b"]
    narrator.step(
        _("Container b killed: the pod's IP, its namespaces and container a stay"),
        syscalls=[f"pidfd_send_signal(pidfd of {b.pid}, SIGKILL)  (kill -9 {b.pid})"],
        shell=[f"sudo kill -KILL {b.pid}"],
    )
    code = b.kill()
    narrator.fact("b_exit_status", code)
    a = pod.containers["a"]
    address = parsing.inet_addresses(pod.exec("a", ["ip", "-4", "addr", "show"]))
    survived = (
        pod.pod.alive
        and os.path.exists(f"/proc/{a.pid}")
        and _inodes(pod.pod.pause_pid) == before
        and address == [pod.pod.network.address]
    )
    narrator.check(
        "pod_survives_container",
        survived,
        _("pause and a run on; the namespaces are the same; a still has {address}", address=pod.pod.network.address),
        survived,
    )

    narrator.step(
        _("Container b restarted: it joins the same namespaces and has the same IP"),
        syscalls=[
            "setns(fd, CLONE_NEWIPC)",
            "setns(fd, CLONE_NEWUTS)",
            "setns(fd, CLONE_NEWNET)",
            "unshare(CLONE_NEWNS|CLONE_NEWPID)",
            "clone(SIGCHLD)  (fork)",
        ],
    )
    new_b = pod.start_container("b")
    narrator.explain(
        _(
            "The kubelet restarts a failed container of a living pod in the same sandbox (restartPolicy Always, "
            "after a back-off of 10 s, doubling up to 5 minutes; isodemo restarts it at once). A new container: "
            "a new rootfs and PID, the old namespaces."
        )
    )
    narrator.fact("containers", pod.pids())
    new_address = parsing.inet_addresses(pod.exec("b", ["ip", "-4", "addr", "show"]))
    joined = all(_inodes(new_b.pid)[ns] == before[ns] for ns in pod.pod.join_paths(share_processes=pod.share))
    narrator.compare(_("b's address"), [pod.pod.network.address], new_address, host_title=_("before"))
    kept = joined and new_address == [pod.pod.network.address]
    narrator.check(
        "ip_kept_after_restart",
        kept,
        _(
            "the new b (pid {pid}) is in the pause's namespaces and has {address}",
            pid=new_b.pid,
            address=", ".join(new_address),
        ),
        kept,
    )


def _pause_ends(pod: _Pod) -> None:
    narrator = pod.narrator
    sandbox_ = pod.pod
    pause_pid = sandbox_.pause_pid
    veth = sandbox_.network.veth
    narrator.step(
        _("The pause stopped: the whole pod goes"),
        syscalls=[f"pidfd_send_signal(pidfd of {pause_pid}, SIGTERM)  (kill {pause_pid})"],
        shell=[f"sudo kill -TERM {pause_pid}", f"sudo ip netns delete {sandbox_.name}"],
    )
    status = sandbox_.box.kill(signal.SIGTERM)
    narrator.check(
        "pause_exit_status", status, _("pause exited with status {status} on SIGTERM", status=status), status == 0
    )
    pids = pod.pids()
    if pod.share:
        ended = all(_gone(pid, WAIT_SECONDS) for pid in pids.values())
        narrator.claim(
            _("the kernel ended a and b: pause was PID 1 of their pid namespace"),
            ended,
        )
    else:
        outlived = all(os.path.exists(f"/proc/{pid}") for pid in pids.values())
        narrator.claim(
            _("a and b still run: their pid namespaces are their own, the kernel does not end them"),
            outlived,
        )
        narrator.explain(
            _(
                "The kubelet sees the sandbox is gone (PLEG) and kills the pod's containers, then runs CNI DEL and "
                "removes the network namespace; isodemo does the same now."
            )
        )
    for container in pod.containers.values():
        container.kill()
    sandbox.unpin(sandbox_)
    gone = all(_gone(pid, WAIT_SECONDS) for pid in [pause_pid, *pids.values()])
    veth_gone = _gone_path(f"/sys/class/net/{veth}", WAIT_SECONDS)
    narrator.check(
        "pod_gone_after_pause",
        gone and veth_gone and not os.path.exists(sandbox_.netns_path),
        _(
            "pause, a and b are gone; with its last process and its pin the network namespace went, and the "
            "kernel removed the veth {veth} with it",
            veth=veth,
        ),
        gone and veth_gone and not os.path.exists(sandbox_.netns_path),
    )


def _gone_path(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(path):
            return True
        time.sleep(0.05)
    return False
