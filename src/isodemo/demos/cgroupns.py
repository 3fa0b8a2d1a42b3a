"""cgroupns: a container sees its own cgroup as the root of the tree.

What you will see: a child is put into a new cgroup and then unshares a cgroup namespace. Inside,
/proc/self/cgroup says `/` while the host reads the full path; the cgroups above it show as `/..`; and a
cgroup filesystem mounted inside has the container's cgroup as its root.
Kubernetes: inside a container /sys/fs/cgroup is its own cgroup, so memory.max there is its limit.
"""

from __future__ import annotations

import os
import posixpath

from isodemo.cgroups.base import Cgroup
from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.host import CGROUP_ROOT
from isodemo.i18n import _, ngettext
from isodemo.inside import filesystem, processes
from isodemo.isolated import Isolated
from isodemo.kernel import procfs
from isodemo.narrate.base import Narrator

TMPFS_SOURCE = "isodemo-cgroupfs"  # what the child's tmpfs on /sys/fs/cgroup is called in mountinfo


def run(narrator: Narrator, ctx: DemoContext) -> None:
    cgroup = ctx.cgroup("box", ["memory"])
    narrator.fact("cgroup_version", cgroup.version)
    box, from_host = _into_a_namespace(narrator, ctx, cgroup)
    _above_the_root(narrator, box, cgroup, from_host)
    _cgroupfs_inside(narrator, box, cgroup)
    ctx.hold_here(
        narrator,
        {"cgroupns": box.pid},
        [f"cat /proc/{box.pid}/cgroup", f"sudo nsenter -t {box.pid} --cgroup cat /proc/{box.pid}/cgroup"],
        cgroups=cgroup.paths,
    )
    narrator.kubernetes(
        _(
            "On cgroup v2, containerd and CRI-O give every container a private cgroup namespace (Docker's "
            "default --cgroupns=private). The host sees kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope; the container sees `0::/`, and its "
            "/sys/fs/cgroup/memory.max is its own limits.memory. That is where the JVM and the Go runtime read "
            "the limits they size their heaps and threads by."
        )
    )


def _into_a_namespace(narrator: Narrator, ctx: DemoContext, cgroup: Cgroup) -> tuple[Isolated, str]:
    key = cgroup.proc_key
    narrator.step(
        _("Into a cgroup, then a new cgroup namespace"),
        syscalls=[
            f"write({cgroup.path}/cgroup.procs, PID)",
            "unshare(CLONE_NEWCGROUP|CLONE_NEWNS)",
            "clone(SIGCHLD)  (fork)",
        ],
        shell=[
            *cgroup.setup_commands,
            f"echo $$ | sudo tee {cgroup.path}/cgroup.procs",
            "sudo unshare --cgroup --mount sh",
        ],
    )
    narrator.explain(
        _(
            "A cgroup namespace takes the cgroup its creator is in at unshare() time as its root. So isodemo's "
            "helper waits while isodemo moves it into a new cgroup, then unshares; the child it forks is born in "
            "both. Nothing moves and no limit changes: only the paths that the inside reads are cut at the root."
        )
    )
    box = ctx.isolated(["cgroup", "mnt"], before_unshare=cgroup.add)
    inside = narrator.fact("cgroup_inside", box.call(processes.cgroup_of, "self", key))
    from_host = narrator.fact("cgroup_seen_from_host", processes.cgroup_of(box.pid, key))
    narrator.fact("cgroup_path", cgroup.path)
    narrator.compare(f"/proc/{box.pid}/cgroup ({cgroup.proc_line})", from_host, inside)
    narrator.claim(_("inside, the child's cgroup is /"), inside == "/")
    narrator.claim(
        _("the host sees the full path, ending in {name}", name=os.path.basename(cgroup.path)),
        from_host.endswith("/" + os.path.basename(cgroup.path)),
    )
    narrator.claim(_("the child really is in {path}", path=cgroup.path), box.pid in cgroup.procs())
    show_namespace_identity(narrator, box, "cgroup")
    return box, from_host


def _above_the_root(narrator: Narrator, box: Isolated, cgroup: Cgroup, from_host: str) -> None:
    me, key = os.getpid(), cgroup.proc_key
    narrator.step(
        _("Above the root: paths that start with /.."),
        syscalls=[f'openat(AT_FDCWD, "/proc/{me}/cgroup", O_RDONLY)  (inside)'],
        shell=[f"cat /proc/{me}/cgroup   (inside)"],
    )
    parent_host = processes.cgroup_of(me, key)
    expected = "/" + posixpath.relpath(parent_host, from_host)
    narrator.explain(
        _(
            "isodemo itself, pid {pid}, is not in the child's cgroup: it is in {path}, outside "
            "the child's root. The child can still read its /proc entry (no pid namespace here), and the kernel "
            "writes that path relative to the child's root: each `..` climbs one level out of it. The namespace "
            "hides names; it is not a wall.",
            pid=me,
            path=parent_host,
        )
    )
    parent_inside = box.call(processes.cgroup_of, me, key)
    narrator.compare(f"/proc/{me}/cgroup ({cgroup.proc_line})", parent_host, parent_inside)
    narrator.check(
        "parent_cgroup_seen_inside",
        parent_inside,
        _(
            "inside, isodemo's own cgroup is {expected}: {path} seen from {root}",
            expected=expected,
            path=parent_host,
            root=from_host,
        ),
        parent_inside == expected,
        show=True,
    )


