"""mnt: a container's filesystem view is a private copy of the mount table, then a new root.

What you will see: the new mount namespace made private first; a tmpfs mounted inside that the host never
sees; a busybox-static root filesystem built in it; pivot_root into it; the old root detached; and the
host's mount table exactly as before.
Kubernetes: container images (a root filesystem) and volumes (mounts into the container's namespace).
"""

from __future__ import annotations

from isodemo import host as hostinfo
from isodemo import probes, rootfs
from isodemo.demos.context import DemoContext
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

    narrator.step(
        "A new mount namespace, made private first",
        syscalls=["unshare(CLONE_NEWNS|CLONE_NEWPID)", 'mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)'],
        shell=[
            ctx.as_root("unshare --mount --pid --fork --propagation private sh"),
            "findmnt -o TARGET,PROPAGATION /",
        ],
    )
    narrator.explain(
        "A new mount namespace starts as a copy of the caller's mount table, and keeps each mount's "
        "propagation. Where / is shared (systemd makes it so), every mount made inside would be "
        "propagated back to the host (a leak), and pivot_root would fail with EINVAL. isodemo's helper "
        "makes every mount "
        "private right after unshare, before anything is mounted: what `unshare --mount` does by default "
        "(--propagation private)."
    )
    box = ctx.isolated(["mnt", "pid"])
    host_propagation = probes.root_propagation()
    if host_propagation == "shared":
        narrator.explain(
            "Here / is shared on the host: without that first step, the tmpfs below would appear on the host too."
        )
    else:
        narrator.explain(
            f"Here / is already {host_propagation} on the host (PID 1 is {kprocess.comm(1)}), so nothing "
            "would leak on this machine; where systemd is PID 1, it would."
        )
    inside_propagation = narrator.fact("propagation", box.call(probes.root_propagation))
    narrator.compare("propagation of / (findmnt -o PROPAGATION /)", host_propagation, inside_propagation)
    narrator.fact("propagation_host", host_propagation)
    narrator.claim("inside, / is private: no mount event travels to or from the host", inside_propagation == "private")
    host_count = len(probes.mount_points())
    inside_count = len(box.call(probes.mount_points))
    narrator.compare("mounts in /proc/self/mountinfo", f"{host_count}", f"{inside_count}")
    narrator.claim("the new namespace starts with a copy of the host's mount table", inside_count == host_count)

    directory = ctx.enter(rootfs.RootfsDir(ctx.run)).path
    narrator.step(
        "A tmpfs that only the inside can see",
        syscalls=[f'mount("isodemo-rootfs", "{directory}", "tmpfs", MS_NOSUID|MS_NODEV, "size=64m,mode=755")'],
        shell=[
            f"mount -t tmpfs -o size=64m,mode=755 isodemo-rootfs {directory}",
            f"echo hi > {directory}/{MARKER}",
        ],
    )
    narrator.explain(
        f"isodemo made the empty directory {directory} on the host. The child mounts a tmpfs on "
        "it and writes a file. Same path, two different views."
    )
    box.call(rootfs.mount_tmpfs, directory)
    box.call(probes.write_file, f"{directory}/{MARKER}", "written inside the mount namespace\n")
    host_listing = probes.listdir(directory)
    inside_listing = box.call(probes.listdir, directory)
    narrator.compare(f"ls {directory}", host_listing or ["(empty)"], inside_listing)
    inside_mounted = directory in box.call(probes.mount_points)
    host_mounted = directory in probes.mount_points()
    narrator.fact("tmpfs_visible_inside", MARKER in inside_listing and inside_mounted)
    narrator.fact("tmpfs_visible_on_host", MARKER in host_listing or host_mounted)
    narrator.claim("inside, the tmpfs is mounted and holds the file", MARKER in inside_listing and inside_mounted)
    narrator.claim(
        "on the host the directory is empty and nothing is mounted there",
        not host_listing and not host_mounted,
    )

    narrator.step(
        "A root filesystem: busybox-static in the tmpfs",
        syscalls=["mkdir(2), open(2)/write(2) to copy busybox, symlink(2) per applet, inside the tmpfs"],
        shell=[
            f"cd {directory} && mkdir -p bin dev etc proc root sys tmp .old_root && cp {busybox} bin/",
            "for applet in $(bin/busybox --list); do ln -sf busybox bin/$applet; done",
        ],
    )
    applets = box.call(rootfs.populate_busybox, directory, busybox)
    narrator.explain(
        f"One static binary, {applets} programs: sh, ls, ps, mount... linked to it. This is all "
        "a container image is: a directory tree with the programs and files the container needs. "
        "The empty .old_root is where pivot_root will put the old root, in the next step."
    )
    narrator.fact("busybox_applets", applets)
    narrator.compare(f"ls {directory}", probes.listdir(directory) or ["(empty)"], box.call(probes.listdir, directory))

    narrator.step(
        "pivot_root: the tmpfs becomes /",
        syscalls=[
            f'chdir("{directory}")',
            'pivot_root(".", ".old_root")',
            'chdir("/")',
            'mount("proc", "/proc", "proc", ...)',
        ],
        shell=[f"cd {directory} && pivot_root . .old_root && cd /", "mount -t proc proc /proc"],
    )
    narrator.explain(
        "pivot_root(2) swaps the root mount of this mount namespace: the new root must be a mount "
        "point, and the old root is moved under it (here /.old_root), still reachable. chroot(2) "
        "would only change this process's view of /, and is easy to escape."
    )
    listing = narrator.fact("root_after_pivot", box.call(rootfs.pivot_into, directory))
    box.call(probes.mount_proc)
    narrator.compare("ls /", probes.listdir("/"), listing)
    narrator.claim("inside, / is the busybox tree", "bin" in listing and rootfs.PUT_OLD in listing)
    ps_inside = box.call(rootfs.run_inside, ["/bin/ps", "-o", "pid,comm"])
    narrator.compare(
        "processes: the host's /proc, and busybox ps run from the new root",
        [*probes.processes()[:3], "..."],
        ps_inside.splitlines(),
    )

    narrator.step(
        "Detach the old root",
        syscalls=['umount2("/.old_root", MNT_DETACH)', 'rmdir("/.old_root")'],
        shell=["umount -l /.old_root && rmdir /.old_root", "cat /proc/self/mountinfo"],
    )
    under_old = [p for p in box.call(probes.mount_points) if p.startswith("/" + rootfs.PUT_OLD)]
    box.call(rootfs.detach_old_root)
    inside_mounts = box.call(probes.mount_points)
    narrator.explain(
        f"Before: {len(under_old)} of the host's mounts were still reachable under /.old_root. "
        "A lazy unmount (MNT_DETACH) removes them all from this namespace at once."
    )
    narrator.compare("mount points", f"{len(probes.mount_points())} mounts on the host", inside_mounts)
    detached = not any(p.startswith("/" + rootfs.PUT_OLD) for p in inside_mounts)
    narrator.fact("old_root_detached", detached and rootfs.PUT_OLD not in box.call(probes.listdir, "/"))
    narrator.claim("no mount of the host is reachable from inside", detached)

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
    narrator.step("The host's mount table", shell=["cat /proc/self/mountinfo", f"findmnt -R {directory}"])
    before = procfs.parse_mountinfo(host_table_before)
    after = procfs.parse_mountinfo(_host_mountinfo())
    known = {m.mount_id for m in before}
    added = [m for m in after if m.mount_id not in known]
    ours = [m for m in after if m.mount_point.startswith(directory) or "isodemo" in m.source]
    narrator.compare(
        "mounts in the host's /proc/self/mountinfo",
        [f"before the demo: {len(before)}"],
        [f"now: {len(after)}, of them isodemo's: {len(ours)}"],
        host_title="before",
        inside_title="after",
    )
    unchanged = narrator.fact("host_mounts_unchanged", not ours)
    narrator.fact("host_mounts_count", len(before))
    narrator.fact("host_mounts_added_by_others", len(added) - len([m for m in added if m in ours]))
    narrator.claim(f"no mount made inside reached the host: nothing under {directory}, no isodemo-rootfs", unchanged)
    narrator.kubernetes(
        "A container image is a root filesystem like this one, usually read-only layers stacked with "
        "overlayfs plus one writable layer, and the runtime pivot_roots into it. Volumes are mounts made "
        "into "
        "the container's mount namespace before it starts: emptyDir is a directory (or a tmpfs with "
        "medium: Memory), hostPath a bind mount of a host path. A volumeMount's mountPropagation "
        "(None, HostToContainer, Bidirectional) is exactly the private/slave/shared propagation seen here."
    )
