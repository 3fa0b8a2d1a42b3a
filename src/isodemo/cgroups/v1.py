"""cgroup v1: one hierarchy per controller, each mounted at /sys/fs/cgroup/<controller>.

isodemo's cgroup in each hierarchy is a child of the calling process's own cgroup there (from
/proc/self/cgroup): isodemo never writes to a cgroup it did not create. The files have other names than on
v2: memory.limit_in_bytes, cpu.cfs_quota_us, cpu.shares, cpuacct.usage, blkio.throttle.*_bps_device.
"""

from __future__ import annotations

import os

from isodemo.cgroups.base import (
    Cgroup,
    CgroupfsMount,
    CgroupWrite,
    parse_keyed,
    read_file,
    release,
    write_file,
)
from isodemo.errors import MissingFeature
from isodemo.host import CGROUP_ROOT
from isodemo.i18n import N_, _
from isodemo.kernel import procfs

TYPE_CHECKING = False  # collections.abc imports collections (~1 ms of every start); mypy treats this as true
if TYPE_CHECKING:
    from collections.abc import Sequence

# The v1 hierarchies behind each v2 controller name ("devices": v2 has a BPF program instead, see v2.py).
V1_CONTROLLERS = {
    "memory": ("memory",),
    "cpu": ("cpu", "cpuacct"),
    "pids": ("pids",),
    "io": ("blkio",),
    "devices": ("devices",),
}


def hierarchies() -> dict[str, str]:
    """v1 controller -> mount point of its hierarchy (co-mounted controllers share one)."""
    found: dict[str, str] = {}
    for mount in procfs.mountinfo():
        if mount.fstype == "cgroup":
            for option in mount.super_options.split(","):
                if option not in ("rw", "ro"):
                    found.setdefault(option, mount.mount_point)
    return found


