"""Which runtime, container and pod a process belongs to, read from the names in its cgroup path.

Pure: a cgroup path in, a `Recognised` (or None) out; `isodemo inspect` reads /proc and calls it. The names
are the ones the runtimes and the kubelet give (shared/design/k8s-reference.md, section 2 "Hierarchy names"):

    docker      systemd driver  system.slice/docker-<id>.scope          cgroupfs  /docker/<id>
    containerd  systemd driver  .../cri-containerd-<id>.scope           cgroupfs  kubepods/<qos>/pod<uid>/<id>
    CRI-O       systemd driver  .../crio-<id>.scope (crio-conmon-<id>.scope: its monitor)
    podman      systemd driver  machine.slice/libpod-<id>.scope, in a pod machine-libpod_pod_<pod id>.slice,
                                its monitor libpod-conmon-<id>.scope
                cgroupfs        /libpod_parent/libpod-<id>, in a pod /libpod_parent/<pod id>/libpod-<id>,
                                its monitors /libpod_parent[/<pod id>]/conmon
    kubelet     systemd driver  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice
                                (uid with "_" for "-"; Guaranteed: kubepods.slice/kubepods-pod<uid_>.slice)
                cgroupfs        /kubepods/pod<uid> (Guaranteed), /kubepods/burstable/pod<uid>,
                                /kubepods/besteffort/pod<uid>; a container is <pod>/<container id>
    isodemo     isodemo-<run>-<name> (under the caller's cgroup on v1, under /isodemo on v2); `isodemo pod`
                and `limits` lay isodemo-<run>-kubepods/<qos>/pod<uid>/<container> out as the kubelet's
                cgroupfs driver does

The deepest name that says "container" wins (a kubelet inside a docker container, as in kind, gives the
kubelet's container); the names above it give the pod and the QoS class. The kubelet's cgroupfs path does
not name the runtime (containerd and cri-dockerd both use the bare id): then `runtime` is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GUARANTEED, BURSTABLE, BESTEFFORT = "Guaranteed", "Burstable", "BestEffort"
_QOS = {"burstable": BURSTABLE, "besteffort": BESTEFFORT}

_ID = r"[0-9a-f]{64}"
_UID = r"[0-9a-f]{8}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{12}"
# A systemd scope a runtime made for one container: (runtime, role) by prefix.
_SCOPES = {
    "docker-": ("docker", "container"),
    "cri-containerd-": ("containerd", "container"),
    "crio-conmon-": ("cri-o", "conmon"),
    "crio-": ("cri-o", "container"),
    "libpod-conmon-": ("podman", "conmon"),
    "libpod-": ("podman", "container"),
}
_SCOPE = re.compile(rf"^(docker-|cri-containerd-|crio-conmon-|crio-|libpod-conmon-|libpod-)({_ID})\.scope$")
_BARE_ID = re.compile(rf"^{_ID}$")
_LIBPOD = re.compile(rf"^libpod-({_ID})$")
_CRIO = re.compile(rf"^crio-({_ID})$")
_KUBE_SYSTEMD_POD = re.compile(rf"^kubepods(?:-(burstable|besteffort))?-pod({_UID})\.slice$")
_KUBE_CGROUPFS_POD = re.compile(rf"^pod({_UID})$")
_PODMAN_POD_SLICE = re.compile(rf"^machine-libpod_pod_({_ID})\.slice$")
# isodemo-<run>-<name>: runs.run_id_of's shape, with the name every cgroup of a run has (cgroups.Cgroup leaf).
_ISODEMO = re.compile(r"^isodemo-([0-9a-f]{6})-[a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True)
class Recognised:
    """What the names of one cgroup path say. Paths are cgroup paths as /proc/PID/cgroup shows them."""

    runtime: str | None  # docker, containerd, cri-o, podman, isodemo; None: only the kubelet's layout names it
    role: str  # container; conmon or shim (the runtime's monitor of a container); pod (in the pod's own cgroup)
    container_id: str | None
    pod_uid: str | None  # the kubelet's pod UID (with its dashes), or podman's pod id
    qos_class: str | None  # Guaranteed, Burstable, BestEffort (kubelet pods only)
    kubelet: bool  # laid out as the kubelet lays pods out (kubepods...)
    driver: str | None  # systemd (slices and scopes) or cgroupfs (plain directories)
    pattern: str  # the name that was recognised, e.g. "docker-<id>.scope"
    pod_path: str | None  # the pod's cgroup: every process of the pod is at or below it
    isodemo_run: str | None  # the run id when the path is inside an isodemo-<run>-... cgroup


@dataclass(frozen=True)
class _Container:
    runtime: str | None
    role: str
    container_id: str | None
    driver: str | None
    pattern: str


def _pod_of(name: str, parents: list[str]) -> tuple[str, str | None, str, str] | None:
    """(pod uid, QoS class, driver, pattern) when `name` is a pod's cgroup of the kubelet's or podman's."""
    systemd = _KUBE_SYSTEMD_POD.match(name)
    if systemd:
        level = systemd[1]
        pattern = f"kubepods-{level}-pod<uid_>.slice" if level else "kubepods-pod<uid_>.slice"
        return systemd[2].replace("_", "-"), _QOS[level] if level else GUARANTEED, "systemd", pattern
    cgroupfs = _KUBE_CGROUPFS_POD.match(name)
    if cgroupfs and parents:
        if _is_kubepods(parents[-1]):
            return cgroupfs[1], GUARANTEED, "cgroupfs", "kubepods/pod<uid>"
        if parents[-1] in _QOS and len(parents) >= 2 and _is_kubepods(parents[-2]):
            return cgroupfs[1], _QOS[parents[-1]], "cgroupfs", f"kubepods/{parents[-1]}/pod<uid>"
    podman = _PODMAN_POD_SLICE.match(name)
    if podman:
        return podman[1], None, "systemd", "machine-libpod_pod_<pod id>.slice"
    return None


