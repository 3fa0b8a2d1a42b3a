"""Reading /proc: process lists, /proc/PID/status fields (NSpid), mountinfo, cgroup membership.

Parsers take text so they can be unit-tested without a kernel; readers take a pid or a path.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Final

_MOUNT_FIELDS = (
    "mount_id",
    "parent_id",
    "major_minor",
    "root",
    "mount_point",
    "options",
    "optional",
    "fstype",
    "source",
    "super_options",
)


def pids(proc: str = "/proc") -> list[int]:
    """Every process this /proc shows: a fresh /proc in a pid namespace shows only that namespace's."""
    return sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())


def parse_stat(text: str) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, pgrp, ...], i.e. field 3 of man 5 proc first.

    The name (field 2) is in parentheses and may itself hold spaces and parentheses: split after the last.
    """
    return text.rsplit(")", 1)[1].split()


def stat(pid: int | str) -> list[str] | None:
    """parse_stat of a live process; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return parse_stat(f.read())
    except OSError:
        return None


def start_time(pid: int | str) -> str | None:
    """Field 22, the start time in clock ticks since boot: tells a reused pid from the original."""
    fields = stat(pid)
    return fields[19] if fields else None


def is_zombie(pid: int | str) -> bool:
    """Exited but not yet reaped (state Z), or gone already: either way, nothing is running."""
    fields = stat(pid)
    return fields is None or fields[0] == "Z"


def parse_status(text: str) -> dict[str, str]:
    """/proc/PID/status as a mapping of field name to its raw value (tabs and spaces stripped)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def status(pid: int | str) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return parse_status(f.read())


def parse_nspid(value: str) -> list[int]:
    """`NSpid:\t4242\t1` -> [4242, 1]: the pid in each nested pid namespace, outermost first."""
    return [int(part) for part in value.split()]


def nspid(pid: int | str) -> list[int]:
    return parse_nspid(status(pid)["NSpid"])


def ppid(pid: int | str) -> int:
    return int(status(pid)["PPid"])


def cmdline(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]


class MountInfo:
    """One line of /proc/PID/mountinfo (man 5 proc_pid_mountinfo). A plain class, not a dataclass: this
    module is on `isodemo run`'s start-up path."""

    __slots__ = _MOUNT_FIELDS

    def __init__(
        self,
        *,
        mount_id: int,
        parent_id: int,
        major_minor: str,
        root: str,
        mount_point: str,
        options: str,
        optional: tuple[str, ...],
        fstype: str,
        source: str,
        super_options: str = "",
    ) -> None:
        self.mount_id: Final = mount_id
        self.parent_id: Final = parent_id
        self.major_minor: Final = major_minor
        self.root: Final = root
        self.mount_point: Final = mount_point
        self.options: Final = options
        self.optional: Final = optional  # shared:N, master:N, propagate_from:N, unbindable
        self.fstype: Final = fstype
        self.source: Final = source
        self.super_options: Final = super_options  # for a v1 cgroup mount: the controllers, e.g. rw,cpu,cpuacct

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _MOUNT_FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MountInfo) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "MountInfo(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in _MOUNT_FIELDS) + ")"

    @property
    def propagation(self) -> str:
        """`shared`, `slave`, `unbindable` or `private`, as findmnt -o PROPAGATION says."""
        tags = {field.split(":")[0] for field in self.optional}
        for kind, tag in (("shared", "shared"), ("slave", "master"), ("unbindable", "unbindable")):
            if tag in tags:
                return kind
        return "private"


def _unescape(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash in paths as octal: \040 \011 \012 \134.
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mountinfo(text: str) -> list[MountInfo]:
    mounts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        left, _, right = line.partition(" - ")
        fields = left.split()
        fstype, source, super_options, *_ = [*right.split(), "", "", ""]
        mounts.append(
            MountInfo(
                mount_id=int(fields[0]),
                parent_id=int(fields[1]),
                major_minor=fields[2],
                root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]),
                options=fields[5],
                optional=tuple(fields[6:]),
                fstype=fstype,
                source=_unescape(source),
                super_options=super_options,
            )
        )
    return mounts


def mountinfo(pid: int | str = "self") -> list[MountInfo]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return parse_mountinfo(f.read())


def parse_cgroup(text: str) -> dict[str, str]:
    """/proc/PID/cgroup -> {"memory": "/user.slice", "": "/..."}; the v2 line has an empty controller list.

    A v1 line naming several controllers (`cpu,cpuacct`) gives one key per controller; named hierarchies
    keep their `name=` prefix.
    """
    paths: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            continue
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def cgroup(pid: int | str = "self") -> dict[str, str]:
    with open(f"/proc/{pid}/cgroup") as f:
        return parse_cgroup(f.read())
