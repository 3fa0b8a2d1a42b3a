"""One run of isodemo: a short id that every kernel object it creates carries, and a record of who owns it.

Names: `isodemo-<id>` (14 bytes, fits a 15-byte interface name or process comm), `isodemo-<id>-<role>`
for files and directories. The record `/run/isodemo/<id>` holds the owner's pid and start time, so
`isodemo cleanup` can tell the leftovers of a killed run from the objects of a run still going (a
`--hold` in another terminal).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from isodemo.kernel import procfs

PREFIX = "isodemo"
RUN_DIR = Path("/run/isodemo")
SYSV_KEY_TAG = 0x15000000  # SysV IPC keys isodemo creates: 0x15 in the top byte, the run id below


@dataclass(frozen=True)
class Run:
    id: str

    @classmethod
    def new(cls) -> Run:
        return cls(secrets.token_hex(3))

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.id}"

    def object_name(self, role: str) -> str:
        return f"{self.name}-{role}"

    @property
    def sysv_key(self) -> int:
        return SYSV_KEY_TAG | int(self.id, 16)

    @property
    def record(self) -> Path:
        return RUN_DIR / self.id

    def register(self) -> None:
        """Write the owner record (root only; rootless runs own nothing that outlives them)."""
        if os.geteuid() != 0:
            return
        RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        pid = os.getpid()
        self.record.write_text(f"{pid} {procfs.start_time(pid)}\n")

    def note(self, kind: str, value: str) -> None:
        """Add an object to the record, for objects cleanup could not find by name alone (a v1 cgroup under
        another session's cgroup)."""
        if os.geteuid() == 0 and self.record.exists():
            with self.record.open("a") as f:
                f.write(f"{kind} {value}\n")

    def unregister(self) -> None:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            self.record.unlink()


_NAME = re.compile(r"^isodemo-([0-9a-f]{6})(?:[g-z]|-[a-z0-9][a-z0-9.-]*)?$")  # links: one letter after the id


def run_id_of(name: str) -> str | None:
    """`isodemo-1a2b3c-rootfs` -> `1a2b3c`; None when the name is not shaped like one isodemo gives.

    The shape alone proves nothing (`isodemo-facade` fits it): cleanup also requires the run's record.
    """
    match = _NAME.match(name)
    return match[1] if match else None


def recorded_runs() -> dict[str, tuple[int, str]]:
    """Every run record: run id -> (owner pid, owner start time)."""
    recorded: dict[str, tuple[int, str]] = {}
    try:
        records = list(RUN_DIR.iterdir())
    except OSError:
        return recorded
    for record in records:
        try:
            pid_text, start = record.read_text().splitlines()[0].split()
            if run_id_of(f"{PREFIX}-{record.name}") == record.name:
                recorded[record.name] = (int(pid_text), start)
        except (OSError, ValueError):
            continue
    return recorded


def live_runs() -> set[str]:
    """Ids of runs whose owner process is still alive (same pid, same start time)."""
    return {run_id for run_id, (pid, start) in recorded_runs().items() if procfs.start_time(pid) == start}


def recorded_objects(kind: str) -> dict[str, list[str]]:
    """run id -> the values noted under `kind` in its record."""
    found: dict[str, list[str]] = {}
    for run_id in recorded_runs():
        with contextlib.suppress(OSError):
            for line in Run(run_id).record.read_text().splitlines()[1:]:
                noted_kind, _, value = line.partition(" ")
                if noted_kind == kind:
                    found.setdefault(run_id, []).append(value)
    return found
