"""A directory tree of one run that may have mounts in it (the kubelet's pods/, the node's hostPath files):
removed mount by mount, deepest first, and only then file by file. A tree that still has a mount under it is
never emptied: removing files through a mount would delete what is in the mounted filesystem."""

from __future__ import annotations

import contextlib
import os
import shutil

from isodemo.i18n import _
from isodemo.kernel import mount, procfs


class TreeBusy(OSError):
    """A mount is still under the tree: its files are left alone."""


def mounts_under(top: str) -> list[str]:
    """Mount points at or under `top` in this mount namespace, deepest (last mounted) first."""
    real = os.path.realpath(top)
    points = [
        e.mount_point for e in procfs.mountinfo() if e.mount_point == real or e.mount_point.startswith(real + "/")
    ]
    return list(reversed(points))


def unmount_all(top: str) -> list[str]:
    """umount2(MNT_DETACH) every mount under `top`, the last one made first; returns the calls made."""
    calls = []
    for point in mounts_under(top):
        with contextlib.suppress(FileNotFoundError):
            try:
                mount.umount2(point, mount.MNT_DETACH)
            except OSError as error:  # gone with its parent meanwhile (a propagated unmount)
                if os.path.ismount(point):
                    raise error from None
                continue
            calls.append(f'umount2("{point}", MNT_DETACH)')
    return calls


def remove(top: str) -> None:
    """Unmount what is under `top`, then remove it; never follows a symlink (shutil.rmtree's fd-based walk)."""
    if os.path.islink(top) or not os.path.isdir(top):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(top)
        return
    unmount_all(top)
    left = mounts_under(top)
    if left:
        raise TreeBusy(_("{path} still has mounts under it: {mounts}", path=top, mounts=", ".join(left)))
    shutil.rmtree(top)
