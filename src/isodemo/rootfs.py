"""The host side of a container's root filesystem: the empty directory its tmpfs is mounted on.

`RootfsDir` owns `/tmp/isodemo-<id>-rootfs`, the mount point, and removes it afterwards. Everything else (the
tmpfs, the busybox tree, pivot_root) happens inside the Isolated child's private mount namespace, with the
functions of `isodemo.inside.filesystem`, so it is invisible to the host and vanishes with the namespace.
"""

from __future__ import annotations

import os
import shutil
from types import TracebackType

from isodemo.runs import SHARED_TMP, Run


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
