"""What every cgroup backend offers, and the file I/O they share."""

from __future__ import annotations

import errno
import os
import time
from abc import ABC, abstractmethod

from isodemo.contexts import suppress
from isodemo.errors import MissingFeature, NeedsRoot
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from collections.abc import Sequence
    from types import TracebackType
    from typing import Final
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)

EMPTY_TIMEOUT_S = 5.0


class CgroupWrite:
    """One write to a cgroup file, kept so the narrator can show the shell command that does the same.
    (Plain classes here, not dataclasses: `isodemo run` makes a cgroup on its start-up path.)"""

    __slots__ = ("path", "value")

    def __init__(self, path: str, value: str) -> None:
        self.path: Final = path
        self.value: Final = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CgroupWrite) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.path, self.value) == (other.path, other.value)

    def __hash__(self) -> int:
        return hash((self.path, self.value))

    def __repr__(self) -> str:
        return f"CgroupWrite(path={self.path!r}, value={self.value!r})"

    @property
    def shell(self) -> str:
        value = f"'{self.value}'" if any(c in self.value for c in "*?[") else self.value  # "c *:* m": no glob
        return f"echo {value} > {self.path}"

    @property
    def syscall(self) -> str:
        return f'write({self.file}, "{self.value}")'

    @property
    def file(self) -> str:
        return os.path.basename(self.path)

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)


class DeviceProgram(CgroupWrite):
    """Not a file write: v2's device controller is a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
    cgroup (Cgroup.allow_devices). `path` is the cgroup's directory, `value` says what was attached; it is
    kept with the writes so that the narration shows it too."""

    __slots__ = ("program_id",)

    def __init__(self, path: str, value: str, program_id: int) -> None:
        super().__init__(path, value)
        self.program_id: Final = program_id

    @property
    def shell(self) -> str:
        return f"bpftool cgroup show {self.path}"  # no shell command attaches one: this shows it

    @property
    def syscall(self) -> str:
        return (
            f"bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE) = prog id {self.program_id}; "
            f"bpf(BPF_PROG_ATTACH, {self.path}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)"
        )

    @property
    def file(self) -> str:
        return ""


class CgroupfsMount:
    """How to mount a cgroup filesystem that shows a cgroup's hierarchy, as a container runtime does it.

    v2: `mount -t cgroup2 cgroup2 ROOT` (the one unified tree). v1: one hierarchy per controller, each in its
    own directory, `mount -t cgroup -o memory cgroup ROOT/memory`. `options` is the v1 controller ("" on v2):
    the mount's data, and the directory under ROOT it is mounted on.
    """

    __slots__ = ("fstype", "options")

    def __init__(self, fstype: str, options: str = "") -> None:
        self.fstype: Final = fstype
        self.options: Final = options

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CgroupfsMount) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.fstype, self.options) == (other.fstype, other.options)

    def __hash__(self) -> int:
        return hash((self.fstype, self.options))

    def __repr__(self) -> str:
        return f"CgroupfsMount(fstype={self.fstype!r}, options={self.options!r})"

    def target(self, root: str) -> str:
        return os.path.join(root, self.options) if self.options else root

    def shell(self, root: str) -> list[str]:
        """The commands, on a tmpfs at `root` (mounting over the host's own cgroup mount fails with EBUSY)."""
        commands = [f"mount -t tmpfs tmpfs {root}"]
        if self.options:
            commands.append(f"mkdir {self.target(root)}")
            return [*commands, f"mount -t cgroup -o {self.options} cgroup {self.target(root)}"]
        return [*commands, f"mount -t cgroup2 cgroup2 {root}"]

    def syscall(self, root: str) -> str:
        data = f'"{self.options}"' if self.options else "NULL"
        return f'mount("{self.fstype}", "{self.target(root)}", "{self.fstype}", MS_NOSUID|MS_NODEV|MS_NOEXEC, {data})'


class CgroupFileError(MissingFeature):
    """A cgroup file refused a write or is missing: the message names the file, the value and the errno."""


