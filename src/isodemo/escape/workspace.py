"""/tmp/isodemo-<run>-escape: everything the attacks aim at, made by isodemo and removed whole at the end.

    marker         a "host file" outside every root the attacks start in: reading it is escaping
    owned/file     root-owned, bound into containers (-v) to see who may change it
    suid/busybox   a copy of busybox, setuid root (mode 4755), bound in for the no_new_privs attempt
    results/NAME   one directory per container, bound on its /results: each attempt's status and output
    jail/          the directory a plain chroot starts in
    <run>-disk.img the file behind the loop device (escape/disk.py)

The directory is noted in the run's record as a volume tree (leftovers.py `_volume_trees`), so `isodemo
cleanup` removes it after a SIGKILL.
"""

from __future__ import annotations

import os
import shutil

from isodemo import runs
from isodemo.volumes import node, tree

MARKER_TEXT = "a host file: reading it means the process is out of its root\n"
OWNED_TEXT = "made by isodemo, owned by root\n"


class Workspace:
    """The directory and its files; `path()` names one of them."""

    def __init__(self, run: runs.Run) -> None:
        self.run = run
        self.root = os.path.join(runs.SHARED_TMP_NAME, run.object_name("escape"))

    def __enter__(self) -> Workspace:
        self.run.note(node.KIND, self.root)  # before it exists: cleanup finds it after a SIGKILL
        os.mkdir(self.root, 0o755)
        return self

    def __exit__(self, *exc: object) -> None:
        tree.remove(self.root)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def marker(self) -> str:
        return self.path("marker")

    @property
    def owned(self) -> str:
        return self.path("owned", "file")

    def make_targets(self, busybox: str) -> None:
        """The marker, the root-owned file, the setuid busybox and the chroot jail."""
        _write(self.marker, MARKER_TEXT, 0o644)
        os.mkdir(self.path("owned"), 0o755)
        _write(self.owned, OWNED_TEXT, 0o644)
        os.mkdir(self.path("suid"), 0o755)
        shutil.copyfile(busybox, self.path("suid", "busybox"))
        os.chmod(self.path("suid", "busybox"), 0o4755)  # chmod after the copy: umask cannot drop the bit
        os.mkdir(self.path("jail"), 0o755)
        os.mkdir(self.path("results"), 0o755)

    def results(self, name: str) -> str:
        """A fresh results directory for container `name`, writable by any uid (a -u 1000 or --userns root)."""
        path = self.path("results", name)
        os.mkdir(path)
        os.chmod(path, 0o777)
        return path

    def read_owned(self) -> str:
        with open(self.owned) as f:
            return f.read()


def _write(path: str, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
