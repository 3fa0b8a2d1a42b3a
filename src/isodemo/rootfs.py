"""A root filesystem for a container: a busybox-static tree in a tmpfs, and pivot_root into it.

`RootfsDir` is the host side: an empty directory `/tmp/isodemo-<id>-rootfs` that serves as the mount
point, removed afterwards. Everything else runs inside the Isolated child's private mount namespace, so
the tmpfs, the tree and the pivot are invisible to the host and vanish with the namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from types import TracebackType

from isodemo.kernel import mount
from isodemo.runs import SHARED_TMP, Run

PUT_OLD = ".old_root"
DIRECTORIES = ("bin", "dev", "etc", "proc", "root", "sys", "tmp", PUT_OLD)


class RootfsDir:
    """Owns the (host-side, empty) directory that the container's tmpfs is mounted on."""

    def __init__(self, run: Run) -> None:
        self.path = os.path.join(SHARED_TMP, run.object_name("rootfs"))

    def __enter__(self) -> RootfsDir:
        os.mkdir(self.path, 0o755)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        remove_tree(self.path)


def remove_tree(path: str) -> None:
    """Remove a directory isodemo made; never follow it onto a mount (that would be someone's data)."""
    if os.path.ismount(path):
        raise OSError(f"{path} is a mount point on this side; refusing to delete through it")
    shutil.rmtree(path, ignore_errors=False)


# -- these run inside the Isolated child --------------------------------------------------------------


def mount_tmpfs(path: str, size: str = "64m") -> None:
    """`mount -t tmpfs -o size=64m,mode=755 tmpfs PATH`."""
    mount.mount("isodemo-rootfs", path, "tmpfs", mount.MS_NOSUID | mount.MS_NODEV, f"size={size},mode=755")


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
