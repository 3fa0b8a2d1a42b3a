"""Every command isodemo has, in learning order: pure data, cheap to import (used by `--help`)."""

from __future__ import annotations

from isodemo.i18n import N_, _

SECTIONS = {
    "namespaces": N_("Namespace demos"),
    "cgroups": N_("cgroup demos"),
    "kubernetes": N_("Kubernetes on one node"),
    "loops": N_("Why Kubernetes: the control loops"),
    "together": N_("Putting it together"),
    "tools": N_("Tools"),
}


class Tool:
    """A program a command runs, and the Debian/Ubuntu package that installs it."""

    __slots__ = ("name", "package", "static")

    def __init__(self, name: str, package: str, *, static: bool = False) -> None:
        self.name = name
        self.package = package
        self.static = static  # must be statically linked (it runs after pivot_root, with no /lib)


# Kernel features a command can need, as `isodemo list` names them; isodemo.preflight checks each key.
FEATURES = {
    "time-namespace": N_("Linux 5.6 (time namespaces)"),
    "loop-device": N_("loop devices"),
    "user-namespace": N_("user namespaces"),
}


class Entry:
    """One command, and what it needs. A plain class, not a dataclass: `dataclasses` costs 5 ms of `--help`.

    The needs (tools, cgroup controllers, kernel features) are declared here once: `isodemo list` shows
    them and isodemo.preflight checks them before the command creates anything.
    """

    __slots__ = (
        "controllers",
        "features",
        "kubernetes",
        "name",
        "needs_root",
        "rootless_cgroups",
        "rootless_namespaces",
        "section",
        "summary",
        "tool",
        "tools",
    )

    def __init__(
        self,
        name: str,
        summary: str,
        section: str,
        needs_root: bool,
        *,
        tools: tuple[Tool, ...] = (),
        controllers: tuple[str, ...] = (),
        features: tuple[str, ...] = (),
        kubernetes: str = "",
        rootless_cgroups: bool = False,
        rootless_namespaces: bool = False,
        tool: bool = False,
    ) -> None:
        self.name = name
        self.summary = summary  # marked with N_(): shown with _(entry.summary)
        self.section = section
        self.needs_root = needs_root
        self.tools = tools  # programs it runs
        self.controllers = controllers  # cgroup controllers, by their v2 names (io is blkio on v1)
        self.features = features  # keys of FEATURES
        self.kubernetes = kubernetes  # the Kubernetes feature it explains (N_(), like the summary)
        self.rootless_cgroups = rootless_cgroups  # without root, may run in a delegated cgroup v2 subtree
        self.rootless_namespaces = rootless_namespaces  # without root, runs inside a user namespace
        # A program of its own outside the tools section (run, images, rmi): no demo module, no docs chapter
        # of the walkthrough, not in `isodemo list`.
        self.tool = tool

    @property
    def needs(self) -> str:
        """What else it needs, for `isodemo list`: packages, controllers, kernel features."""
        parts = list(dict.fromkeys(tool.package for tool in self.tools))  # two tools of one package: once
        parts += [_("{controller} controller", controller=controller) for controller in self.controllers]
        parts += [_(FEATURES[feature]) for feature in self.features]
        return ", ".join(parts)

    @property
    def is_demo(self) -> bool:
        return self.section != "tools" and not self.tool