def read_file(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def write_file(path: str, value: str) -> CgroupWrite:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as error:
        name = errno.errorcode.get(error.errno or 0, "?")
        message = _(
            "writing {value} to {path} failed: {errno} ({reason})",
            value=repr(value),
            path=path,
            errno=name,
            reason=os.strerror(error.errno or 0),
        )
        if error.errno in (errno.EACCES, errno.EPERM):
            raise NeedsRoot(message, _hint(path, error.errno)) from None
        raise CgroupFileError(message, _hint(path, error.errno)) from None
    return CgroupWrite(path, value)


def _hint(path: str, code: int | None) -> str | None:
    if code == errno.ENOENT:
        return _("{file} does not exist: the controller is not enabled for this cgroup", file=os.path.basename(path))
    if code in (errno.EACCES, errno.EPERM):
        return _("only root (or the owner of a delegated cgroup) may write there: run it with sudo")
    if code == errno.EBUSY:
        return _("a cgroup with processes cannot enable controllers for children (the no-internal-processes rule)")
    return None


def parse_keyed(text: str) -> dict[str, int]:
    """`key value` lines (memory.events, cpu.stat, pids.events) -> {key: value}."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with suppress(ValueError):
            values[key] = int(value)
    return values


def procs_of(directory: str) -> list[int]:
    try:
        return [int(line) for line in read_file(os.path.join(directory, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []


def release(directory: str) -> None:
    """Empty a cgroup isodemo made, and remove it. The one way every path (demo teardown, cleanup) does it.

    With cgroup.kill (v2, Linux 5.14) one write kills every member. Otherwise each member gets SIGKILL
    through a pidfd, and only after the pidfd is open and the pid is still listed in this cgroup: a pid read
    from cgroup.procs may have been reused by an unrelated process in between.
    """
    try:  # the usual case, a cgroup already empty: one rmdir (the kernel refuses one that is not: EBUSY)
        os.rmdir(directory)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass  # members or nested cgroups (or not a directory): emptied below
    if not os.path.isdir(directory):
        return
    for child in _child_cgroups(directory):  # depth-first: a cgroup with children cannot be removed (EBUSY)
        release(child)
    kill_file = os.path.join(directory, "cgroup.kill")
    deadline = time.monotonic() + EMPTY_TIMEOUT_S
    while procs := procs_of(directory):
        if os.path.exists(kill_file):
            with suppress(OSError), open(kill_file, "w") as f:
                f.write("1")
        else:
            for pid in procs:
                _kill_member(pid, directory)
        if time.monotonic() > deadline:
            raise MissingFeature(
                _(
                    "processes {pids} in {directory} did not die within {seconds} s",
                    pids=procs,
                    directory=directory,
                    seconds=format(EMPTY_TIMEOUT_S, ".0f"),
                )
            )
        time.sleep(0.01)
    with suppress(FileNotFoundError):
        os.rmdir(directory)


def _child_cgroups(directory: str) -> list[str]:
    """The cgroups nested in this one: every subdirectory of a cgroup directory is a cgroup."""
    try:
        with os.scandir(directory) as entries:
            return sorted(e.path for e in entries if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def _kill_member(pid: int, directory: str) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if pid in procs_of(directory):  # the pidfd pins the process: this is still our member
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)


class Cgroup(ABC):
    """One cgroup (a leaf that holds processes). A context manager: created on enter; on exit, whatever
    is still inside is killed and the directories are removed, however the demo ended."""

    version: int
    layout: str  # how this version organises controllers, for the narration (N_(): shown with _())
    weight_note: str  # how set_cpu_weight's value lands in the kernel's file (N_(): shown with _())

    def __init__(self, name: str, controllers: Sequence[str]) -> None:
        self.name = name
        self.controllers = tuple(controllers)
        self.setup_commands: list[str] = []  # what create() did, as shell commands, for the narrator

    def __enter__(self) -> Cgroup:
        try:
            self.create()
        except BaseException:  # __exit__ never runs when __enter__ raises: undo what create() got done
            self.remove()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    @property
    @abstractmethod
    def path(self) -> str:
        """The directory to show the learner (v1: the one of the first controller)."""

    @property
    @abstractmethod
    def paths(self) -> list[str]:
        """Every directory this cgroup has (v2: one; v1: one per hierarchy)."""

    @abstractmethod
    def create(self) -> None: ...

    @abstractmethod
    def remove(self) -> None: ...

    def add(self, pid: int) -> list[CgroupWrite]:
        """Move a process in: write its pid to cgroup.procs (in every hierarchy on v1)."""
        return [write_file(os.path.join(path, "cgroup.procs"), str(pid)) for path in self.paths]

    def self_join_files(self) -> list[str]:
        """The files a process writes "0" to, to move itself in (isolated_child.join_cgroups): v1's `tasks`
        in every hierarchy, v2's cgroup.procs."""
        name = "tasks" if self.version == 1 else "cgroup.procs"
        return [os.path.join(path, name) for path in self.paths]

    def procs(self) -> list[int]:
        return procs_of(self.path)

    def read(self, filename: str, controller_dir: str | None = None) -> str:
        return read_file(os.path.join(controller_dir or self.path, filename))

    # where this cgroup shows, so that a demo never needs to know the version
    @property
    @abstractmethod
    def proc_key(self) -> str:
        """The key of this cgroup's hierarchy in procfs.cgroup() (/proc/PID/cgroup): "" for v2's `0::` line,
        the (first) controller's name on v1."""

    @property
    def proc_line(self) -> str:
        """That line, named for the learner."""
        return _("the {controller} line", controller=self.proc_key) if self.proc_key else _("the 0:: line")

    @property
    @abstractmethod
    def hierarchy_root(self) -> str:
        """Where the host mounts the hierarchy this cgroup (self.path) is in."""

    @abstractmethod
    def cgroupfs_mount(self) -> CgroupfsMount:
        """How a container runtime mounts this cgroup's hierarchy inside a container."""

    # memory
    @abstractmethod
    def set_memory_limit(self, limit: int) -> list[CgroupWrite]: ...

    @abstractmethod
    def disable_swap(self) -> CgroupWrite | None:
        """Forbid swap, so that the limit is reached and the OOM killer acts; None where no swap file exists."""

    @abstractmethod
    def set_swap_limit(self, memory: int, memory_swap: int) -> CgroupWrite | None:
        """docker's --memory-swap: memory plus swap in bytes (-1: unlimited swap). None where the kernel
        has no swap accounting (v1 without memory.memsw.*, v2 without memory.swap.max)."""

    @abstractmethod
    def memory_current(self) -> int: ...

    @property
    @abstractmethod
    def memory_usage_file(self) -> str:
        """The file memory_current() reads (memory.current, memory.usage_in_bytes), full path."""

    @abstractmethod
    def memory_peak(self) -> int | None: ...

    @property
    @abstractmethod
    def memory_peak_file(self) -> str | None:
        """The file memory_peak() reads, or None where the kernel has none (v2 before Linux 5.19)."""

    @abstractmethod
    def oom_kills(self) -> tuple[int, str]:
        """The oom_kill counter and the file it came from."""

    # cpu
    @abstractmethod
    def set_cpu_quota(self, quota_us: int, period_us: int) -> list[CgroupWrite]: ...

    @abstractmethod
    def set_cpu_weight(self, weight: int) -> CgroupWrite:
        """A relative weight on the v2 scale (100 = default); v1 writes cpu.shares = weight * 1024 / 100."""

    @abstractmethod
    def set_cpu_shares(self, shares: int) -> CgroupWrite:
        """docker's --cpu-shares (1024 = default): cpu.shares on v1; on v2 cpu.weight by runc's conversion."""

    @abstractmethod
    def cpu_usage_usec(self) -> int: ...

    @property
    @abstractmethod
    def cpu_usage_file(self) -> str:
        """The file cpu_usage_usec() reads, full path (v2's cpu.stat usage_usec, v1's cpuacct.usage in ns)."""

    @abstractmethod
    def cpu_stat(self) -> dict[str, int]: ...

    # pids
    @abstractmethod
    def set_pids_max(self, limit: int) -> CgroupWrite: ...

    def pids_current(self) -> int:
        return int(self.read("pids.current", self.controller_dir("pids")))

    def pids_events(self) -> dict[str, int]:
        return parse_keyed(self.read("pids.events", self.controller_dir("pids")))

    # io
    @abstractmethod
    def set_io_limit(self, device: str, *, rbps: int, wbps: int) -> list[CgroupWrite]:
        """Throttle reads and writes on a whole block device `MAJ:MIN`, in bytes per second."""

    @abstractmethod
    def set_io_write_limit(self, device: str, wbps: int) -> CgroupWrite:
        """docker's --device-write-bps: throttle writes only, on a whole block device `MAJ:MIN`."""

    # devices
    @abstractmethod
    def allow_devices(self, rules: Sequence[str]) -> list[CgroupWrite]:
        """Refuse every device node (mknod, open) to the cgroup's processes but what `rules` allow, in the
        syntax of v1's devices.allow ("c 1:3 rwm", "b *:* m"). v1: `a` to devices.deny, then each rule to
        devices.allow; v2: one BPF_PROG_TYPE_CGROUP_DEVICE program (a DeviceProgram). Either lasts until the
        cgroup is removed. Documentation/admin-guide/cgroup-v1/devices.rst, and cgroup-v2.rst "Device
        controller"."""

    def controller_dir(self, controller: str) -> str:
        return self.path

    # nested cgroups (a Kubernetes layout: kubepods/burstable/pod<uid>/<container>)
    def child(self, name: str, controllers: Sequence[str] | None = None) -> Cgroup:
        """A (not yet created) cgroup `name` inside this one, with the same backend; the controllers are this
        one's unless named. Creating it enables them for this cgroup's children first (v2's
        cgroup.subtree_control), or makes the directory in each controller's hierarchy (v1). Removing it
        removes only it (and what it holds), never this one."""
        raise NotImplementedError

    def file_path(self, filename: str, controller: str) -> str:
        """Where one of the controller's files is (v1: in that controller's hierarchy)."""
        return os.path.join(self.controller_dir(controller), filename)

    def write(self, filename: str, value: str, controller: str) -> CgroupWrite:
        """Write one control file by its kernel name (the Kubernetes demos write the kubelet's files as is)."""
        return write_file(self.file_path(filename, controller), value)


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) to cpu.weight (1..10000) as runc converts them (libcontainer/cgroups/utils.go
    ConvertCPUSharesToCgroupV2Value): 1024 shares, docker's default, become weight 39, not 100."""
    return 1 + ((shares - 2) * 9999) // 262142
