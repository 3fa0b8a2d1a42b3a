"""isodemo-<run>-escape: everything the attacks aim at, made by isodemo and removed whole at the end.

    marker         a "host file" outside every root the attacks start in: reading it is escaping
    owned/file     root-owned, bound into containers (-v) to see who may change it
    suid/busybox   a copy of busybox, setuid root (mode 4755), bound in for the no_new_privs attempt
    results/NAME   one directory per container, bound on its /results, owned by the uid that writes there
    jail/          the directory a plain chroot starts in
    <run>-disk.img the file behind the loop device (escape/disk.py)

Where: /tmp, unless /tmp is mounted nosuid (Fedora's, Arch's and Debian 13's tmpfs are): a bind mount keeps
its source's nosuid, and the setuid busybox would not be setuid in the container. Then /var/tmp, checked the
same way; when both are nosuid, MissingFeature (exit 3).

Who may enter: root, and the group of a --userns container's root (USERNS_BASE), mode 0710, as the runtime's
own container directories: no local user can run the setuid busybox or reach the targets, and the --userns
container's child, which resolves its volumes' host paths as host uid USERNS_BASE, still passes through.

The directory is noted in the run's record under KIND before it exists (leftovers.py `_escape_workspaces`),
so `isodemo cleanup` removes it after a SIGKILL.
"""

from __future__ import annotations

import os
import shutil

from isodemo import runs
from isodemo.errors import MissingFeature
from isodemo.i18n import _
from isodemo.volumes import tree

KIND = "escape-dir"
PLACES = (runs.SHARED_TMP_NAME, "/var/tmp")  # where a workspace may be, in the order they are tried
MARKER_TEXT = "a host file: reading it means the process is out of its root\n"
OWNED_TEXT = "made by isodemo, owned by root\n"


def place() -> str:
    """The first of PLACES whose filesystem honours the setuid bit (statvfs(3) f_flag without ST_NOSUID)."""
    for candidate in PLACES:
        if not os.statvfs(candidate).f_flag & os.ST_NOSUID:
            return candidate
    raise MissingFeature(
        _(
            "{places} are mounted nosuid: a setuid file there is not setuid in a container, so the "
            "no_new_privs attempt cannot be made",
            places=" ".join(PLACES),
        ),
        _("remount one of them without nosuid for the lesson: sudo mount -o remount,suid /var/tmp"),
    )


class Workspace:
    """The directory and its files; `path()` names one of them."""

    def __init__(self, run: runs.Run) -> None:
        self.run = run
        self.root = os.path.join(place(), run.object_name("escape"))

    def __enter__(self) -> Workspace:
        from isodemo.container.runtime import USERNS_BASE  # here: leftovers.py imports this module for KIND

        self.run.note(KIND, self.root)  # before it exists: cleanup finds it after a SIGKILL
        os.mkdir(self.root, 0o700)
        os.chown(self.root, 0, USERNS_BASE)
        os.chmod(self.root, 0o710)
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

    def results(self, name: str, owner: int = 0) -> str:
        """A fresh results directory for container `name`, owned by the host uid that writes there (a -u 1000
        container's user, a --userns container's root as the host sees it)."""
        path = self.path("results", name)
        os.mkdir(path, 0o755)
        os.chown(path, owner, -1)
        return path

    def read_owned(self) -> str:
        with open(self.owned) as f:
            return f.read()


def _write(path: str, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
