"""The node's side of hostPath volumes, in a directory of this run that stands for the node's own files:
the hostPath types the kubelet checks (pkg/volume/hostpath/host_path.go checkType), the shared mount a
propagating volume needs as its source, and mounts isodemo makes under it from the host.

Nothing of the host is touched: every path here is under /tmp/isodemo-<run>-node.
"""

from __future__ import annotations

import contextlib
import os
import stat

from isodemo import runs
from isodemo.errors import IsodemoError
from isodemo.i18n import _
from isodemo.kernel import mount, procfs
from isodemo.volumes import tree

KIND = "node-dir"


class Node:
    """/tmp/isodemo-<run>-node, removed whole (its mounts first) at the end."""

    def __init__(self, run: runs.Run) -> None:
        self.run = run
        self.root = os.path.join(runs.SHARED_TMP_NAME, run.object_name("node"))

    def __enter__(self) -> Node:
        self.run.note(KIND, self.root)
        os.mkdir(self.root, 0o755)
        return self

    def __exit__(self, *exc: object) -> None:
        tree.remove(self.root)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)


def check_type(path: str, kind: str) -> str:
    """checkType for DirectoryOrCreate (made 0755 when missing) and File (must exist, a regular file);
    returns the call made or checked."""
    if kind == "DirectoryOrCreate":
        if not os.path.lexists(path):
            os.mkdir(path, 0o755)
            return f'mkdir("{path}", 0755)'
        if not os.path.isdir(path):
            raise IsodemoError(_("hostPath {path} is not a directory", path=path))
        return f'stat("{path}"): S_IFDIR'
    if kind == "File":
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = 0
        if not stat.S_ISREG(mode):
            raise IsodemoError(_("hostPath {path} is not a file", path=path))
        return f'lstat("{path}"): S_IFREG'
    raise ValueError(kind)


class SharedBind:
    """`mount --bind X X; mount --make-rshared X`: X becomes a mount of its own, in a peer group that a new
    mount namespace's copy joins, so mounts under it can propagate (sharedsubtree.rst). Unmounted at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.calls = [
            mount.call_text(path, path, None, mount.MS_BIND),
            mount.call_text(None, path, None, mount.MS_SHARED | mount.MS_REC),
        ]
        self.shell = [f"mount --bind {path} {path}", f"mount --make-rshared {path}"]

    def __enter__(self) -> SharedBind:
        mount.bind(self.path, self.path)
        mount.mount(None, self.path, None, mount.MS_SHARED | mount.MS_REC)
        return self

    def __exit__(self, *exc: object) -> None:
        tree.unmount_all(self.path)


class HostTmpfs:
    """A small tmpfs isodemo mounts from the host at `path` (made if missing), unmounted at the end. With
    `made_elsewhere`, isodemo only unmounts it: a container made it, and propagation brought it here."""

    def __init__(self, path: str, *, made_elsewhere: bool = False) -> None:
        self.path = path
        self.made_elsewhere = made_elsewhere
        self.call = mount.call_text("tmpfs", path, "tmpfs", 0, "size=1m")

    def __enter__(self) -> HostTmpfs:
        if not self.made_elsewhere:
            os.makedirs(self.path, 0o755, exist_ok=True)
            mount.mount("tmpfs", self.path, "tmpfs", 0, "size=1m")
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(FileNotFoundError):
            tree.unmount_all(self.path)


def tags(pid: int | str, path: str) -> str:
    """The propagation fields of the mount at `path` in /proc/PID/mountinfo ("shared:5 master:3"), or
    "private" when it has none; "" when nothing is mounted there."""
    found = [entry for entry in procfs.mountinfo(pid) if entry.mount_point == path]
    if not found:
        return ""
    fields = [tag for tag in found[-1].optional if tag.split(":")[0] in ("shared", "master", "propagate_from")]
    return " ".join(fields) or "private"
