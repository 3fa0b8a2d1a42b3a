"""The pod sandbox: what containerd's RunPodSandbox makes before any container of the pod exists.

    1. a network namespace, made first and pinned: containerd's netns.NewNetNS("/var/run/netns") makes
       /var/run/netns/cni-<uuid>; here an Isolated child unshares it, /run/netns/isodemo-<run> pins it (a bind
       mount, as `ip netns add`), and the child goes: the pin alone keeps the namespace
    2. CNI ADD against the pinned path: a veth from a bridge into the namespace, the pod's address (network.py)
    3. the sandbox's /dev/shm (shm.py)
    4. the pause process: it joins the pinned network namespace (setns) and unshares its own ipc, uts, pid and
       mount namespaces, as runc starts the sandbox container from containerd's spec; it is PID 1 of its pid
       namespace, takes the pod's hostname, then becomes the pause (pause.py)

Every object is owned by the demo's ExitStack from the moment it exists.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from isodemo.kernel import namespaces as kns
from isodemo.kernel import process as kprocess
from isodemo.pod import pause
from isodemo.pod.network import PodNetwork, cni_add
from isodemo.pod.shm import SandboxShm

# The pause container's own namespaces, from containerd's default spec (pkg/oci/spec.go): the network one is
# the pinned namespace, joined.
SANDBOX_NAMESPACES = ("ipc", "uts", "pid", "mnt")
# What a container of the pod joins (containerd's WithPodNamespaces), in runc's order.
POD_SHARED = ("ipc", "uts", "net")


class Sandbox:
    """A running sandbox: the pinned network namespace, the pod's network, its /dev/shm, the pause process."""

    def __init__(self, name: str, netns_path: str, network: PodNetwork, shm: SandboxShm, box: Any) -> None:
        self.name = name  # the pod's name, and its hostname
        self.netns_path = netns_path
        self.network = network
        self.shm = shm
        self.box = box  # the Isolated whose child is the pause

    @property
    def pause_pid(self) -> int:
        return int(self.box.pid)

    def join_paths(self, *, share_processes: bool = False) -> dict[str, str]:
        """What a container joins: /proc/<pause>/ns/{ipc,uts,net}, and pid with shareProcessNamespace."""
        shared = [*POD_SHARED, "pid"] if share_processes else list(POD_SHARED)
        return {ns: kns.ns_path(self.pause_pid, ns) for ns in shared}

    @property
    def alive(self) -> bool:
        return bool(self.box.alive) and os.path.exists(f"/proc/{self.pause_pid}")


def make_netns(ctx: Any, name: str) -> tuple[str, Any]:
    """Step 1: a new network namespace, pinned at /run/netns/<name>; returns its path and the child that made
    it (still in it, for CNI ADD to configure the pod's end from inside: stop it after)."""
    from isodemo.net import netns

    holder = ctx.isolated(["net"])
    pin = ctx.own(netns.NamedNetns(name, holder.pid))
    return pin.path, holder


def network(ctx: Any, name: str) -> tuple[str, PodNetwork, int]:
    """Steps 1 and 2: the pinned namespace and CNI ADD; its path, the pod's network, and the inode of the
    namespace, read from the pin once its maker is gone (the pin alone keeps it)."""
    netns_path, holder = make_netns(ctx, name)
    made = kns.ns_inode(holder.pid, "net")
    pod_network = cni_add(ctx, holder, netns_path, name)
    holder.stop()  # the pin keeps the namespace: no process needs to be in it
    pinned = os.stat(netns_path).st_ino
    return netns_path, pod_network, pinned if pinned == made else 0


def start_pause(ctx: Any, netns_path: str, hostname: str, cgroup_files: list[str]) -> tuple[Any, dict[str, object]]:
    """Step 4: the pause process, in its cgroup from the start (the helper writes "0" to `cgroup_files`, as
    runc puts the process in its cgroup before the execve); returns its Isolated and what it said about itself
    before it became pause."""
    box = ctx.isolated(list(SANDBOX_NAMESPACES), join={"net": netns_path}, join_cgroup=cgroup_files)
    box.call(kprocess.sethostname, hostname)
    inside = box.call(pause.identity)
    box.exec(pause.become_pause)
    return box, inside


def unpin(sandbox: Sandbox) -> None:
    """CNI DEL's end and containerd's netns removal: the pin goes; the namespace goes with its last process."""
    from isodemo.net import netns

    with contextlib.suppress(OSError):
        netns.remove(sandbox.netns_path)
