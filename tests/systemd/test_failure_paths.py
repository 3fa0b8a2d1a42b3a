"""Where the rootless cgroup route cannot work, in the same session: isodemo must stop before it creates
anything, with exit 77 (needs root) or 3 (a missing feature), and say the exact command that fixes it."""

from __future__ import annotations

import pytest

from tests.conftest import Result
from tests.systemd.session import Session, isodemo

# A shell with no user manager to ask: what a plain `su - USER` from another session gives (pam_systemd makes
# no session there, so no XDG_RUNTIME_DIR and no user bus), and what a container's shell has.
NO_USER_MANAGER = ("env", "-u", "XDG_RUNTIME_DIR", "-u", "DBUS_SESSION_BUS_ADDRESS")


def assert_refused_with_the_fix(result: Result, demo: str) -> None:
    assert result.code in (77, 3), result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"sudo isodemo {demo}" in result.stderr, result.stderr


def test_no_user_manager(session: Session) -> None:
    result = isodemo("cgroup-memory", "--plain", prefix=NO_USER_MANAGER)
    assert_refused_with_the_fix(result, "cgroup-memory")
    assert "systemd-run --user --scope -p Delegate=yes" in result.stderr


def test_a_scope_without_delegation_and_no_user_manager(session: Session) -> None:
    """`systemd-run --user --scope -p Delegate=no`: the scope's cgroup belongs to the user (the user manager
    made it) but no controller was handed to it, and from inside, no user manager can make a delegated one."""
    scope = ("systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=no", *NO_USER_MANAGER)
    result = isodemo("cgroup-memory", "--plain", prefix=scope)
    assert_refused_with_the_fix(result, "cgroup-memory")


def test_a_scope_without_delegation_reruns_in_a_delegated_one(session: Session) -> None:
    """Inside a Delegate=no scope, with the user manager reachable, isodemo makes a delegated scope of its own."""
    scope = ("systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=no")
    result = isodemo("cgroup-memory", "--json", "--limit", "32m", prefix=scope)
    assert result.code == 0, result.stdout + result.stderr
    assert result.json["facts"]["oom_killed"] is True


def test_cgroup_cpu_where_cpu_is_not_delegated(session: Session) -> None:
    """A user manager whose Delegate= lacks cpu (run-in-systemd-vm --delegate "pids memory")."""
    if "cpu" in session.delegated_controllers:
        pytest.skip("cpu is delegated here: test_cgroup_cpu_without_sudo")
    result = isodemo("cgroup-cpu", "--plain")
    assert_refused_with_the_fix(result, "cgroup-cpu")
    assert result.code == 77, result.stderr
    assert "not delegated" in result.stderr and "Delegate=" in result.stderr, result.stderr
    assert "systemctl daemon-reload" in result.stderr, result.stderr
