"""The login session the systemd tests run in, observed: what `vagrant ssh` gives the learner."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from tests.conftest import Result

CGROUP_ROOT = "/sys/fs/cgroup"


def own_cgroup() -> str:
    with open("/proc/self/cgroup") as f:
        line = next(line for line in f if line.startswith("0::"))
    return line.strip()[3:]


def user_slice_cgroups(uid: int) -> set[str]:
    """Every cgroup under user-UID.slice, relative to it."""
    top = os.path.join(CGROUP_ROOT, "user.slice", f"user-{uid}.slice")
    return {os.path.relpath(directory, top) for directory, _, _ in os.walk(top)}


@dataclass(frozen=True)
class Session:
    uid: int
    cgroup: str  # this process's, e.g. /user.slice/user-1001.slice/session-c1.scope
    runtime_dir: str  # XDG_RUNTIME_DIR
    manager_state: str  # `systemctl --user is-system-running`
    manager_unit_state: str  # `systemctl is-active user@UID.service`
    session_class: str  # logind's Class= of $XDG_SESSION_ID: "user" for a login, "background" for cron
    session_type: str  # Type=: "tty" for a terminal or ssh

    @classmethod
    def probe(cls) -> Session:
        uid = os.getuid()
        manager = subprocess.run(
            ["systemctl", "--user", "is-system-running"], capture_output=True, text=True, timeout=60, check=False
        )
        unit = subprocess.run(
            ["systemctl", "is-active", f"user@{uid}.service"], capture_output=True, text=True, timeout=60, check=False
        )
        session = subprocess.run(
            ["loginctl", "show-session", os.environ.get("XDG_SESSION_ID", ""), "-p", "Class", "-p", "Type"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        properties = dict(line.split("=", 1) for line in session.stdout.splitlines() if "=" in line)
        return cls(
            uid=uid,
            cgroup=own_cgroup(),
            runtime_dir=os.environ.get("XDG_RUNTIME_DIR", ""),
            manager_state=manager.stdout.strip(),
            manager_unit_state=unit.stdout.strip(),
            session_class=properties.get("Class", ""),
            session_type=properties.get("Type", ""),
        )

    @property
    def delegated_controllers(self) -> set[str]:
        """What user@UID.service may hand on (its Delegate=), as the kernel shows it."""
        with open(os.path.join(self.manager_cgroup, "cgroup.controllers")) as f:
            return set(f.read().split())

    @property
    def manager_cgroup(self) -> str:
        """user@UID.service's cgroup, delegated to the user: where `systemd-run --user --scope` puts scopes."""
        return os.path.join(CGROUP_ROOT, "user.slice", f"user-{self.uid}.slice", f"user@{self.uid}.service")


def isodemo(*args: str, prefix: tuple[str, ...] = (), timeout: float = 300) -> Result:
    """`isodemo ARGS` as typed in the learner's shell: the venv's entry point, found in PATH; after `prefix`
    (`env -u ...`, `systemd-run ...`) when given."""
    path = shutil.which("isodemo")
    assert path, "isodemo is not in PATH"
    proc = subprocess.run(
        [*prefix, path, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def gone_soon(path: str, timeout: float = 15) -> bool:
    """A transient scope's cgroup goes when systemd sees it empty: soon after the run ends, not at once."""
    deadline = time.monotonic() + timeout
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not os.path.exists(path)
