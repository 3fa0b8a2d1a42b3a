"""cgroupns: a container sees its own cgroup as the root of the tree.

What you will see: a child is put into a new cgroup and then unshares a cgroup namespace. Inside,
/proc/self/cgroup says `/` while the host reads the full path; the cgroups above it show as `/..`; and a
cgroup filesystem mounted inside has the container's cgroup as its root.
Kubernetes: inside a container /sys/fs/cgroup is its own cgroup, so memory.max there is its limit.
"""

from __future__ import annotations

import os
import posixpath

from isodemo import probes
from isodemo.cgroups import v1
from isodemo.cgroups.base import procs_of
from isodemo.demos.context import DemoContext, show_namespace_identity
from isodemo.host import CGROUP_ROOT
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    cgroup = ctx.cgroup("box", ["memory"])
    key = "" if cgroup.version == 2 else "memory"  # the /proc/PID/cgroup line to read: v2's, or v1 memory's
    line = "the 0:: line" if cgroup.version == 2 else "the memory line"
    narrator.fact("cgroup_version", cgroup.version)
    narrator.step(
        "Into a cgroup, then a new cgroup namespace",
        syscalls=[f"write({cgroup.path}/cgroup.procs, PID)", "unshare(CLONE_NEWCGROUP|CLONE_NEWNS)", "fork()"],
        shell=[
            *cgroup.setup_commands,
            f"echo $$ | sudo tee {cgroup.path}/cgroup.procs",
            "sudo unshare --cgroup --mount sh",
        ],
    )
    narrator.explain(
        "A cgroup namespace takes the cgroup its creator is in at unshare() time as its root. So isodemo's "
        "helper waits while isodemo moves it into a new cgroup, then unshares; the child it forks is born in "
        "both. Nothing moves and no limit changes: only the paths that the inside reads are cut at the root."
    )
    box = ctx.isolated(["cgroup", "mnt"], before_unshare=cgroup.add)
    inside = narrator.fact("cgroup_inside", box.call(probes.cgroup_of, "self", key))
    from_host = narrator.fact("cgroup_seen_from_host", probes.cgroup_of(box.pid, key))
    narrator.fact("cgroup_path", cgroup.path)
    narrator.compare(f"/proc/{box.pid}/cgroup ({line})", from_host, inside)
    narrator.claim("inside, the child's cgroup is /", inside == "/")
    narrator.claim(
        f"the host sees the full path, ending in {os.path.basename(cgroup.path)}",
        from_host.endswith("/" + os.path.basename(cgroup.path)),
    )
    narrator.claim(f"the child really is in {cgroup.path}", box.pid in cgroup.procs())
    show_namespace_identity(narrator, box, "cgroup")

    narrator.step(
        "Above the root: paths that start with /..",
        syscalls=[f"open(/proc/{os.getpid()}/cgroup)  (inside)"],
        shell=[f"cat /proc/{os.getpid()}/cgroup   (inside)"],
    )
    parent_host = probes.cgroup_of(os.getpid(), key)
    expected = "/" + posixpath.relpath(parent_host, from_host)
    narrator.explain(
        f"isodemo itself, pid {os.getpid()}, is not in the child's cgroup: it is in {parent_host}, outside "
        "the child's root. The child can still read its /proc entry (no pid namespace here), and the kernel "
        "writes that path relative to the child's root: each `..` climbs one level out of it. The namespace "
        "hides names; it is not a wall."
    )
    parent_inside = narrator.fact("parent_cgroup_seen_inside", box.call(probes.cgroup_of, os.getpid(), key))
    narrator.compare(f"/proc/{os.getpid()}/cgroup ({line})", parent_host, parent_inside)
    narrator.claim(
        f"inside, isodemo's own cgroup is {expected}: {parent_host} seen from {from_host}", parent_inside == expected
    )

    host_dir = CGROUP_ROOT if cgroup.version == 2 else v1.hierarchies()["memory"]
    mounted = CGROUP_ROOT if cgroup.version == 2 else f"{CGROUP_ROOT}/memory"
    mounts = (
        ["mount -t tmpfs tmpfs /sys/fs/cgroup", "mount -t cgroup2 cgroup2 /sys/fs/cgroup"]
        if cgroup.version == 2
        else [
            "mount -t tmpfs tmpfs /sys/fs/cgroup",
            "mkdir /sys/fs/cgroup/memory",
            "mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory",
        ]
    )
    narrator.step(
        "What the container sees under /sys/fs/cgroup",
        syscalls=[
            'mount("isodemo-cgroupfs", "/sys/fs/cgroup", "tmpfs", ...)',
            'mount("cgroup", ..., "cgroup2" or "cgroup", ...)',
        ],
        shell=[*mounts, f"ls {mounted}", f"cat {mounted}/cgroup.procs"],
    )
    narrator.explain(
        "A container runtime builds /sys/fs/cgroup in the container's mount namespace: a tmpfs, and on it a "
        "fresh cgroup filesystem. Mounted from inside a cgroup namespace, that filesystem's root directory is "
        "the namespace's root: the container's own cgroup, with its limits and its processes, and nothing "
        "above or beside it. The host's /sys/fs/cgroup is another mount, in another mount namespace."
    )
    inside_dir = box.call(probes.mount_cgroupfs, CGROUP_ROOT, key)
    entries = box.call(probes.listdir, inside_dir)
    procs_inside = sorted(box.call(procs_of, inside_dir))
    procs_host = sorted(cgroup.procs())
    host_children = probes.subdirectories(host_dir)
    inside_children = box.call(probes.subdirectories, inside_dir)
    narrator.compare(
        f"ls {host_dir} (the host's mount)  |  ls {inside_dir} (the new mount, inside)",
        [f"{len(host_children)} cgroup(s) at the top: {', '.join(host_children[:4])}"],
        [f"{len(entries)} files, {len(inside_children)} cgroups", *_limit_files(entries)],
    )
    narrator.compare(
        "cgroup.procs",
        f"{cgroup.path}/cgroup.procs: {procs_host}",
        f"{inside_dir}/cgroup.procs: {procs_inside}",
    )
    narrator.fact("cgroupfs_root_procs_inside", procs_inside)
    narrator.claim(
        f"inside, {inside_dir} is the container's cgroup: its cgroup.procs lists exactly the box's processes",
        procs_inside == procs_host,
    )
    narrator.claim(
        "no cgroup below or beside it is visible there",
        inside_children == [] and os.path.basename(cgroup.path) not in entries,
    )
    narrator.claim(
        f"the host's view is unchanged: the box's cgroup is still at {cgroup.path}", os.path.isdir(cgroup.path)
    )

    ctx.hold_here(
        narrator,
        {"cgroupns": box.pid},
        [f"cat /proc/{box.pid}/cgroup", f"sudo nsenter -t {box.pid} --cgroup cat /proc/{box.pid}/cgroup"],
        cgroups=cgroup.paths,
    )
    narrator.kubernetes(
        "On cgroup v2, containerd and CRI-O give every container a private cgroup namespace (Docker's "
        "default --cgroupns=private). The host sees kubepods.slice/kubepods-burstable.slice/"
        "kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope; the container sees `0::/`, and its "
        "/sys/fs/cgroup/memory.max is its own limits.memory. That is where the JVM and the Go runtime read "
        "the limits they size their heaps and threads by."
    )


def _limit_files(entries: list[str]) -> list[str]:
    """The files a learner recognises: where the processes and the memory limit are."""
    return [e for e in entries if e in ("cgroup.procs", "memory.max", "memory.limit_in_bytes", "memory.current")]
