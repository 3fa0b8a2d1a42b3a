"""What must be the same on the host before and after every root test."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from isodemo import host, runs
from isodemo.kernel import procfs

CGROUP_ROOT = Path(host.CGROUP_ROOT)


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return f"({argv[0]} not installed)"
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def _own_cgroup_dirs() -> list[str]:
    """Every cgroup directory at or under this process's own cgroup, in every hierarchy."""
    dirs: list[str] = []
    with open("/proc/self/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        names = [c.removeprefix("name=") for c in controllers.split(",")] if controllers else ["unified", ""]
        for name in names:
            base = CGROUP_ROOT / name if name else CGROUP_ROOT
            top = base / path.lstrip("/")
            if not top.is_dir() or not (base / "cgroup.procs").exists():
                continue
            for root, subdirs, _ in os.walk(top):
                dirs.append(root)
                subdirs.sort()
            break
    named = [str(p) for p in CGROUP_ROOT.glob("**/isodemo*") if p.is_dir()] if CGROUP_ROOT.is_dir() else []
    return sorted(set(dirs) | set(named))


def _isodemo_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
                if runs.run_id_of(comm) and not procfs.is_zombie(entry):  # a zombie waits for PID 1 to reap it
                    found.append(f"{entry} {comm}")
    return found


def _foreign_runs() -> set[str]:
    """Runs of isodemo that are alive and were not started by this test process (another terminal, another
    developer on a shared machine, another user's rootless run): their objects are theirs, not this test's
    leftovers. Root's records (/run/isodemo) and every user's (/tmp/isodemo-runs-<uid>/) count; alive means
    the recorded pid still has the recorded start time."""
    me = os.getpid()
    return {
        run_id
        for run_id, record in runs.recorded_runs().items()
        if procfs.start_time(record.pid) == record.start and not _descends_from(record.pid, me)
    }


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        fields = procfs.stat(pid)
        if fields is None:
            return False
        pid = int(fields[1])
    return False


def _without(lines: list[str], run_ids: set[str]) -> list[str]:
    return [line for line in lines if not any(run_id in line for run_id in run_ids)]


def _msg_queues() -> list[str]:
    """/proc/sysvipc/msg, each queue isodemo made (its key tagged SYSV_KEY_TAG) followed by its run id."""
    lines = []
    for line in Path("/proc/sysvipc/msg").read_text().splitlines()[1:]:
        key = int(line.split()[0]) if line.split() else 0
        tagged = key & 0xFF000000 == runs.SYSV_KEY_TAG
        lines.append(f"{line} (run {key & 0xFFFFFF:06x})" if tagged else line)
    return lines


def _nft_tables() -> list[str]:
    """Every nft table with its rules (the table's name carries the run id of an isodemo table)."""
    if shutil.which("nft") is None:
        return ["(nft not installed)"]
    tables = [line.split() for line in _run(["nft", "list", "tables"]).splitlines() if line.startswith("table ")]
    return [_run(["nft", "list", "table", family, name]) for _, family, name in tables]


def _loop_devices() -> list[str]:
    """Attached loop devices and their backing files (cgroup-io's is /tmp/isodemo-<run>-disk.img)."""
    found = []
    for backing in sorted(Path("/sys/block").glob("loop*/loop/backing_file")):
        with contextlib.suppress(OSError):
            found.append(f"{backing.parent.parent.name} {backing.read_text().strip()}")
    return found


def _user_record_dirs() -> dict[str, list[str]]:
    """Each user's run record directory -> the run ids recorded in it."""
    found: dict[str, list[str]] = {}
    for directory in sorted(runs.SHARED_TMP.glob(f"{runs.USER_RUN_PREFIX}*")):
        try:
            found[str(directory)] = sorted(p.name for p in directory.iterdir())
        except OSError:
            found[str(directory)] = []
    return found


FOREIGN = "runs of others"  # the key under which a snapshot keeps the ids of the runs it must not count
USER_DIRS = "user run record directories"


def snapshot() -> dict[str, object]:
    """The host's state, unfiltered, with the live runs of others; diff() leaves those out of both sides."""
    return {
        FOREIGN: _foreign_runs(),
        "hostname": socket.gethostname(),
        "mountinfo of PID 1": Path("/proc/1/mountinfo").read_text().splitlines(),
        "mountinfo of the test": Path("/proc/self/mountinfo").read_text().splitlines(),
        "links": sorted(os.listdir("/sys/class/net")),
        "routes": _run(["ip", "route", "show", "table", "all"]).splitlines(),
        "nft ruleset": _nft_tables(),
        "cgroups": _own_cgroup_dirs(),
        "sysv message queues": _msg_queues(),
        "loop devices": _loop_devices(),
        "isodemo processes": _isodemo_processes(),
        "isodemo temporary files": sorted(
            str(p)
            for place in {runs.SHARED_TMP, Path(tempfile.gettempdir())}
            for p in place.glob("isodemo-*")
            if runs.run_id_of(p.name)
        ),
        "user run records": sorted(str(p) for p in runs.SHARED_TMP.glob(f"{runs.USER_RUN_PREFIX}*/*")),
        USER_DIRS: _user_record_dirs(),
        "/run/netns exists": [str(os.path.isdir("/run/netns"))],
        "network namespaces": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        "run records": sorted(os.listdir("/run/isodemo")) if os.path.isdir("/run/isodemo") else [],
    }


# Shared by every net run at once (/run/netns, and the mark in /run/isodemo saying isodemo made it, for the last
# run to remove): with another live run around, whether they exist is that run's business as much as this test's.
SHARED = {"/run/netns exists": "", "run records": "made-"}


def _filtered(key: str, value: object, foreign: set[str]) -> object:
    if key == USER_DIRS:
        # A directory that holds another user's live run is theirs (it appears and goes with their run).
        assert isinstance(value, dict)
        return sorted(d for d, ids in value.items() if not foreign & set(ids))
    if not isinstance(value, list):
        return value
    lines = _without(value, foreign)
    if foreign and key in SHARED:
        lines = [line for line in lines if SHARED[key] and not line.startswith(SHARED[key])]
    return lines


def _ids(value: object) -> set[str]:
    assert isinstance(value, set)
    return {str(item) for item in value}


def diff(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """What changed, leaving out the objects of runs that were someone else's at either snapshot (a run of
    another user that started during the test is in `after` only, one that ended in `before` only)."""
    foreign = _ids(before[FOREIGN]) | _ids(after[FOREIGN])
    changes = []
    for key, value in before.items():
        if key == FOREIGN:
            continue
        old, new = _filtered(key, value, foreign), _filtered(key, after[key], foreign)
        if old != new:
            changes.append(f"{key}: before {old!r}\n   after {new!r}")
    return changes