class CgroupV1(Cgroup):
    version = 1
    layout = N_("one hierarchy per controller: each controller has its own tree of cgroups")
    weight_note = N_("On v1 a weight is cpu.shares = weight x 1024 / 100: the v2 default 100 is the v1 default 1024")

    def __init__(self, name: str, controllers: Sequence[str], *, parent: CgroupV1 | None = None) -> None:
        """`parent`: a cgroup isodemo made, to nest this one in (in each of its hierarchies); by default this
        process's own cgroup."""
        super().__init__(name, controllers)
        mounts = hierarchies()
        own = procfs.cgroup("self")
        self._dirs: dict[str, str] = {}
        for controller in controllers:
            for v1 in V1_CONTROLLERS.get(controller, (controller,)):
                if parent is not None:
                    if v1 not in parent._dirs:
                        raise ValueError(f"{parent.name} has no {v1} hierarchy to nest {name} in")
                    self._dirs[v1] = os.path.join(parent._dirs[v1], name)
                    continue
                if v1 not in mounts:
                    raise MissingFeature(
                        _("the {controller} cgroup v1 controller is not mounted", controller=v1),
                        _(
                            "mount the v1 hierarchy, e.g. mount -t cgroup -o {controller} cgroup "
                            "/sys/fs/cgroup/{controller}",
                            controller=v1,
                        ),
                    )
                base = os.path.join(mounts[v1], own.get(v1, "/").lstrip("/"))
                self._dirs[v1] = os.path.join(base, name)

    @property
    def path(self) -> str:
        return next(iter(self._dirs.values()), CGROUP_ROOT)

    @property
    def paths(self) -> list[str]:
        return list(dict.fromkeys(self._dirs.values()))  # co-mounted controllers share a directory

    @property
    def _first(self) -> str:
        """The v1 controller of self.path: the first one asked for."""
        return next(iter(self._dirs), "")

    @property
    def proc_key(self) -> str:
        return self._first

    @property
    def hierarchy_root(self) -> str:
        return hierarchies().get(self._first, CGROUP_ROOT)

    def cgroupfs_mount(self) -> CgroupfsMount:
        return CgroupfsMount("cgroup", self._first)

    def controller_dir(self, controller: str) -> str:
        first = V1_CONTROLLERS.get(controller, (controller,))[0]
        return self._dirs[first]

    def child(self, name: str, controllers: Sequence[str] | None = None) -> CgroupV1:
        """`mkdir <this>/<name>` in each hierarchy: v1 has no subtree_control, every controller of a
        hierarchy applies to every cgroup in it."""
        return CgroupV1(name, self.controllers if controllers is None else controllers, parent=self)

    def create(self) -> None:
        for directory in self.paths:
            os.mkdir(directory)
            self.setup_commands.append(f"mkdir {directory}")

    def remove(self) -> None:
        failures = []
        for directory in self.paths:  # every hierarchy, even when one of them fails
            try:
                release(directory)
            except (OSError, MissingFeature) as error:
                failures.append(f"{directory}: {error}")
        if failures:
            raise MissingFeature(_("could not remove {failures}", failures="; ".join(failures)))

    def _file(self, v1: str, filename: str) -> str:
        return os.path.join(self._dirs[v1], filename)

    # memory
    def set_memory_limit(self, limit: int) -> list[CgroupWrite]:
        return [write_file(self._file("memory", "memory.limit_in_bytes"), str(limit))]

    def disable_swap(self) -> CgroupWrite | None:
        """memsw is memory plus swap: setting it to the memory limit leaves no room for swap."""
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        if not os.path.exists(memsw):  # swap accounting is off (swapaccount=0) or absent
            return None
        return write_file(memsw, read_file(self._file("memory", "memory.limit_in_bytes")))

    def set_swap_limit(self, memory: int, memory_swap: int) -> CgroupWrite | None:
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        if not os.path.exists(memsw):
            return None
        return write_file(memsw, str(memory_swap))

    def memory_current(self) -> int:
        return int(read_file(self.memory_usage_file))

    @property
    def memory_usage_file(self) -> str:
        return self._file("memory", "memory.usage_in_bytes")

    def memory_peak(self) -> int | None:
        return int(read_file(self._file("memory", "memory.max_usage_in_bytes")))

    @property
    def memory_peak_file(self) -> str | None:
        return self._file("memory", "memory.max_usage_in_bytes")

    def oom_kills(self) -> tuple[int, str]:
        return parse_keyed(read_file(self._file("memory", "memory.oom_control"))).get("oom_kill", 0), (
            "memory.oom_control"
        )

    # cpu
    def set_cpu_quota(self, quota_us: int, period_us: int) -> list[CgroupWrite]:
        return [
            write_file(self._file("cpu", "cpu.cfs_period_us"), str(period_us)),
            write_file(self._file("cpu", "cpu.cfs_quota_us"), str(quota_us)),
        ]

    def set_cpu_weight(self, weight: int) -> CgroupWrite:
        return write_file(self._file("cpu", "cpu.shares"), str(weight * 1024 // 100))

    def set_cpu_shares(self, shares: int) -> CgroupWrite:
        return write_file(self._file("cpu", "cpu.shares"), str(shares))

    def cpu_usage_usec(self) -> int:
        return int(read_file(self.cpu_usage_file)) // 1000  # nanoseconds on v1

    @property
    def cpu_usage_file(self) -> str:
        return self._file("cpuacct", "cpuacct.usage")

    def cpu_stat(self) -> dict[str, int]:
        return parse_keyed(read_file(self._file("cpu", "cpu.stat")))

    # pids
    def set_pids_max(self, limit: int) -> CgroupWrite:
        return write_file(self._file("pids", "pids.max"), str(limit))

    # io
    def set_io_limit(self, device: str, *, rbps: int, wbps: int) -> list[CgroupWrite]:
        return [
            write_file(self._file("blkio", "blkio.throttle.read_bps_device"), f"{device} {rbps}"),
            write_file(self._file("blkio", "blkio.throttle.write_bps_device"), f"{device} {wbps}"),
        ]

    def set_io_write_limit(self, device: str, wbps: int) -> CgroupWrite:
        return write_file(self._file("blkio", "blkio.throttle.write_bps_device"), f"{device} {wbps}")

    # devices
    def allow_devices(self, rules: Sequence[str]) -> list[CgroupWrite]:
        """A new cgroup copies its parent's list; `a` in devices.deny empties it and denies by default, then
        each devices.allow write adds one exception (one rule per write)."""
        writes = [write_file(self._file("devices", "devices.deny"), "a")]
        writes += [write_file(self._file("devices", "devices.allow"), rule) for rule in rules]
        return writes
