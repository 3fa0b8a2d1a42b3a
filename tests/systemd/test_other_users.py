"""The failure paths that need another user's login, made in the same VM with sudo (run-in-systemd-vm
--sudoers): a plain `su - USER` from this open session (no session, so no user manager for USER), and a user
whose user@UID.service delegates memory and pids but not cpu (a drop-in for that user's instance only).
Each user is created for its test and removed with everything of theirs afterwards."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.systemd.session import Session, gone_soon

ISODEMO = os.path.join(os.environ.get("ISODEMO_VENV", "/opt/isodemo/venv"), "bin", "isodemo")


def sudo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sudo", "-n", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )


def sudo_ok(*args: str) -> str:
    proc = sudo(*args)
    assert proc.returncode == 0, f"sudo {shlex.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture
def may_sudo(session: Session) -> None:
    if os.environ.get("ISODEMO_VM_SUDOERS") != "1":
        pytest.skip("the user may not sudo here: run-in-systemd-vm --sudoers")


@contextmanager
def another_user(name: str, delegate: str | None = None) -> Iterator[int]:
    """A user NAME (its uid yielded); with `delegate`, a drop-in that sets Delegate= for its user@UID.service
    alone. Afterwards its sessions and user manager are stopped, the drop-in and the user removed."""
    sudo_ok("useradd", "--create-home", "--shell", "/bin/bash", name)
    uid = int(sudo_ok("id", "-u", name))
    dropin = f"/etc/systemd/system/user@{uid}.service.d"
    try:
        if delegate is not None:
            sudo_ok("mkdir", "-p", dropin)
            conf = f"{dropin}/isodemo-test.conf"
            sudo_ok("sh", "-c", 'printf "[Service]\\nDelegate=\\nDelegate=%s\\n" "$1" >"$2"', "sh", delegate, conf)
            sudo_ok("systemctl", "daemon-reload")
        yield uid
    finally:
        sudo("loginctl", "terminate-user", name)
        sudo("systemctl", "stop", f"user@{uid}.service", f"user-runtime-dir@{uid}.service")
        sudo("rm", "-rf", dropin)
        sudo("systemctl", "daemon-reload")
        sudo("userdel", "--remove", name)
    assert gone_soon(f"/sys/fs/cgroup/user.slice/user-{uid}.slice"), f"user-{uid}.slice is still there"


def test_plain_su_from_this_session_gives_no_user_manager_and_isodemo_says_so(may_sudo: None) -> None:
    """`su - learner` from an open session: pam_systemd makes no session for learner (the caller is in one
    already), so there is no XDG_RUNTIME_DIR and no user manager. isodemo exits 77 with the fix."""
    with another_user("learner-su"):
        inner = f'echo "runtime=$XDG_RUNTIME_DIR"; exec {shlex.quote(ISODEMO)} cgroup-memory --plain'
        proc = sudo("su", "-", "learner-su", "-c", inner)
    assert "runtime=\n" in proc.stdout, proc.stdout
    assert proc.returncode == 77, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sudo isodemo cgroup-memory" in proc.stderr, proc.stderr
    assert "systemd-run --user --scope -p Delegate=yes" in proc.stderr, proc.stderr


def test_a_user_whose_manager_delegates_memory_but_not_cpu(may_sudo: None) -> None:
    """A real login of another user (`su -l` from a service outside any session, as run-in-systemd-vm logs
    the first one in), whose user@UID.service has Delegate=pids memory: cgroup-memory runs without sudo,
    cgroup-cpu exits 77 naming the drop-in that delegates cpu and `systemctl daemon-reload`."""
    with another_user("learner-nocpu", delegate="pids memory") as uid:
        script = (
            "cat /sys/fs/cgroup/user.slice/user-$(id -u).slice/user@$(id -u).service/cgroup.controllers; "
            f"{shlex.quote(ISODEMO)} cgroup-memory --plain --limit 32m >/dev/null 2>&1; echo memory=$?; "
            f"{shlex.quote(ISODEMO)} cgroup-cpu --plain; echo cpu=$?"
        )
        # systemd-run: a transient service outside any session, whose `su -l` pam_systemd turns into a login
        # session (Type=tty Class=user, as sshd's) with its own user manager
        proc = sudo(
            "systemd-run", "--quiet", "--wait", "--pipe",
            "-E", "XDG_SESSION_TYPE=tty", "-E", "XDG_SESSION_CLASS=user",
            "su", "-l", "learner-nocpu", "-c", script,
        )  # fmt: skip
        said = proc.stdout + proc.stderr
        assert proc.returncode == 0, said
        lines = proc.stdout.splitlines()
        assert lines[0].split() == ["memory", "pids"], said  # what the kernel shows user@UID.service may hand on
        assert "memory=0" in lines, said
        assert "cpu=77" in lines, said
        assert "Traceback" not in said
        assert "sudo isodemo cgroup-cpu" in said, said
        assert "not delegated" in said and "Delegate=" in said, said
        assert "systemctl daemon-reload" in said, said
        assert f"user-{uid}.slice" in said, said
