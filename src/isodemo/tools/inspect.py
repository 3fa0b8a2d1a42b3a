"""`isodemo inspect PID`: a process's namespaces compared with PID 1's, its cgroups, and the container and
pod they say it belongs to.

Like `lsns -p PID` and `cat /proc/PID/cgroup` together, then what `docker inspect`, `podman inspect` and
`crictl inspect` would say, read from the kernel alone: the runtime, the container id, the pod and its QoS
class are in the cgroup path's names (tools/runtimes.py); which namespaces the process shares with the other
processes of its pod (the pause or infra process first of all) is in their /proc/PID/ns inodes.

PID 1 is the reference because it lives in the host's initial namespaces. Where PID 1's links cannot be
read (isodemo itself runs in a container without CAP_SYS_PTRACE over PID 1), isodemo compares with its
own namespaces instead, and says so.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from isodemo import runs
from isodemo.context import DemoContext
from isodemo.errors import NeedsRoot, UsageError
from isodemo.i18n import _
from isodemo.kernel import namespaces, procfs
from isodemo.kernel import process as kprocess
from isodemo.narrate.base import Narrator
from isodemo.tools import runtimes


def _links(pid: int | str) -> dict[str, str]:
    return {ns: namespaces.ns_link(pid, ns) for ns in namespaces.available_types()}


def _reference() -> tuple[str, dict[str, str]]:
    try:
        return "PID 1", _links(1)
    except PermissionError:
        return f"isodemo (pid {os.getpid()})", _links("self")


def run(narrator: Narrator, ctx: DemoContext) -> None:
    pid = int(ctx.options["pid"])
    try:
        name = kprocess.comm(pid)
        links = _links(pid)
    except FileNotFoundError:
        raise UsageError(_("there is no process with pid {pid}", pid=pid), _("list processes with `ps -e`")) from None
    except PermissionError as error:
        raise NeedsRoot(
            _(
                "reading /proc/{pid}/ns needs the right to ptrace that process ({reason})",
                pid=pid,
                reason=error.strerror,
            ),
            _("run: sudo isodemo inspect {pid}", pid=pid),
        ) from None
    except OSError as error:
        if error.errno == errno.ESRCH:
            raise UsageError(_("pid {pid} exited while being inspected", pid=pid)) from None
        raise
    reference_name, reference = _reference()
    shown_reference = reference_name if reference_name == "PID 1" else _("isodemo (pid {pid})", pid=os.getpid())
    narrator.step(
        _("Namespaces of pid {pid} ({name}) and of {reference}", pid=pid, name=name, reference=shown_reference),
        shell=[f"sudo lsns -p {pid}", f"sudo ls -l /proc/{pid}/ns"],
    )
    if reference_name != "PID 1":
        narrator.note(
            _("PID 1's namespaces cannot be read here, so {reference} is the reference.", reference=shown_reference)
        )
    narrator.fact("reference", reference_name, show=False)
    rows, differs = [], []
    for ns, link in links.items():
        same = link == reference[ns]
        if not same:
            differs.append(ns)
        rows.append([ns, link, reference[ns], _("same") if same else _("DIFFERENT")])
        narrator.fact(f"ns_{ns}", {"pid": link, "reference": reference[ns], "same": same}, show=False)
    narrator.table("", [_("namespace"), f"pid {pid}", shown_reference, ""], rows)
    narrator.fact("different_namespaces", differs, show=False)
    nspid = procfs.nspid(pid)
    narrator.fact("nspid", nspid, show=False)
    pids = " ".join(map(str, nspid))
    narrator.note(
        _("NSpid: {pids}  (in a nested pid namespace: outermost pid first, innermost last)", pids=pids)
        if len(nspid) > 1
        else f"NSpid: {pids}"
    )

    narrator.step(_("cgroups of pid {pid}", pid=pid), shell=[f"cat /proc/{pid}/cgroup"])
    paths = procfs.cgroup(pid)
    narrator.table("", [_("controller"), "cgroup"], [[c or _("(v2 unified)"), p] for c, p in paths.items()])
    narrator.fact("cgroups", paths, show=False)

    _container(narrator, pid, paths, links, (shown_reference, reference))


def _container(
    narrator: Narrator,
    pid: int,
    paths: dict[str, str],
    links: dict[str, str],
    reference: tuple[str, dict[str, str]],
) -> None:
    """Step 3 (and 4 for a pod): the runtime, container and pod the cgroup names say, and the namespaces
    shared with the pod's other processes."""
    narrator.step(_("Which container and pod the cgroup names say pid {pid} is in", pid=pid))
    found = runtimes.recognise_process(paths)
    recognised = found[1] if found else None
    narrator.fact("runtime", recognised.runtime if recognised else None, show=False)
    narrator.fact("container_id", recognised.container_id if recognised else None, show=False)
    narrator.fact("pod_uid", recognised.pod_uid if recognised else None, show=False)
    narrator.fact("qos_class", recognised.qos_class if recognised else None, show=False)
    narrator.fact("role", recognised.role if recognised else None, show=False)
    narrator.fact("kubelet", recognised.kubelet if recognised else False, show=False)
    narrator.fact("cgroup_driver", recognised.driver if recognised else None, show=False)
    narrator.fact("isodemo_run", recognised.isodemo_run if recognised else None, show=False)
    if found is None or recognised is None:
        narrator.fact("recognised_cgroup", None, show=False)
        narrator.explain(
            _(
                "No name in its cgroup paths is one that docker, containerd, CRI-O, podman, the kubelet or "
                "isodemo gives: to the kernel this is a process like any other."
            )
        )
        _pod_sharing(narrator, pid, links, reference, {}, run=None, container_id=None)
        return
    controller = found[0]
    path = paths[controller]
    narrator.fact(
        "recognised_cgroup", {"controller": controller, "path": path, "pattern": recognised.pattern}, show=False
    )
    rows = [
        [_("runtime"), recognised.runtime or _("not named by the path")],
        [_("role"), _roles().get(recognised.role, recognised.role)],
        [_("container id"), recognised.container_id or "-"],
        [_("pod"), recognised.pod_uid or "-"],
        [_("QoS class"), recognised.qos_class or "-"],
        [_("cgroup driver"), recognised.driver or "-"],
        [_("recognised name"), recognised.pattern],
    ]
    narrator.table(path, [_("what"), _("read from the cgroup path")], rows)
    if recognised.runtime is None:
        narrator.explain(
            _(
                "The kubelet's cgroupfs driver names the container's cgroup by its bare id: containerd and "
                "cri-dockerd both do that, so the path does not say which of them runs it (`crictl ps` does)."
            )
        )
    if recognised.kubelet:
        narrator.explain(
            _(
                "The kubelet made the pod's cgroup (pod<uid>, below kubepods and its QoS class); the runtime made "
                "the container's cgroup inside it. On a node, `crictl inspectp` shows the same pod uid."
            )
        )
    run = recognised.isodemo_run if recognised.pod_path is None else None
    _pod_sharing(
        narrator, pid, links, reference, runtimes.pod_paths(paths), run=run, container_id=recognised.container_id
    )