BUSYBOX = Tool("busybox", "busybox-static", static=True)
NFT = Tool("nft", "nftables")


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "pid",
        N_("PID 1 inside, another pid outside; /proc, orphans, signals, killing PID 1"),
        "namespaces",
        True,
        kubernetes=N_("container PID 1, shareProcessNamespace"),
        rootless_namespaces=True,
    ),
    Entry(
        "uts",
        N_("the container's own hostname; the host's stays the same"),
        "namespaces",
        True,
        kubernetes=N_("a Pod's hostname"),
        rootless_namespaces=True,
    ),
    Entry(
        "ipc",
        N_("System V message queues live in an IPC namespace"),
        "namespaces",
        True,
        kubernetes=N_("containers of a Pod share IPC"),
        rootless_namespaces=True,
    ),
    Entry(
        "mnt",
        N_("private mounts, a tmpfs only the inside sees, pivot_root into busybox"),
        "namespaces",
        True,
        tools=(BUSYBOX,),
        kubernetes=N_("container images, volumes"),
        rootless_namespaces=True,
    ),
    Entry(
        "net",
        N_("an empty stack, a veth pair, a bridge, a published port, masquerade, tc bandwidth"),
        "namespaces",
        True,
        tools=(NFT,),
        kubernetes=N_("Pod IPs, CNI bridge, hostPort, bandwidth"),
    ),
    Entry(
        "user",
        N_("root inside, an ordinary user outside: uid_map, capabilities, what root cannot do"),
        "namespaces",
        False,
        kubernetes=N_("hostUsers: false, rootless containers"),
    ),
    Entry(
        "cgroupns",
        N_("/proc/self/cgroup says / inside; the container's own /sys/fs/cgroup"),
        "namespaces",
        True,
        controllers=("memory",),
        kubernetes=N_("a container's view of its Pod's cgroup"),
    ),
    Entry(
        "timens",
        N_("uptime and the monotonic clock shifted by a time namespace; the wall clock is not"),
        "namespaces",
        True,
        features=("time-namespace",),
        kubernetes=N_("checkpoint/restore of containers (CRIU)"),
        rootless_namespaces=True,
    ),
    Entry(
        "cgroup-memory",
        N_("a memory limit, a process that allocates past it, and the OOM killer"),
        "cgroups",
        True,
        controllers=("memory",),
        kubernetes=N_("limits.memory, OOMKilled"),
        rootless_cgroups=True,
    ),
    Entry(
        "cgroup-cpu",
        N_("a CPU quota measured with a live meter, then two cgroups sharing a CPU by weight"),
        "cgroups",
        True,
        controllers=("cpu",),
        kubernetes=N_("limits.cpu, requests.cpu"),
        rootless_cgroups=True,
    ),
    Entry(
        "cgroup-pids",
        N_("pids.max, and fork() failing with EAGAIN at the limit"),
        "cgroups",
        True,
        controllers=("pids",),
        kubernetes=N_("pod PID limits"),
        rootless_cgroups=True,
    ),
    Entry(
        "cgroup-io",
        N_("a bandwidth limit on a loop device, O_DIRECT transfers with and without it"),
        "cgroups",
        True,
        controllers=("io",),
        features=("loop-device",),
        kubernetes=N_("runtime blkio / io.max"),
    ),
    Entry(
        "limits",
        N_("a Pod's requests and limits as QoS class, kubepods cgroups and oom_score_adj, observed"),
        "kubernetes",
        True,
        controllers=("cpu", "memory"),
        kubernetes=N_("resources.requests/limits, QoS classes, OOMKilled"),
    ),
    Entry(
        "run",
        N_("run a command in a real container made from an image, like docker run"),
        "together",
        True,
        rootless_namespaces=True,
        tool=True,
    ),
    Entry(
        "container",
        N_("one container built step by step in runc's order, each step seen from the host and from inside"),
        "together",
        True,
        tools=(BUSYBOX, NFT),
        controllers=("memory", "pids", "cpu"),
        kubernetes=N_("what kubelet, containerd and runc do for every container; securityContext"),
    ),
    Entry(
        "escape",
        N_("classic breakouts tried with and without each defence: chroot, capabilities, /proc, pid, userns, seccomp"),
        "together",
        True,
        tools=(BUSYBOX, Tool("mkfs.ext4", "e2fsprogs"), Tool("debugfs", "e2fsprogs")),
        controllers=("memory", "pids", "cpu"),
        features=("loop-device", "user-namespace"),
        kubernetes=N_("securityContext: privileged, capabilities, procMount, hostPID, hostUsers, seccompProfile"),
    ),
    Entry(
        "pod",
        N_("a pod sandbox (pause) and two containers that join its net, ipc and uts namespaces"),
        "kubernetes",
        True,
        tools=(BUSYBOX,),
        controllers=("memory", "pids", "cpu"),
        kubernetes=N_("the Pod, its pause container, shareProcessNamespace"),
    ),
    Entry(
        "volume",
        N_("emptyDir, memory-backed emptyDir, hostPath, subPath and mount propagation, as mounts seen from both sides"),
        "kubernetes",
        True,
        tools=(BUSYBOX,),
        controllers=("memory",),
        kubernetes=N_("volumes: emptyDir, hostPath, subPath, mountPropagation"),
    ),
    Entry(
        "service",
        N_("a Service's ClusterIP as kube-proxy's nftables rules in front of N pods, its load spread measured"),
        "loops",
        True,
        tools=(BUSYBOX, NFT),
        controllers=("memory", "pids", "cpu"),
        kubernetes=N_("Service (ClusterIP, NodePort), EndpointSlice, kube-proxy"),
    ),
    Entry(
        "healing",
        N_("the kubelet's auto-healing: restartPolicy, CrashLoopBackOff, OOMKilled, liveness and readiness probes"),
        "loops",
        True,
        tools=(BUSYBOX, NFT),
        controllers=("memory", "pids", "cpu"),
        kubernetes=N_("restartPolicy, CrashLoopBackOff, OOMKilled, livenessProbe, readinessProbe"),
    ),
    Entry(
        "rollout",
        N_("a Deployment updated v1 -> v2 behind its Service: Recreate's outage and RollingUpdate's none, measured"),
        "loops",
        True,
        tools=(BUSYBOX, NFT),
        controllers=("memory", "pids", "cpu"),
        kubernetes=N_("Deployment: strategy Recreate and RollingUpdate (maxSurge, maxUnavailable), rollout undo"),
    ),
    Entry(
        "autoscale",
        N_("a HorizontalPodAutoscaler reading each pod's CPU from its cgroup and scaling a Deployment, checked"),
        "loops",
        True,
        tools=(BUSYBOX, NFT),
        controllers=("memory", "pids", "cpu"),
        kubernetes=N_("HorizontalPodAutoscaler (CPU utilization), metrics-server, Deployment scale"),
    ),
    Entry("images", N_("the images in isodemo's local store"), "together", False, tool=True),
    Entry("rmi", N_("remove an image from isodemo's local store"), "together", False, tool=True),
    Entry("list", N_("the demos in learning order and what each needs"), "tools", False),
    Entry("doctor", N_("what this machine supports, and the fix for each missing piece"), "tools", False),
    Entry("inspect", N_("a process's namespaces and cgroups compared with PID 1's"), "tools", False),
    Entry(
        "bench",
        N_("what a container costs here, measured: start time, memory, how many fit"),
        "tools",
        True,
        tools=(BUSYBOX,),
        controllers=("memory",),
    ),
    Entry("cleanup", N_("remove every leftover isodemo object (after a run was SIGKILLed)"), "tools", True),
)

BY_NAME = {entry.name: entry for entry in ENTRIES}


def names() -> list[str]:
    return [entry.name for entry in ENTRIES]


def demos() -> list[Entry]:
    return [entry for entry in ENTRIES if entry.is_demo]
