"""One run of isodemo: a short id that every kernel object it creates carries, and a record of who owns it.

Names: `isodemo-<id>` (14 bytes, fits a 15-byte interface name or process comm), `isodemo-<id>-<role>`
for files and directories. The record `/run/isodemo/<id>` holds the owner's pid and start time, so
`isodemo cleanup` can tell the leftovers of a killed run from the objects of a run still going (a
`--hold` in another terminal).

A run without root (rootless mode) cannot write /run/isodemo: its record goes to /tmp/isodemo-runs/<id>
(a sticky directory, like /tmp itself). Anyone can write there, so such a record vouches only for objects
owned by the user who owns the record file; a record in /run/isodemo (root's) vouches for everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from isodemo.kernel import procfs

PREFIX = "isodemo"
RUN_DIR = Path("/run/isodemo")
USER_RUN_DIR = Path(tempfile.gettempdir()) / "isodemo-runs"
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
        return (RUN_DIR if os.geteuid() == 0 else USER_RUN_DIR) / self.id

    def register(self) -> None:
        """Write the owner record: `PID STARTTIME`, created exclusively, never through a symlink.

        Without root a record is a convenience (it lets `sudo isodemo cleanup` act after a SIGKILL): a /tmp
        that refuses it does not stop the run."""
        pid = os.getpid()
        line = f"{pid} {procfs.start_time(pid)}\n"
        if os.geteuid() == 0:
            RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
            _write_new(self.record, line)
            return
        for _ in range(3):  # another user's run may remove the empty directory between mkdir and open
            try:
                _make_sticky_dir(USER_RUN_DIR)
                _write_new(self.record, line)
                return
            except FileNotFoundError:
                continue
            except OSError:
                return

    def note(self, kind: str, value: str) -> None:
        """Add an object to the record, for objects cleanup could not find by name alone (a v1 cgroup under
        another session's cgroup)."""
        if self.record.is_file():
            with contextlib.suppress(OSError), open(self.record, "a") as f:
                f.write(f"{kind} {value}\n")

    def unregister(self) -> None:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            self.record.unlink()
        remove_user_run_dir()


def remove_user_run_dir() -> None:
    """rmdir /tmp/isodemo-runs once it is empty (it fails while any record is in it, or if not ours)."""
    with contextlib.suppress(OSError):
        USER_RUN_DIR.rmdir()


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _make_sticky_dir(path: Path) -> None:
    """/tmp/isodemo-runs, mode 1777 like /tmp: every user may add records, only their owners remove them."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o1777)


@dataclass(frozen=True)
class Record:
    """A run's record as found on disk: who started the run, and which uid may vouch for its objects."""

    path: Path
    pid: int
    start: str
    owner: int  # 0: a root record, vouches for every object of the run; else only for that uid's objects


_NAME = re.compile(r"^isodemo-([0-9a-f]{6})(?:[g-z]|-[a-z0-9][a-z0-9.-]*)?$")  # links: one letter after the id


def run_id_of(name: str) -> str | None:
    """`isodemo-1a2b3c-rootfs` -> `1a2b3c`; None when the name is not shaped like one isodemo gives.

    The shape alone proves nothing (`isodemo-facade` fits it): cleanup also requires the run's record.
    """
    match = _NAME.match(name)
    return match[1] if match else None


def recorded_runs() -> dict[str, Record]:
    """Every run record, root's and users': run id -> Record. A root record wins over a user's."""
    recorded: dict[str, Record] = {}
    for directory in (USER_RUN_DIR, RUN_DIR):
        try:
            entries = list(directory.iterdir())
        except OSError:
            continue
        for path in entries:
            try:
                owner = path.lstat().st_uid
                pid_text, start = path.read_text().splitlines()[0].split()
                if run_id_of(f"{PREFIX}-{path.name}") == path.name and path.is_file() and not path.is_symlink():
                    recorded[path.name] = Record(path, int(pid_text), start, 0 if directory == RUN_DIR else owner)
            except (OSError, ValueError, IndexError):
                continue
    return recorded


def live_runs() -> set[str]:
    """Ids of runs whose owner process is still alive (same pid, same start time)."""
    return {run_id for run_id, record in recorded_runs().items() if procfs.start_time(record.pid) == record.start}


def recorded_objects(kind: str) -> dict[str, list[str]]:
    """run id -> the values noted under `kind` in its record."""
    found: dict[str, list[str]] = {}
    for run_id, record in recorded_runs().items():
        if record.owner != 0:
            continue  # only root's records may name objects by path
        with contextlib.suppress(OSError):
            for line in record.path.read_text().splitlines()[1:]:
                noted_kind, _, value = line.partition(" ")
                if noted_kind == kind:
                    found.setdefault(run_id, []).append(value)
    return found
