"""The walkthrough as a learner runs it in the VM: as the logged-in user, with sudo where it asks for it.

The host's CI runs the whole walkthrough as root (tests/run). What differs for a user in a systemd session is
in four chapters: intro (doctor as the user), pid (a demo through sudo, held, looked at through sudo), user
(rootless) and cgroups (each cgroup demo first without sudo, in a scope systemd delegates; again with sudo
where isodemo says it cannot do that here). Those run here; the whole walkthrough under emulation would take
about 40 minutes. run-in-systemd-vm --sudoers gives the user `NOPASSWD: ALL`, the entry a test creates.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.systemd.session import Session

REPO = Path(__file__).resolve().parents[2]
CHAPTERS = "intro,pid,user,cgroups"


def _commands(output: str) -> list[str]:
    """The command lines the walkthrough printed (`$ CMD`, no colour without a terminal), in order."""
    return [line[2:] for line in output.splitlines() if line.startswith("$ ")]


def test_the_walkthrough_completes_as_the_user_with_sudo_where_it_asks(session: Session) -> None:
    if os.environ.get("ISODEMO_VM_SUDOERS") != "1":
        pytest.skip("the user may not sudo here: run-in-systemd-vm --sudoers")
    assert subprocess.run(["sudo", "-n", "true"], timeout=60, check=False).returncode == 0
    proc = subprocess.run(
        [str(REPO / "demos" / "walkthrough"), "--auto", "--only", CHAPTERS],
        capture_output=True,
        text=True,
        timeout=1200,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said
    assert "Traceback" not in said
    assert [line[3:].split(":")[0] for line in proc.stdout.splitlines() if line.startswith("== ")] == [
        "intro",
        "pid",
        "user",
        "cgroups",
    ]
    commands = _commands(proc.stdout)
    isodemo = os.path.join(os.environ["ISODEMO_VENV"], "bin", "isodemo")
    # doctor and `isodemo user` as the user; pid through sudo, with the full path (sudo resets PATH)
    assert "isodemo doctor" in commands
    assert "isodemo user" in commands
    assert f"sudo {isodemo} pid" in commands
    # The README's first command, without sudo, and never again with sudo: memory is delegated to the user.
    assert "isodemo cgroup-memory" in commands
    assert f"sudo {isodemo} cgroup-memory" not in commands
    assert "systemd-run --user --scope -p Delegate=yes" in said
    for demo, controller in (("cgroup-pids", "pids"), ("cgroup-cpu", "cpu")):
        assert f"isodemo {demo}" in commands
        with_sudo = f"sudo {isodemo} {demo}" in commands
        assert with_sudo == (controller not in session.delegated_controllers), (demo, commands)
    # io is not delegated by user@.service: isodemo says why (exit 77), and the walkthrough runs it with sudo
    assert "isodemo cgroup-io" in commands
    assert f"sudo {isodemo} cgroup-io" in commands
    assert re.search(r"cannot run this without root here \(exit status 77", said), said
    # Nothing of the sudo runs is left either: cleanup, as root, finds nothing to remove.
    cleanup = subprocess.run(
        ["sudo", isodemo, "cleanup", "--dry-run", "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    facts = json.loads(cleanup.stdout)["facts"]
    assert (facts["found"], facts["unrecorded"]) == ([], []), facts
