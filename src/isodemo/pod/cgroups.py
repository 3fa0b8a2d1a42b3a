"""The pod's cgroups, laid out as the kubelet's cgroupfs driver lays them out (kube/layout.py has the names):

    isodemo-<run>-kubepods/                 the node's kubepods (here under isodemo's own cgroup)
      besteffort/                           the QoS level: no container of this pod asks for cpu or memory
        pod<uid>/                           the pod's cgroup, made by the kubelet
          <pause container id>/             one cgroup per container, made by the runtime, named by its id
          <container id>/ ...

with the values the kubelet writes at the QoS and pod levels (kube/cgroup_values.py). The container cgroups
are made by `isodemo run`'s runtime inside the pod's (runtime.build's cgroup_parent); the pause's here.
"""

from __future__ import annotations

from typing import Any

from isodemo.kube import cgroup_values, layout, manifest, qos

# What a container's cgroup needs in it (container/runtime.py _cgroup): v1 makes the tree in each hierarchy.
CONTROLLERS = ("memory", "pids", "cpu", "devices")
# containerd's pause container (internal/cri/server/podsandbox/helpers_linux.go defaultSandboxOOMAdj): the last
# process of the node the OOM killer would pick, after the kubelet itself (-999).
SANDBOX_OOM_SCORE_ADJ = -998


class PodCgroups:
    """kubepods, its besteffort level and the pod's cgroup, made at once and owned by the demo's stack (the
    run record names kubepods: after a SIGKILL, `isodemo cleanup` removes the whole tree, children first)."""

    def __init__(self, ctx: Any, pod: manifest.Pod) -> None:
        self.pod = pod
        self.qos_class, self.rule = qos.pod_qos(pod)
        self.version = version = 2 if ctx.host.cgroup_mode == "v2" else 1
        self.shell: list[str] = []
        self.written: dict[str, str] = {}  # file path -> value, in the order written (read back by the demo)
        self.kubepods = ctx.cgroup(layout.KUBEPODS, CONTROLLERS)
        self.shell += self.kubepods.setup_commands
        level = self.kubepods
        if self.qos_class != qos.GUARANTEED:
            level = ctx.own(self.kubepods.child(layout.qos_dir(self.qos_class).rsplit("/", 1)[1]))
            burstable = cgroup_values.pod_requests(pod, "cpu") if self.qos_class == qos.BURSTABLE else 0
            self._write(level, cgroup_values.qos_values(self.qos_class, burstable), version)
        self.level = level
        self.cgroup = ctx.own(level.child(f"pod{pod.uid}"))
        self._write(self.cgroup, cgroup_values.pod_values(pod, self.qos_class), version)

    def _write(self, cgroup: Any, values: list[cgroup_values.FileValue], version: int) -> list[str]:
        """Write the values this cgroup version has; the shell lines of what was written."""
        self.shell += cgroup.setup_commands
        done = []
        for value in values:
            filename, text = value.file(version), value.value(version)
            if filename and text is not None:
                write = cgroup.write(filename, text, cgroup_values.controller_of(filename))
                self.written[write.path] = text
                done.append(write.shell)
        self.shell += done
        return done

    def write_container(self, cgroup: Any, container: manifest.Container) -> list[str]:
        """What the kubelet asks and the runtime writes for a container (calculateLinuxResources): from its
        requests and limits; with none, the smallest CPU share and no quota (and memory.oom.group on v2)."""
        return self._write(cgroup, cgroup_values.container_values(container), self.version)

    def write_sandbox(self, cgroup: Any) -> list[str]:
        """containerd's pause container: 2 CPU shares, nothing else (WithDefaultSandboxShares)."""
        shares = cgroup_values.container_values(manifest.container("pause"))[0]
        return self._write(cgroup, [shares], self.version)

    def layout_path(self, container_id: str) -> str:
        """kubepods/besteffort/pod<uid>/<id>: the kubelet's name for a container's cgroup."""
        return layout.container_dir(self.qos_class, self.pod.uid, container_id)

    def container(self, ctx: Any, container_id: str) -> Any:
        """A container's cgroup inside the pod's, made now (the pause's; the runtime makes the others)."""
        cgroup = ctx.own(self.cgroup.child(container_id, CONTROLLERS))
        self.shell += cgroup.setup_commands
        return cgroup


def best_effort_pod(name: str, uid: str, containers: list[str]) -> manifest.Pod:
    """The pod as the kubelet sees it: containers without requests or limits, so BestEffort."""
    return manifest.Pod(name, uid, [manifest.container(c) for c in containers])
