"""What must be the same on the host before and after every root test."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from isodemo import runs
from isodemo.kernel import procfs

CGROUP_ROOT = Path("/sys/fs/cgroup")


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
    developer on a shared machine): their objects are theirs, not this test's leftovers."""
    foreign = set()
    for run_id in runs.live_runs():
        with contextlib.suppress(OSError, ValueError):
            pid = int((runs.RUN_DIR / run_id).read_text().split()[0])
            if not _descends_from(pid, os.getpid()):
                foreign.add(run_id)
    return foreign


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


def _msg_queues(run_ids: set[str]) -> list[str]:
    foreign_keys = {str(runs.SYSV_KEY_TAG | int(r, 16)) for r in run_ids}
    lines = Path("/proc/sysvipc/msg").read_text().splitlines()
    return [line for line in lines if not (line.split() and line.split()[0] in foreign_keys)]


def _nft_ruleset(run_ids: set[str]) -> list[str]:
    """Every nft table with its rules, except the tables of other live isodemo runs."""
    if shutil.which("nft") is None:
        return ["(nft not installed)"]
    tables = [line.split() for line in _run(["nft", "list", "tables"]).splitlines() if line.startswith("table ")]
    return [
        _run(["nft", "list", "table", family, name])
        for _, family, name in tables
        if not any(run_id in name for run_id in run_ids)
    ]


def snapshot() -> dict[str, object]:
    foreign = _foreign_runs()
    return {
        "hostname": socket.gethostname(),
        "mountinfo of PID 1": _without(Path("/proc/1/mountinfo").read_text().splitlines(), foreign),
        "mountinfo of the test": _without(Path("/proc/self/mountinfo").read_text().splitlines(), foreign),
        "links": _without(sorted(os.listdir("/sys/class/net")), foreign),
        "routes": _without(_run(["ip", "route", "show", "table", "all"]).splitlines(), foreign),
        "nft ruleset": _nft_ruleset(foreign),
        "cgroups": _without(_own_cgroup_dirs(), foreign),
        "sysv message queues": _msg_queues(foreign),
        "isodemo processes": _without(_isodemo_processes(), foreign),
        "isodemo temporary files": _without(
            sorted(
                str(p)
                for place in {runs.SHARED_TMP, Path(tempfile.gettempdir())}
                for p in place.glob("isodemo-*")
                if runs.run_id_of(p.name)
            ),
            foreign,
        ),
        "user run records": _without(
            sorted(str(p) for p in runs.SHARED_TMP.glob(f"{runs.USER_RUN_PREFIX}*/*")), foreign
        ),
        "user run record directories": sorted(str(p) for p in runs.SHARED_TMP.glob(f"{runs.USER_RUN_PREFIX}*")),
        "/run/netns exists": [str(os.path.isdir("/run/netns"))],
        "network namespaces": _without(
            sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [], foreign
        ),
        "run records": _without(sorted(os.listdir("/run/isodemo")) if os.path.isdir("/run/isodemo") else [], foreign),
    }


def diff(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [f"{key}: before {before[key]!r}\n   after {after[key]!r}" for key in before if before[key] != after[key]]
