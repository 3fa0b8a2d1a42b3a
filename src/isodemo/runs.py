"""One run of isodemo: a short id that every kernel object it creates carries, and a record of who owns it.

Names: `isodemo-<id>` (14 bytes, fits a 15-byte interface name or process comm), `isodemo-<id>-<role>`
for files and directories. The record `/run/isodemo/<id>` holds the owner's pid and start time, so
`isodemo cleanup` can tell the leftovers of a killed run from the objects of a run still going (a
`--hold` in another terminal).

A run without root (rootless mode) cannot write /run/isodemo: its record goes to
/tmp/isodemo-runs-<uid>/<id>, a directory only that uid may write (mode 0700, owned by it; anything else
found under that name is not trusted). A user's record vouches only for objects that user owns; a record in
/run/isodemo (root's) vouches for everything. Records are read without following symlinks, and only when
they are regular files of their directory's owner: a FIFO planted there must not hang `isodemo cleanup`.

This module is on `isodemo run`'s start-up path: no pathlib, dataclasses or secrets at import time (together
~10 ms). RUN_DIR, SHARED_TMP and USER_RUN_DIRS are still pathlib Paths for their users, made on first use.
"""

from __future__ import annotations

import os
import stat

from isodemo.contexts import suppress
from isodemo.kernel import procfs

TYPE_CHECKING = False  # `typing` costs `isodemo run` ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import re
    from pathlib import Path
    from typing import Final

    RUN_DIR: Path
    SHARED_TMP: Path
    USER_RUN_DIRS: Path

PREFIX = "isodemo"
RUN_DIR_NAME = "/run/isodemo"
# Not $TMPDIR: root's cleanup must find a user's records and directories whatever that user's TMPDIR was.
SHARED_TMP_NAME = "/tmp"
_PATHS = {"RUN_DIR": RUN_DIR_NAME, "SHARED_TMP": SHARED_TMP_NAME, "USER_RUN_DIRS": SHARED_TMP_NAME}
USER_RUN_PREFIX = "isodemo-runs-"
RECORD_MAX = 64 << 10
SYSV_KEY_TAG = 0x15000000  # SysV IPC keys isodemo creates: 0x15 in the top byte, the run id below


def __getattr__(name: str) -> Path:
    """RUN_DIR, SHARED_TMP and USER_RUN_DIRS: pathlib Paths, made when first asked for (PEP 562)."""
    if name not in _PATHS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from pathlib import Path

    path = globals()[name] = Path(_PATHS[name])
    return path


