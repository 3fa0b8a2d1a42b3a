"""mnt: a container's filesystem view is a private copy of the mount table, then a new root.

What you will see: the new mount namespace made private first; a tmpfs mounted inside that the host never
sees; a busybox-static root filesystem built in it; pivot_root into it; the old root detached; and the
host's mount table exactly as before.
Kubernetes: container images (a root filesystem) and volumes (mounts into the container's namespace).
"""

from __future__ import annotations

from isodemo import host as hostinfo
from isodemo import rootfs
from isodemo.context import DemoContext
from isodemo.i18n import _
from isodemo.inside import filesystem, processes
from isodemo.isolated import Isolated
from isodemo.kernel import process as kprocess
from isodemo.kernel import procfs
from isodemo.narrate.base import Narrator

MARKER = "hello-from-inside"


def _host_mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def run(narrator: Narrator, ctx: DemoContext) -> None:
    busybox = hostinfo.require_static_busybox()
    host_table_before = _host_mountinfo()
    box = _private_namespace(narrator, ctx)
    directory = _tmpfs(narrator, ctx, box)
    _busybox_root(narrator, box, directory, busybox)
    _pivot_root(narrator, box, directory)
    _detach_old_root(narrator, box)
    ctx.hold_here(
        narrator,
        {"container": box.pid},
        [
            ctx.as_root(f"nsenter -t {box.pid} -m -p ls /"),
            ctx.as_root(f"cat /proc/{box.pid}/mountinfo"),
            f"ls {directory}",
        ],
        paths={"rootfs": directory},
    )
    narrator.step(_("The host's mount table"), shell=["cat /proc/self/mountinfo", f"findmnt -R {directory}"])
    host_mounts_unchanged(narrator, host_table_before, _host_mountinfo(), directory)
    narrator.kubernetes(
        _(
            "A container image is a root filesystem like this one, usually read-only layers stacked with "
            "overlayfs plus one writable layer, and the runtime pivot_roots into it. Volumes are mounts made "
            "into "
            "the container's mount namespace before it starts: emptyDir is a directory (or a tmpfs with "
            "medium: Memory), hostPath a bind mount of a host path. A volumeMount's mountPropagation "
            "(None, HostToContainer, Bidirectional) is exactly the private/slave/shared propagation seen here."
        )
    )


def _private_namespace(narrator: Narrator, ctx: DemoContext) -> Isolated:
    narrator.step(
        _("A new mount namespace, made private first"),
        syscalls=[
            "unshare(CLONE_NEWNS|CLONE_NEWPID)",
            'mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)',
            "clone(SIGCHLD)  (fork)",
        ],
        shell=[
            ctx.as_root("unshare --mount --pid --fork --propagation private sh"),
            "findmnt -o TARGET,PROPAGATION /",
        ],
    )
    narrator.explain(
        _(
            "A new mount namespace starts as a copy of the caller's mount table, and keeps each mount's "
            "propagation. Where / is shared (systemd makes it so), every mount made inside would be "
            "propagated back to the host (a leak), and pivot_root would fail with EINVAL. isodemo's helper "
            "makes every mount "
            "private right after unshare, before anything is mounted: what `unshare --mount` does by default "
            "(--propagation private)."
        )
    )
    box = ctx.isolated(["mnt", "pid"])
    host_propagation = filesystem.root_propagation()
    if host_propagation == "shared":
        narrator.explain(
            _("Here / is shared on the host: without that first step, the tmpfs below would appear on the host too.")
        )
    else:
        narrator.explain(
            _(
                "Here / is already {propagation} on the host (PID 1 is {comm}), so nothing "
                "would leak on this machine; where systemd is PID 1, it would.",
                propagation=host_propagation,
                comm=kprocess.comm(1),
            )
        )
    inside_propagation = box.call(filesystem.root_propagation)
    narrator.compare(_("propagation of / (findmnt -o PROPAGATION /)"), host_propagation, inside_propagation)
    narrator.fact("propagation_host", host_propagation)
    narrator.check(
        "propagation",
        inside_propagation,
        _("inside, / is private: no mount event travels to or from the host"),
        inside_propagation == "private",
        show=True,
    )
    host_count = len(filesystem.mount_points())
    inside_count = len(box.call(filesystem.mount_points))
    narrator.compare(_("mounts in /proc/self/mountinfo"), f"{host_count}", f"{inside_count}")
    narrator.claim(_("the new namespace starts with a copy of the host's mount table"), inside_count == host_count)
    return box


def _tmpfs(narrator: Narrator, ctx: DemoContext, box: Isolated) -> str:
    directory = ctx.enter(rootfs.RootfsDir(ctx.run)).path
    narrator.step(
        _("A tmpfs that only the inside can see"),
        syscalls=[f'mount("isodemo-rootfs", "{directory}", "tmpfs", MS_NOSUID|MS_NODEV, "size=64m,mode=755")'],
        shell=[
            f"mount -t tmpfs -o size=64m,mode=755 isodemo-rootfs {directory}",
            f"echo hi > {directory}/{MARKER}",
        ],
    )
    narrator.explain(
        _(
            "isodemo made the empty directory {directory} on the host. The child mounts a tmpfs on "
            "it and writes a file. Same path, two different views.",
            directory=directory,
        )
    )
    box.call(filesystem.mount_tmpfs, directory)
    box.call(filesystem.write_file, f"{directory}/{MARKER}", "written inside the mount namespace\n")
    host_listing = filesystem.listdir(directory)
    inside_listing = box.call(filesystem.listdir, directory)
    narrator.compare(f"ls {directory}", host_listing or [_("(empty)")], inside_listing)
    inside_mounted = directory in box.call(filesystem.mount_points)
    host_mounted = directory in filesystem.mount_points()
    visible_inside = MARKER in inside_listing and inside_mounted
    visible_on_host = MARKER in host_listing or host_mounted
    narrator.check(
        "tmpfs_visible_inside",
        visible_inside,
        _("inside, the tmpfs is mounted and holds the file"),
        visible_inside,
        show=True,
    )
    narrator.check(
        "tmpfs_visible_on_host",
        visible_on_host,
        _("on the host the directory is empty and nothing is mounted there"),
        not host_listing and not host_mounted,
        show=True,
    )
    return directory


