"""cgroup v2, the unified hierarchy: one tree, every controller's files in the same directory.

Layout: /sys/fs/cgroup/isodemo/isodemo-<run>-<leaf>. The `isodemo` directory never holds a process (the
"no internal processes" rule), so it can enable controllers for its children in its cgroup.subtree_control.
Controllers reach it only if the root delegates them (root's cgroup.subtree_control: systemd enables cpu,
io, memory and pids); isodemo never writes to a cgroup it did not create, so it says what is missing.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Sequence

from isodemo.cgroups.base import (
    Cgroup,
    CgroupFileError,
    CgroupfsMount,
    CgroupWrite,
    DeviceProgram,
    parse_keyed,
    read_file,
    release,
    shares_to_weight,
    write_file,
)
from isodemo.errors import MissingFeature
from isodemo.host import CGROUP_ROOT
from isodemo.i18n import N_, _

TOP = os.path.join(CGROUP_ROOT, "isodemo")
# Controller names that v2 has no cgroup.subtree_control entry for: "devices" is a BPF program attached to
# the cgroup (allow_devices), so asking for it enables nothing.
BPF_CONTROLLERS = ("devices",)


def missing_controllers(controllers: Sequence[str], root: str = CGROUP_ROOT) -> MissingFeature | None:
    """Why these controllers cannot be used under `root`, or None when they can."""
    available = read_file(os.path.join(root, "cgroup.controllers")).split()
    enabled = read_file(os.path.join(root, "cgroup.subtree_control")).split()
    for controller in controllers:
        if controller not in available:
            return MissingFeature(
                _("this kernel has no {controller} controller in cgroup v2", controller=controller),
                _("{root}/cgroup.controllers lists: {available}", root=root, available=" ".join(available))
                if available
                else _("{root}/cgroup.controllers lists nothing", root=root),
            )
        if controller not in enabled:
            return MissingFeature(
                _(
                    "the {controller} controller is not enabled for children of {root}",
                    controller=controller,
                    root=root,
                ),
                _(
                    "enable it: echo +{controller} > {root}/cgroup.subtree_control "
                    "(systemd does this for cpu, io, memory and pids)",
                    controller=controller,
                    root=root,
                ),
            )
    return None


class CgroupV2(Cgroup):
    version = 2
    layout = N_("one tree, every controller's files in each cgroup's one directory")
    weight_note = N_("On v2 cpu.weight takes the weight as it is: 1 to 10000, default 100")

    def __init__(self, name: str, controllers: Sequence[str], top: str = TOP) -> None:
        super().__init__(name, [c for c in controllers if c not in BPF_CONTROLLERS])
        self.top = top
        self._path = os.path.join(top, name)
        self._owns_top = top == TOP  # a delegated cgroup (rootless) is the user's: never removed

    @property
    def path(self) -> str:
        return self._path

    @property
    def paths(self) -> list[str]:
        return [self._path]

    @property
    def proc_key(self) -> str:
        return ""

    @property
    def hierarchy_root(self) -> str:
        return CGROUP_ROOT

    def cgroupfs_mount(self) -> CgroupfsMount:
        return CgroupfsMount("cgroup2")

    def create(self) -> None:
        problem = missing_controllers(self.controllers, os.path.dirname(self.top))
        if problem:
            raise problem
        wanted = " ".join(f"+{c}" for c in self.controllers)
        for attempt in range(3):  # another run may remove the empty top directory between our steps
            done: list[str] = []  # what this attempt ran: shown once, however many attempts it took
            if self._owns_top:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(self.top)
                    done.append(f"mkdir {self.top}")
            try:
                if self.controllers:
                    self._enable(wanted)
                    done.append(f'echo "{wanted}" > {self.top}/cgroup.subtree_control')
                os.mkdir(self._path)
                self.setup_commands.extend([*done, f"mkdir {self._path}"])
                return
            except (FileNotFoundError, CgroupFileError) as error:
                if attempt == 2 or (isinstance(error, CgroupFileError) and os.path.isdir(self.top)):
                    raise

    def _enable(self, wanted: str) -> None:
        """A subtree_control write succeeds or fails as a whole; on failure, find which controller refused."""
        control = os.path.join(self.top, "cgroup.subtree_control")
        try:
            write_file(control, wanted)
        except CgroupFileError:
            for controller in self.controllers:
                write_file(control, f"+{controller}")  # raises, naming the one that fails
            raise

    def remove(self) -> None:
        release(self._path)
        if not self._owns_top:
            return
        try:  # the top directory goes when the last run's cgroup is gone
            os.rmdir(self.top)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EBUSY, errno.ENOENT):
                raise

    def child(self, name: str, controllers: Sequence[str] | None = None) -> CgroupV2:
        """Inside this cgroup, which then holds no process (v2's no-internal-processes rule): created with
        `echo "+cpu +memory" > <this>/cgroup.subtree_control` and `mkdir <this>/<name>`."""
        return CgroupV2(name, self.controllers if controllers is None else controllers, self._path)

    # memory
    def set_memory_limit(self, limit: int) -> list[CgroupWrite]:
        return [write_file(os.path.join(self._path, "memory.max"), str(limit))]

    def disable_swap(self) -> CgroupWrite | None:
        swap = os.path.join(self._path, "memory.swap.max")
        return write_file(swap, "0") if os.path.exists(swap) else None

    def set_swap_limit(self, memory: int, memory_swap: int) -> CgroupWrite | None:
        swap = os.path.join(self._path, "memory.swap.max")
        if not os.path.exists(swap):
            return None
        return write_file(swap, "max" if memory_swap < 0 else str(max(0, memory_swap - memory)))

    def memory_current(self) -> int:
        return int(read_file(self.memory_usage_file))

    @property
    def memory_usage_file(self) -> str:
        return os.path.join(self._path, "memory.current")

    def memory_peak(self) -> int | None:
        peak = self.memory_peak_file
        return int(read_file(peak)) if peak else None

    @property
    def memory_peak_file(self) -> str | None:
        peak = os.path.join(self._path, "memory.peak")  # Linux 5.19
        return peak if os.path.exists(peak) else None

    def oom_kills(self) -> tuple[int, str]:
        return parse_keyed(self.read("memory.events")).get("oom_kill", 0), "memory.events"

    # cpu
    def set_cpu_quota(self, quota_us: int, period_us: int) -> list[CgroupWrite]:
        return [write_file(os.path.join(self._path, "cpu.max"), f"{quota_us} {period_us}")]

    def set_cpu_weight(self, weight: int) -> CgroupWrite:
        return write_file(os.path.join(self._path, "cpu.weight"), str(weight))

    def set_cpu_shares(self, shares: int) -> CgroupWrite:
        return write_file(os.path.join(self._path, "cpu.weight"), str(shares_to_weight(shares)))

    def cpu_usage_usec(self) -> int:
        return self.cpu_stat()["usage_usec"]

    @property
    def cpu_usage_file(self) -> str:
        return os.path.join(self._path, "cpu.stat")

    def cpu_stat(self) -> dict[str, int]:
        return parse_keyed(self.read("cpu.stat"))

    # pids
    def set_pids_max(self, limit: int) -> CgroupWrite:
        return write_file(os.path.join(self._path, "pids.max"), str(limit))

    # io
    def set_io_limit(self, device: str, *, rbps: int, wbps: int) -> list[CgroupWrite]:
        return [write_file(os.path.join(self._path, "io.max"), f"{device} rbps={rbps} wbps={wbps}")]

    def set_io_write_limit(self, device: str, wbps: int) -> CgroupWrite:
        return write_file(os.path.join(self._path, "io.max"), f"{device} wbps={wbps}")

    # devices
    def allow_devices(self, rules: Sequence[str]) -> list[CgroupWrite]:
        """One BPF_PROG_TYPE_CGROUP_DEVICE program made from the rules (kernel/bpf.py), attached to this
        cgroup. The cgroup holds it, no file descriptor stays open; it goes when the cgroup is removed."""
        from isodemo.kernel import bpf

        program_id = bpf.attach_device_filter(self._path, rules)
        value = f"BPF_PROG_ATTACH BPF_CGROUP_DEVICE: {len(rules)} rules"
        return [DeviceProgram(self._path, value, program_id)]