class Run:
    """One run: its id (6 hex digits) names every object it creates."""

    __slots__ = ("id",)

    def __init__(self, id: str) -> None:
        self.id: Final = id

    @classmethod
    def new(cls) -> Run:
        return cls(os.urandom(3).hex())  # what secrets.token_hex(3) returns, without its ~3 ms import

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run) or other.__class__ is not self.__class__:
            return NotImplemented
        return self.id == other.id

    def __hash__(self) -> int:
        return hash((self.id,))

    def __repr__(self) -> str:
        return f"Run(id={self.id!r})"

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
        from pathlib import Path

        return Path(self.record_path)

    @property
    def record_path(self) -> str:
        """`record` as a string: /run/isodemo/<id> for root, /tmp/isodemo-runs-<uid>/<id> for a user."""
        uid = os.geteuid()
        directory = RUN_DIR_NAME if uid == 0 else _user_run_dir_name(uid)
        return os.path.join(directory, self.id)

    def register(self) -> None:
        """Write the owner record: `PID STARTTIME`, created exclusively, never through a symlink.

        Without root a record is a convenience (it lets `sudo isodemo cleanup` act after a SIGKILL): a /tmp
        that refuses it does not stop the run."""
        pid = os.getpid()
        line = f"{pid} {procfs.start_time(pid)}\n"
        uid = os.geteuid()
        if uid == 0:
            os.makedirs(RUN_DIR_NAME, mode=0o755, exist_ok=True)
            _write_new(self.record_path, line)
            return
        with suppress(OSError):
            with suppress(FileExistsError):
                os.mkdir(_user_run_dir_name(uid), mode=0o700)
            if _trusted_user_dir(_user_run_dir_name(uid), uid):
                _write_new(self.record_path, line)

    def note(self, kind: str, value: str) -> None:
        """Add an object to the record, for objects cleanup could not find by name alone (a v1 cgroup under
        another session's cgroup)."""
        with suppress(OSError):
            fd = os.open(self.record_path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            with os.fdopen(fd, "a") as f:
                f.write(f"{kind} {value}\n")

    def unregister(self) -> None:
        record = self.record_path
        with suppress(FileNotFoundError, PermissionError):
            os.unlink(record)
        if os.geteuid() != 0:
            remove_user_run_dir(os.path.dirname(record))


def user_run_dir(uid: int) -> Path:
    from pathlib import Path

    return Path(_user_run_dir_name(uid))


def _user_run_dir_name(uid: int) -> str:
    return os.path.join(SHARED_TMP_NAME, f"{USER_RUN_PREFIX}{uid}")


def remove_user_run_dir(directory: str | Path) -> None:
    """rmdir a user's record directory once it is empty (it fails while any record is in it)."""
    with suppress(OSError):
        os.rmdir(directory)


def _write_new(path: str | Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _trusted_user_dir(path: str | Path, uid: int) -> bool:
    """A real directory (not a symlink), owned by `uid`, that no one else may write to."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o022


def _read_record(path: Path, owner: int) -> str | None:
    """The text of a record: a regular file owned by `owner`, opened without following a symlink and without
    blocking (a FIFO would otherwise hang the reader), at most RECORD_MAX bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != owner:
            return None
        return os.read(fd, RECORD_MAX).decode(errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _record_dirs() -> list[tuple[Path, int]]:
    """(directory, the uid its records belong to): root's, then every trusted user directory."""
    from pathlib import Path

    found = [(Path(RUN_DIR_NAME), 0)]
    with suppress(OSError):
        for entry in Path(SHARED_TMP_NAME).iterdir():
            uid = entry.name.removeprefix(USER_RUN_PREFIX)
            # uid 0 never gets a user directory: a record owned by 0 would vouch for everything.
            trusted = uid.isdigit() and int(uid) != 0 and _trusted_user_dir(entry, int(uid))
            if entry.name.startswith(USER_RUN_PREFIX) and trusted:
                found.append((entry, int(uid)))
    return found


class Record:
    """A run's record as found on disk: who started the run, and which uid may vouch for its objects."""

    __slots__ = ("owner", "path", "pid", "start", "text")

    def __init__(self, path: Path, pid: int, start: str, owner: int, text: str = "") -> None:
        self.path: Final = path
        self.pid: Final = pid
        self.start: Final = start
        self.owner: Final = owner  # 0: a root record, vouches for every object of the run; else only that uid's
        self.text: Final = text

    def _fields(self) -> tuple[Path, int, str, int, str]:
        return (self.path, self.pid, self.start, self.owner, self.text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "Record(path={!r}, pid={!r}, start={!r}, owner={!r}, text={!r})".format(*self._fields())


_NAME = r"^isodemo-([0-9a-f]{6})(?:[g-z]|-[a-z0-9][a-z0-9.-]*)?$"  # links: one letter after the id
_compiled: list[re.Pattern[str]] = []  # _NAME compiled on first use: cleanup needs it, a run does not


def run_id_of(name: str) -> str | None:
    """`isodemo-1a2b3c-rootfs` -> `1a2b3c`; None when the name is not shaped like one isodemo gives.

    The shape alone proves nothing (`isodemo-facade` fits it): cleanup also requires the run's record.
    """
    if not _compiled:
        import re

        _compiled.append(re.compile(_NAME))
    match = _compiled[0].match(name)
    return match[1] if match else None


def recorded_runs() -> dict[str, Record]:
    """Every run record, root's and users': run id -> Record. A root record wins over a user's."""
    recorded: dict[str, Record] = {}
    for directory, owner in reversed(_record_dirs()):
        try:
            entries = list(directory.iterdir())
        except OSError:
            continue
        for path in entries:
            if run_id_of(f"{PREFIX}-{path.name}") != path.name:
                continue
            text = _read_record(path, owner)
            try:
                pid_text, start = (text or "").splitlines()[0].split()
                recorded[path.name] = Record(path, int(pid_text), start, owner, text or "")
            except (ValueError, IndexError):
                continue
    return recorded


def live_runs() -> set[str]:
    """Ids of runs whose owner process is still alive: same pid, same start time, and not a zombie.

    A killed owner that its parent has not reaped yet (a shell busy with something else, a test runner)
    keeps its pid and start time, but it will never clean up again: its run is over."""
    return {run_id for run_id, record in recorded_runs().items() if owner_alive(record)}


def owner_alive(record: Record) -> bool:
    return procfs.start_time(record.pid) == record.start and not procfs.is_zombie(record.pid)


def recorded_objects(kind: str) -> dict[str, list[str]]:
    """run id -> the values noted under `kind` in its record."""
    found: dict[str, list[str]] = {}
    for run_id, record in recorded_runs().items():
        if record.owner != 0:
            continue  # only root's records may name objects by path
        for line in record.text.splitlines()[1:]:
            noted_kind, _, value = line.partition(" ")
            if noted_kind == kind:
                found.setdefault(run_id, []).append(value)
    return found