def _is_kubepods(name: str) -> bool:
    """The kubelet's top cgroup: `kubepods`, or isodemo's own `isodemo-<run>-kubepods` (`isodemo limits`)."""
    return name == "kubepods" or (name.endswith("-kubepods") and bool(_ISODEMO.match(name)))


def _container_of(name: str, parents: list[str]) -> _Container | None:
    """The container (or its monitor) that the cgroup name `name`, below `parents`, is made for."""
    scope = _SCOPE.match(name)
    if scope:
        runtime, role = _SCOPES[scope[1]]
        return _Container(runtime, role, scope[2], "systemd", f"{scope[1]}<id>.scope")
    parent = parents[-1] if parents else ""
    libpod = _LIBPOD.match(name)
    if libpod:
        return _Container("podman", "container", libpod[1], "cgroupfs", "libpod-<id>")
    if name == "conmon" and (parent == "libpod_parent" or _podman_pod_dir(parents)):
        return _Container("podman", "conmon", None, "cgroupfs", "conmon")
    if _BARE_ID.match(name) and parent == "docker":
        return _Container("docker", "container", name, "cgroupfs", "docker/<id>")
    pod = _pod_of(parent, parents[:-1]) if parents else None
    if pod is not None and pod[2] == "cgroupfs":
        crio = _CRIO.match(name)
        if crio:
            return _Container("cri-o", "container", crio[1], "cgroupfs", "pod<uid>/crio-<id>")
        return _Container(None, "container", name, "cgroupfs", "pod<uid>/<id>")
    return None


def _podman_pod_dir(parents: list[str]) -> bool:
    """podman's cgroupfs pod directory: <cgroup parent>/<pod id> (the default parent is /libpod_parent)."""
    return bool(parents) and bool(_BARE_ID.match(parents[-1]))