def _cgroupfs_inside(narrator: Narrator, box: Isolated, cgroup: Cgroup) -> None:
    fs = cgroup.cgroupfs_mount()
    mounted = fs.target(CGROUP_ROOT)
    narrator.step(
        _("What the container sees under /sys/fs/cgroup"),
        syscalls=[
            f'mount("{TMPFS_SOURCE}", "{CGROUP_ROOT}", "tmpfs", MS_NOSUID|MS_NODEV|MS_NOEXEC, "mode=755")',
            fs.syscall(CGROUP_ROOT),
        ],
        shell=[*fs.shell(CGROUP_ROOT), f"ls {mounted}", f"cat {mounted}/cgroup.procs"],
    )
    narrator.explain(
        _(
            "A container runtime builds /sys/fs/cgroup in the container's mount namespace: a tmpfs, and on it a "
            "fresh cgroup filesystem. Mounted from inside a cgroup namespace, that filesystem's root directory is "
            "the namespace's root: the container's own cgroup, with its limits and its processes, and nothing "
            "above or beside it. The host's /sys/fs/cgroup is another mount, in another mount namespace."
        )
    )
    host_before = procfs.mountinfo()
    inside_dir = box.call(filesystem.mount_cgroupfs, CGROUP_ROOT, fs.options)
    host_after = procfs.mountinfo()
    entries = box.call(filesystem.listdir, inside_dir)
    procs_inside = sorted(box.call(processes.cgroup_procs, inside_dir))
    procs_host = sorted(cgroup.procs())
    host_dir = cgroup.hierarchy_root
    host_children = filesystem.subdirectories(host_dir)
    inside_children = box.call(filesystem.subdirectories, inside_dir)
    narrator.compare(
        _(
            "ls {host_dir} (the host's mount)  |  ls {inside_dir} (the new mount, inside)",
            host_dir=host_dir,
            inside_dir=inside_dir,
        ),
        [
            ngettext(
                "{n} cgroup at the top: {names}",
                "{n} cgroups at the top: {names}",
                len(host_children),
                names=", ".join(host_children[:4]),
            )
        ],
        [
            _("{files} files, {cgroups} cgroups", files=len(entries), cgroups=len(inside_children)),
            *_limit_files(entries),
        ],
    )
    narrator.compare(
        "cgroup.procs",
        f"{cgroup.path}/cgroup.procs: {procs_host}",
        f"{inside_dir}/cgroup.procs: {procs_inside}",
    )
    narrator.check(
        "cgroupfs_root_procs_inside",
        procs_inside,
        _(
            "inside, {path} is the container's cgroup: its cgroup.procs lists exactly the box's processes",
            path=inside_dir,
        ),
        procs_inside == procs_host,
        show=True,
    )
    narrator.claim(
        _("no cgroup below or beside it is visible there"),
        inside_children == [] and os.path.basename(cgroup.path) not in entries,
    )
    host_view_unchanged(narrator, host_before, host_after, host_dir)


def host_view_unchanged(
    narrator: Narrator, before: list[procfs.MountInfo], after: list[procfs.MountInfo], host_dir: str
) -> bool:
    """Claim that the mounts made inside did not reach the host: the host's cgroup mount at `host_dir` is the
    same mount as before, and no mount under /sys/fs/cgroup, and no isodemo tmpfs, was added to its table."""
    known = {m.mount_id for m in before}
    added = [
        m.mount_point
        for m in after
        if m.mount_id not in known and (_under(m.mount_point, CGROUP_ROOT) or m.source == TMPFS_SOURCE)
    ]
    mount_of = {m.mount_point: m.mount_id for m in before}
    still = {m.mount_point: m.mount_id for m in after}.get(host_dir) == mount_of.get(host_dir)
    narrator.compare(
        _("the host's /proc/self/mountinfo"),
        [_("{n} mounts; {path} is mount {id}", n=len(before), path=host_dir, id=mount_of.get(host_dir))],
        [_("{n} mounts; cgroup mounts added: {added}", n=len(after), added=added or _("none"))],
        host_title=_("before the mount inside"),
        inside_title=_("after"),
    )
    return narrator.check(
        "host_cgroup_mounts_added",
        added,
        _(
            "the host's mount table is unchanged: {path} is still mount {id}, "
            "and nothing was mounted under {root} on the host",
            path=host_dir,
            id=mount_of.get(host_dir),
            root=CGROUP_ROOT,
        ),
        still and not added,
    )


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def _limit_files(entries: list[str]) -> list[str]:
    """The files a learner recognises: where the processes and the memory limit are."""
    return [e for e in entries if e in ("cgroup.procs", "memory.max", "memory.limit_in_bytes", "memory.current")]
