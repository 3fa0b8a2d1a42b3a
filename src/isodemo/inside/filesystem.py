"""Mounts and files as the calling process sees them, and the steps that build a container's root
filesystem inside its mount namespace: mount a tmpfs, fill it with busybox, pivot_root into it.

Like every module of `isodemo.inside`: plain module-level functions that a demo runs inside the Isolated
child with `box.call(fn, ...)`, or calls directly for the host's view. They import only `isodemo.kernel`
and `isodemo.errors`. Run inside, a mount made here lives in the child's private mount namespace and
vanishes with it; the host-side mount point itself is `isodemo.rootfs.RootfsDir`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from isodemo.kernel import mount, procfs

PUT_OLD = ".old_root"  # where pivot_root puts the old / inside the new root, until it is detached
DIRECTORIES = ("bin", "dev", "etc", "proc", "root", "sys", "tmp", PUT_OLD)


# -- looking ------------------------------------------------------------------------------------------------


def mount_points() -> list[str]:
    """Every mount point of this process's mount namespace, in /proc/self/mountinfo order (`findmnt -l`)."""
    return [m.mount_point for m in procfs.mountinfo()]


def root_propagation() -> str:
    """Propagation of the mount at / as this process's mount namespace sees it."""
    roots = [m for m in procfs.mountinfo() if m.mount_point == "/"]
    return roots[-1].propagation if roots else "unknown"


def proc_mount_id() -> int | None:
    """The mount id of what is mounted on /proc here (the topmost one)."""
    ids = [m.mount_id for m in procfs.mountinfo() if m.mount_point == "/proc"]
    return ids[-1] if ids else None


def listdir(path: str) -> list[str]:
    """`ls PATH`, sorted, so the two sides of a comparison line up."""
    return sorted(os.listdir(path))


def subdirectories(path: str) -> list[str]:
    """The directories in PATH (not following symlinks), sorted."""
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False))


def write_file(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


# -- mounting -----------------------------------------------------------------------------------------------


def mount_proc() -> None:
    """`mount -t proc proc /proc`: a proc that shows the pid namespace of the process that mounts it."""
    mount.mount("proc", "/proc", "proc", mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC)


def mount_tmpfs(path: str, size: str = "64m") -> None:
    """`mount -t tmpfs -o size=64m,mode=755 tmpfs PATH`."""
    mount.mount("isodemo-rootfs", path, "tmpfs", mount.MS_NOSUID | mount.MS_NODEV, f"size={size},mode=755")


def mount_cgroupfs(root: str, controller: str) -> str:
    """Build /sys/fs/cgroup the way a runtime does in a container's mount namespace: a tmpfs on ROOT, then a
    fresh cgroup2 on it (v2), or the v1 hierarchy of CONTROLLER on ROOT/CONTROLLER. Returns that directory.
    (Mounting cgroup straight over the host's mount fails with EBUSY: the same filesystem on the same place.)
    In a cgroup namespace, the new mount's root is the namespace's root cgroup."""
    flags = mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC
    mount.mount("isodemo-cgroupfs", root, "tmpfs", flags, "mode=755")
    if not controller:
        mount.mount("cgroup2", root, "cgroup2", flags)
        return root
    target = os.path.join(root, controller)
    os.mkdir(target)
    mount.mount("cgroup", target, "cgroup", flags, controller)
    return target


# -- a root filesystem --------------------------------------------------------------------------------------


def populate_busybox(root: str, busybox: str) -> int:
    """Copy a static busybox into ROOT/bin and link each applet to it; returns the number of applets."""
    for directory in DIRECTORIES:
        os.makedirs(os.path.join(root, directory), exist_ok=True)
    target = os.path.join(root, "bin", "busybox")
    shutil.copy2(busybox, target)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(root, "bin", applet)
        if not os.path.exists(link):
            os.symlink("busybox", link)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return len(applets)


def pivot_into(root: str) -> list[str]:
    """`cd ROOT && pivot_root . .old_root && cd /`; returns what / holds now.

    pivot_root needs ROOT to be a mount point (our tmpfs is) and / not to be shared (made private first).
    """
    os.chdir(root)
    mount.pivot_root(".", PUT_OLD)
    os.chdir("/")
    return sorted(os.listdir("/"))


def detach_old_root() -> None:
    """`umount -l /.old_root && rmdir /.old_root`: the host's tree is no longer reachable from here."""
    mount.umount2("/" + PUT_OLD, mount.MNT_DETACH)
    os.rmdir("/" + PUT_OLD)


def run_inside(argv: list[str]) -> str:
    """Run a program of the container's own root filesystem and return what it printed."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    return result.stdout + result.stderr
