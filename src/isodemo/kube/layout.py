"""Where the kubelet puts a Pod's cgroups: the cgroupfs driver's paths (what isodemo creates), and the
systemd driver's unit names (shown as text).

pkg/kubelet/cm/cgroup_manager_linux.go (ToCgroupfs, ToSystemd) and qos_container_manager_linux.go: only the
burstable and besteffort QoS cgroups exist; Guaranteed pods sit directly under kubepods. A container's cgroup
is `<pod cgroup>/<container id>` (containerd getCgroupsPath); with the systemd driver runc makes a scope
`cri-containerd-<id>.scope` in the pod's slice.
"""

from __future__ import annotations

import secrets

from isodemo.kube import qos as kqos

KUBEPODS = "kubepods"


def qos_dir(qos_class: str) -> str:
    """kubepods/burstable, kubepods/besteffort, or kubepods itself for Guaranteed."""
    if qos_class == kqos.GUARANTEED:
        return KUBEPODS
    return f"{KUBEPODS}/{qos_class.lower()}"


def pod_dir(qos_class: str, uid: str) -> str:
    return f"{qos_dir(qos_class)}/pod{uid}"


def container_dir(qos_class: str, uid: str, container_id: str) -> str:
    return f"{pod_dir(qos_class, uid)}/{container_id}"


def container_id() -> str:
    """A new container id as containerd makes them: 64 hex digits."""
    return secrets.token_hex(32)


def systemd_pod_slice(qos_class: str, uid: str) -> str:
    """kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice (Guaranteed: no QoS
    slice)."""
    escaped = uid.replace("-", "_")
    if qos_class == kqos.GUARANTEED:
        return f"kubepods.slice/kubepods-pod{escaped}.slice"
    level = qos_class.lower()
    return f"kubepods.slice/kubepods-{level}.slice/kubepods-{level}-pod{escaped}.slice"


def systemd_container_scope(qos_class: str, uid: str, container_id: str) -> str:
    """containerd passes `<pod slice>:cri-containerd:<id>`; runc makes the unit cri-containerd-<id>.scope."""
    return f"{systemd_pod_slice(qos_class, uid)}/cri-containerd-{container_id}.scope"