def recognise(path: str) -> Recognised | None:
    """What the names in the cgroup path `path` say about its process; None when they name no container."""
    names = [name for name in path.split("/") if name]
    run = next((m[1] for m in map(_ISODEMO.match, names) if m), None)
    for depth in range(len(names) - 1, -1, -1):
        name, parents = names[depth], names[:depth]
        container = _container_of(name, parents)
        if container is not None:
            return _with_pod(container, names, depth, run)
        pod = _pod_of(name, parents)
        if pod is not None:  # the process sits in the pod's own cgroup
            kubelet = pod[1] is not None
            return Recognised(
                runtime=("isodemo" if run else None) if kubelet else "podman",
                role="pod",
                container_id=None,
                pod_uid=pod[0],
                qos_class=pod[1],
                kubelet=kubelet,
                driver=pod[2],
                pattern=pod[3],
                pod_path="/" + "/".join(names[: depth + 1]),
                isodemo_run=run,
            )
    if run is not None:  # isodemo's own cgroup, no pod below it: the innermost isodemo-<run>-<name>
        own = [name for name in names if _ISODEMO.match(name)][-1]
        shim = own.endswith("-shim")  # `run`'s helper, containerd-shim's job: isodemo-<run>-[<role>-]shim
        return Recognised(
            runtime="isodemo",
            role="shim" if shim else "container",
            container_id=(own.removesuffix("-shim") if own.count("-") > 2 else f"isodemo-{run}-ctr") if shim else own,
            pod_uid=None,
            qos_class=None,
            kubelet=False,
            driver=None,
            pattern="isodemo-<run>-<name>",
            pod_path=None,
            isodemo_run=run,
        )
    return None


def _with_pod(container: _Container, names: list[str], depth: int, run: str | None) -> Recognised:
    """The container found at names[depth], with the pod that the names above it give, if any."""
    pod_uid = qos = pod_path = None
    for above in range(depth - 1, -1, -1):
        pod = _pod_of(names[above], names[:above])
        if pod is not None:
            pod_uid, qos, pod_path = pod[0], pod[1], "/" + "/".join(names[: above + 1])
            break
    else:
        parents = names[:depth]
        if container.runtime == "podman" and container.driver == "cgroupfs" and _podman_pod_dir(parents):
            pod_uid, pod_path = parents[-1], "/" + "/".join(parents)
    return Recognised(
        runtime=container.runtime or ("isodemo" if run else None),
        role=container.role,
        container_id=container.container_id,
        pod_uid=pod_uid,
        qos_class=qos,
        kubelet=qos is not None,
        driver=container.driver,
        pattern=container.pattern,
        pod_path=pod_path,
        isodemo_run=run,
    )


# The hierarchy read first: the unified one names what systemd and runc made on v2 and hybrid hosts; on
# v1, memory and pids are the controllers every runtime joins.
PREFERRED = ("", "memory", "pids", "cpu", "name=systemd")


def recognise_process(cgroups: dict[str, str]) -> tuple[str, Recognised] | None:
    """From /proc/PID/cgroup as procfs.cgroup() parses it: (the controller read, what it says), or None."""
    order = [c for c in PREFERRED if c in cgroups] + sorted(c for c in cgroups if c not in PREFERRED)
    for controller in order:
        found = recognise(cgroups[controller])
        if found is not None:
            return controller, found
    return None


def pod_paths(cgroups: dict[str, str]) -> dict[str, str]:
    """controller -> the pod's cgroup in that hierarchy, for each hierarchy whose path names a pod."""
    found = {controller: recognise(path) for controller, path in cgroups.items()}
    return {c: r.pod_path for c, r in found.items() if r is not None and r.pod_path is not None}


def in_pod(path: str, pod_path: str) -> bool:
    """Whether the cgroup `path` is the pod's cgroup `pod_path` or below it."""
    return path == pod_path or path.startswith(pod_path.rstrip("/") + "/")