def _busybox_root(narrator: Narrator, box: Isolated, directory: str, busybox: str) -> None:
    narrator.step(
        _("A root filesystem: busybox-static in the tmpfs"),
        syscalls=[
            f'mkdir("{directory}/bin", 0777)  (and dev, etc, proc, root, sys, tmp, .old_root)',
            f"sendfile(fd of {directory}/bin/busybox, fd of {busybox}, ...)  (cp)",
            f'symlink("busybox", "{directory}/bin/sh")  (one per applet)',
        ],
        shell=[
            f"cd {directory} && mkdir -p bin dev etc proc root sys tmp .old_root && cp {busybox} bin/",
            "for applet in $(bin/busybox --list); do ln -sf busybox bin/$applet; done",
        ],
    )
    applets = box.call(filesystem.populate_busybox, directory, busybox)
    narrator.explain(
        _(
            "One static binary, {n} programs: sh, ls, ps, mount... linked to it. This is all "
            "a container image is: a directory tree with the programs and files the container needs. "
            "The empty .old_root is where pivot_root will put the old root, in the next step.",
            n=applets,
        )
    )
    narrator.fact("busybox_applets", applets)
    narrator.compare(
        f"ls {directory}", filesystem.listdir(directory) or [_("(empty)")], box.call(filesystem.listdir, directory)
    )


def _pivot_root(narrator: Narrator, box: Isolated, directory: str) -> None:
    narrator.step(
        _("pivot_root: the tmpfs becomes /"),
        syscalls=[
            f'chdir("{directory}")',
            'pivot_root(".", ".old_root")',
            'chdir("/")',
            'mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)',
        ],
        shell=[f"cd {directory} && pivot_root . .old_root && cd /", "mount -t proc proc /proc"],
    )
    narrator.explain(
        _(
            "pivot_root(2) swaps the root mount of this mount namespace: the new root must be a mount "
            "point, and the old root is moved under it (here /.old_root), still reachable. chroot(2) "
            "would only change this process's view of /, and is easy to escape."
        )
    )
    listing = narrator.fact("root_after_pivot", box.call(filesystem.pivot_into, directory))
    box.call(filesystem.mount_proc)
    narrator.compare("ls /", filesystem.listdir("/"), listing)
    narrator.claim(_("inside, / is the busybox tree"), "bin" in listing and filesystem.PUT_OLD in listing)
    ps_inside = box.call(filesystem.run_inside, ["/bin/ps", "-o", "pid,comm"])
    narrator.compare(
        _("processes: the host's /proc, and busybox ps run from the new root"),
        [*processes.ps()[:3], "..."],
        ps_inside.splitlines(),
    )


def _detach_old_root(narrator: Narrator, box: Isolated) -> None:
    narrator.step(
        _("Detach the old root"),
        syscalls=['umount2("/.old_root", MNT_DETACH)', 'rmdir("/.old_root")'],
        shell=["umount -l /.old_root && rmdir /.old_root", "cat /proc/self/mountinfo"],
    )
    under_old = [p for p in box.call(filesystem.mount_points) if p.startswith("/" + filesystem.PUT_OLD)]
    box.call(filesystem.detach_old_root)
    inside_mounts = box.call(filesystem.mount_points)
    narrator.explain(
        _(
            "Before: {n} of the host's mounts were still reachable under /.old_root. "
            "A lazy unmount (MNT_DETACH) removes them all from this namespace at once.",
            n=len(under_old),
        )
    )
    narrator.compare(_("mount points"), _("{n} mounts on the host", n=len(filesystem.mount_points())), inside_mounts)
    detached = not any(p.startswith("/" + filesystem.PUT_OLD) for p in inside_mounts)
    gone = detached and filesystem.PUT_OLD not in box.call(filesystem.listdir, "/")
    narrator.check(
        "old_root_detached",
        gone,
        _("no mount of the host is reachable from inside, and /.old_root is gone"),
        gone,
        show=True,
    )


def host_mounts_unchanged(narrator: Narrator, before_text: str, after_text: str, directory: str) -> bool:
    """Claim that no mount made inside reached the host: compare the host's mount tables before and after."""
    before = procfs.parse_mountinfo(before_text)
    after = procfs.parse_mountinfo(after_text)
    known = {m.mount_id for m in before}
    added = [m for m in after if m.mount_id not in known]
    ours = [m for m in added if m.mount_point.startswith(directory) or "isodemo" in m.source]
    narrator.compare(
        _("mounts in the host's /proc/self/mountinfo"),
        [_("before the demo: {n}", n=len(before))],
        [_("now: {n}, of them isodemo's: {ours}", n=len(after), ours=len(ours))],
        host_title=_("before"),
        inside_title=_("after"),
    )
    narrator.fact("host_mounts_count", len(before))
    narrator.fact("host_mounts_added_by_others", len(added) - len(ours))
    return narrator.check(
        "host_mounts_unchanged",
        not ours,
        _("no mount made inside reached the host: nothing under {directory}, no isodemo-rootfs", directory=directory),
        not ours,
        show=True,
    )
