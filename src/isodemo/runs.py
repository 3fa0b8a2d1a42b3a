"""One run of isodemo: a short id that every kernel object it creates carries, and a record of who owns it.

Names: `isodemo-<id>` (14 bytes, fits a 15-byte interface name or process comm), `isodemo-<id>-<role>`
for files and directories. The record `/run/isodemo/<id>` holds the owner's pid and start time, so
`isodemo cleanup` can tell the leftovers of a killed run from the objects of a run still going (a
`--hold` in another terminal).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PREFIX = "isodemo"
RUN_DIR = Path("/run/isodemo")
SYSV_KEY_TAG = 0x15000000  # SysV IPC keys isodemo creates: 0x15 in the top byte, the run id below


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


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
        self.record.write_text(f"{pid} {process_start_time(pid)}\n")

    def unregister(self) -> None:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            self.record.unlink()


def run_id_of(name: str) -> str | None:
    """`isodemo-1a2b3c-rootfs` -> `1a2b3c`; None when the name is not isodemo's."""
    if not name.startswith(PREFIX + "-"):
        return None
    candidate = name[len(PREFIX) + 1 :][:6]
    if len(candidate) == 6 and all(ch in "0123456789abcdef" for ch in candidate):
        return candidate
    return None


def live_runs() -> set[str]:
    """Ids of runs whose owner process is still alive (same pid, same start time)."""
    live: set[str] = set()
    try:
        records = list(RUN_DIR.iterdir())
    except OSError:
        return live
    for record in records:
        try:
            pid_text, start = record.read_text().split()
        except (OSError, ValueError):
            continue
        if process_start_time(int(pid_text)) == start:
            live.add(record.name)
    return live
