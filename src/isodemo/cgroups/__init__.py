"""cgroups: one `Cgroup` interface, a v2 (unified) and a v1 backend, chosen from what the host mounts.

A demo asks for "a memory limit of 64 MiB"; the backend writes the real file of this machine
(`memory.max` on v2, `memory.limit_in_bytes` on v1) and returns the write, so the narrator shows the
learner the true kernel interface. docs/cgroups.md explains the layout and the choices.
"""

from __future__ import annotations

from isodemo.cgroups.base import Cgroup, CgroupWrite
from isodemo.errors import MissingFeature
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Sequence

    from isodemo.runs import Run

__all__ = ["Cgroup", "CgroupWrite", "cleanup_candidates", "open_cgroup", "remove_leftover"]


def remove_leftover(path: str) -> None:
    """Kill what is left in an isodemo cgroup of a dead run and remove it (and v2's top, once empty)."""
    import contextlib
    import os

    from isodemo.cgroups.base import release
    from isodemo.cgroups.v2 import TOP

    release(path)
    if os.path.dirname(path) == TOP:
        with contextlib.suppress(OSError):  # still in use by a live run: it stays
            os.rmdir(TOP)


def cleanup_candidates() -> list[str]:
    """Directories where isodemo's cgroups live on this host, whichever hierarchy is mounted."""
    import glob
    import os

    from isodemo.cgroups.v1 import hierarchies
    from isodemo.cgroups.v2 import TOP
    from isodemo.kernel import procfs

    found = glob.glob(os.path.join(TOP, "isodemo-*"))
    own = procfs.cgroup("self")
    for controller, mount_point in hierarchies().items():
        parent = os.path.join(mount_point, own.get(controller, "/").lstrip("/"))
        found += glob.glob(os.path.join(parent, "isodemo-*"))
    return sorted(set(found))


def open_cgroup(run: Run, leaf: str, controllers: Sequence[str], mode: str, top: str | None = None) -> Cgroup:
    """A (not yet created) cgroup named isodemo-<run>-<leaf>, with the v2 names of the controllers it needs.

    `mode` is host.Host.cgroup_mode: v2 uses the unified tree; v1 and hybrid use the v1 controllers.
    `top` is a delegated v2 cgroup to work in (rootless), instead of /sys/fs/cgroup/isodemo.
    """
    if mode == "v2":
        from isodemo.cgroups.v2 import TOP, CgroupV2

        return CgroupV2(run.object_name(leaf), controllers, top or TOP)
    if mode in ("v1", "hybrid"):
        from isodemo.cgroups.v1 import CgroupV1

        return CgroupV1(run.object_name(leaf), controllers)
    raise MissingFeature(
        _("no cgroup filesystem is mounted at /sys/fs/cgroup"),
        _("mount cgroup2 there: mount -t cgroup2 none /sys/fs/cgroup (systemd does it at boot)"),
    )
