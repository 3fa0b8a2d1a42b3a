"""User namespaces: the uid_map, gid_map and setgroups files (man 7 user_namespaces).

A new user namespace starts with no mapping: its processes are the overflow user (65534, "nobody") and
cannot do much. A process in the parent namespace writes /proc/PID/uid_map once, for example `0 1000 1`
("uid 0 inside is uid 1000 outside, for 1 id"). Without CAP_SETUID in the parent namespace, the only
mapping allowed is a single line mapping the writer's own euid; for gid_map, setgroups(2) must first be
switched off by writing `deny` to /proc/PID/setgroups (else a process could drop a group that denies it
access, and gain access by losing a group).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class IdMap:
    """One line of uid_map or gid_map: `inside outside count`."""

    inside: int
    outside: int
    count: int = 1

    @property
    def line(self) -> str:
        return f"{self.inside} {self.outside} {self.count}"


@dataclass(frozen=True)
class Mapping:
    """What isodemo writes for a new user namespace: root inside is one id outside."""

    uid: IdMap
    gid: IdMap
    # "deny" is required when the writer is unprivileged; a root writer may leave setgroups(2) allowed
    # (what a container runtime does for its remapped range: the groups of its /etc/group then apply)
    setgroups: str = "deny"

    @classmethod
    def root_as(cls, uid: int, gid: int) -> Mapping:
        return cls(IdMap(0, uid), IdMap(0, gid))

    def files(self) -> list[tuple[str, str]]:
        """(file in /proc/PID, content), in the order the kernel requires: setgroups before gid_map."""
        return [("uid_map", self.uid.line), ("setgroups", self.setgroups), ("gid_map", self.gid.line)]


def write_mapping(pid: int, mapping: Mapping) -> list[tuple[str, str]]:
    """Write the files of `mapping` for process `pid`; each write is one write(2), as the kernel requires."""
    written = []
    for name, content in mapping.files():
        path = f"/proc/{pid}/{name}"
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, (content + "\n").encode())
        except OSError as error:
            raise OSError(error.errno, f"write {content!r} to {path}: {os.strerror(error.errno or 0)}") from None
        finally:
            os.close(fd)
        written.append((path, content))
    return written


def read_map(pid: int | str, name: str) -> str:
    """`uid_map` or `gid_map` as one normalised line per range ("0 1000 1"), or "" when none is written."""
    with open(f"/proc/{pid}/{name}") as f:
        return "\n".join(" ".join(line.split()) for line in f.read().splitlines() if line.strip())


def read_setgroups(pid: int | str) -> str:
    with open(f"/proc/{pid}/setgroups") as f:
        return f.read().strip()


def overflow_uid() -> int:
    """The uid that ids without a mapping show as (/proc/sys/kernel/overflowuid, normally 65534)."""
    with open("/proc/sys/kernel/overflowuid") as f:
        return int(f.read())