def _roles() -> dict[str, str]:
    return {
        "container": _("a container's process"),
        "conmon": _("the runtime's monitor (conmon), outside the container"),
        "pod": _("a process in the pod's own cgroup"),
        "shim": _("isodemo's shim: it waits for the container's PID 1, as containerd-shim does"),
    }


@dataclass(frozen=True)
class _Peer:
    comm: str
    container: runtimes.Recognised | None
    links: dict[str, str]


def _pod_processes(pid: int, pod_paths: dict[str, str], run: str | None) -> dict[int, _Peer]:
    """Every other live process whose cgroup, in one of the hierarchies, is the pod's or below it, with what
    its cgroup names say and the namespaces it has. (podman's conmon is in the pod's v1 cgroups only.) For an
    isodemo container outside a kubepods layout: the other processes of its run, by cgroup or by name
    (isodemo names its own processes isodemo-<run>, the pause of `isodemo pod` among them)."""
    found: dict[int, _Peer] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == pid:
            continue
        try:
            theirs, comm = procfs.cgroup(entry), kprocess.comm(entry)
            if pod_paths:
                member = any(c in theirs and runtimes.in_pod(theirs[c], p) for c, p in pod_paths.items())
            else:
                member = runs.run_id_of(comm) == run or any(_of_run(p, run) for p in theirs.values())
            if member and not procfs.is_zombie(entry):
                recognised = runtimes.recognise_process(theirs)
                found[int(entry)] = _Peer(comm, recognised[1] if recognised else None, _links(entry))
        except OSError:  # it exited while being read
            continue
    return dict(sorted(found.items()))


def _of_run(path: str, run: str | None) -> bool:
    found = runtimes.recognise(path)
    return found is not None and found.isodemo_run == run


def _pod_sharing(
    narrator: Narrator,
    pid: int,
    links: dict[str, str],
    reference: tuple[str, dict[str, str]],
    pod_paths: dict[str, str],
    *,
    run: str | None,
    container_id: str | None,
) -> None:
    """Which namespaces pid shares with each other process of its pod (or isodemo run); the facts always.

    `shared_namespaces` counts only the other containers' processes (the pause's first of all): a process of
    the same container (isodemo's or a runtime's helper in its mount namespace) shares everything."""
    reference_name, reference_links = reference
    others = _pod_processes(pid, pod_paths, run) if pod_paths or run else {}
    shares_with = {
        str(other): sorted(ns for ns, link in peer.links.items() if links.get(ns) == link)
        for other, peer in others.items()
    }
    shared = sorted(
        {
            ns
            for other, peer in others.items()
            if container_id is None or peer.container is None or peer.container.container_id != container_id
            for ns in shares_with[str(other)]
            if links[ns] != reference_links.get(ns)
        }
    )
    own = sorted(ns for ns, link in links.items() if link != reference_links.get(ns) and ns not in shared)
    narrator.fact("shares_with", shares_with, show=False)
    narrator.fact("shared_namespaces", shared, show=False)
    narrator.fact("own_namespaces", own, show=False)
    if pod_paths:
        pod_path = next(iter(pod_paths.values()))
        narrator.step(
            _("Namespaces pid {pid} shares with the other processes of its pod", pid=pid),
            shell=[f"sudo ls -l /proc/{pid}/ns", f"grep -l {pod_path} /proc/[0-9]*/cgroup"],
        )
    elif run:
        pod_path = f"isodemo-{run}"
        narrator.step(
            _("Namespaces pid {pid} shares with the other processes of isodemo run {run}", pid=pid, run=run),
            shell=[f"sudo ls -l /proc/{pid}/ns", f"grep -l isodemo-{run} /proc/[0-9]*/cgroup /proc/[0-9]*/comm"],
        )
    else:
        return
    rows = []
    for other, peer in others.items():
        what = ""
        if peer.container is not None:
            cid = peer.container.container_id
            what = (cid[:12] if len(cid) == 64 else cid) if cid else peer.container.role
        rows.append([str(other), peer.comm, what, " ".join(shares_with[str(other)]) or "-"])
    narrator.table(pod_path, ["pid", _("command"), _("container"), _("same namespaces")], rows)
    if shared:
        narrator.explain(
            _(
                "Shared with the pod's other containers and not with {reference}: {shared}. The pod's infra "
                "(pause) process made these namespaces and holds them; every container of the pod joined them "
                "with setns(2).",
                reference=reference_name,
                shared=", ".join(shared),
            )
        )
    if own:
        narrator.explain(_("Its own, shared with no other container of the pod: {own}.", own=", ".join(own)))
