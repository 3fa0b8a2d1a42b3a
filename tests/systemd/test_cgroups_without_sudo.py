"""The cgroup demos as the learners are told to type them: `isodemo cgroup-memory`, no sudo, in a login session.

isodemo is not root there: it re-executes itself under `systemd-run --user --scope -p Delegate=yes` and works
in that scope's cgroup, which the user manager (user@UID.service) delegates to the user. The facts must be
the same as under sudo (see tests/root/test_cgroups.py), and the user's slice left as it was.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.expected import assert_cpu_demo_facts
from tests.systemd.session import Session, gone_soon, isodemo

MEMORY_LIMIT = 64 << 20  # cgroup-memory's default


def test_the_session_is_a_login_session_with_a_user_manager(session: Session) -> None:
    """What `vagrant ssh` gives: systemd is PID 1 on cgroup v2 only, this process is in a session scope of the
    user's slice, the user manager runs, XDG_RUNTIME_DIR holds the user's bus."""
    with open("/proc/1/comm") as f:
        assert f.read().strip() == "systemd"
    with open("/proc/self/mounts") as f:
        cgroup_mounts = [line.split()[1:3] for line in f if line.split()[2] in ("cgroup", "cgroup2")]
    assert cgroup_mounts == [["/sys/fs/cgroup", "cgroup2"]]
    assert re.fullmatch(rf"/user\.slice/user-{session.uid}\.slice/session-[^/]+\.scope", session.cgroup)
    assert (session.session_class, session.session_type) == ("user", "tty")
    assert session.runtime_dir == f"/run/user/{session.uid}"
    assert os.path.exists(os.path.join(session.runtime_dir, "bus"))
    assert session.manager_unit_state == "active"
    assert session.manager_state == "running"
    # user@.service's Delegate= (the packaged "pids memory cpu", or run-in-systemd-vm --delegate's)
    assert session.delegated_controllers == set(os.environ["ISODEMO_VM_DELEGATE"].split())


def test_cgroup_memory_without_sudo(session: Session) -> None:
    result = isodemo("cgroup-memory", "--json")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["rootless"] is True
    delegated = facts["delegated_cgroup"]
    # The scope systemd-run made for this run, inside the user manager's delegated subtree.
    assert delegated.startswith(session.manager_cgroup + "/"), delegated
    assert re.fullmatch(r"run-[^/]+\.scope", os.path.basename(delegated)), delegated
    assert facts["cgroup_path"].startswith(delegated + "/")
    assert facts["cgroup_version"] == 2
    assert facts["limit_bytes"] == MEMORY_LIMIT
    assert facts["exit_code"] == 137
    assert facts["oom_killed"] is True
    assert facts["oom_kill_events"] == 1
    assert 0.95 * MEMORY_LIMIT <= facts["peak_bytes"] <= MEMORY_LIMIT
    assert not os.path.exists(facts["cgroup_path"])
    assert gone_soon(delegated)


def test_cgroup_memory_says_which_delegated_cgroup_and_why(session: Session) -> None:
    result = isodemo("cgroup-memory", "--plain", "--limit", "32m")
    assert result.code == 0, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "Traceback" not in said
    assert "systemd-run --user --scope -p Delegate=yes" in said
    assert re.search(rf"{re.escape(session.manager_cgroup)}/\S*run-\S+\.scope", said), said


def test_cgroup_cpu_without_sudo(session: Session) -> None:
    if "cpu" not in session.delegated_controllers:
        pytest.skip("cpu is not delegated here: test_cgroup_cpu_where_cpu_is_not_delegated")
    result = isodemo("cgroup-cpu", "--json")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["rootless"] is True
    assert facts["delegated_cgroup"].startswith(session.manager_cgroup + "/")
    assert facts["cgroup_path"].startswith(facts["delegated_cgroup"] + "/")
    assert_cpu_demo_facts(facts)
    assert gone_soon(facts["delegated_cgroup"])


def test_cgroup_pids_without_sudo(session: Session) -> None:
    result = isodemo("cgroup-pids", "--json", "--limit", "12")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["rootless"] is True
    assert facts["delegated_cgroup"].startswith(session.manager_cgroup + "/")
    assert facts["pids_max"] == 12
    assert facts["forks_succeeded"] == 11  # the process itself is the twelfth
    assert facts["fork_error"] == "EAGAIN"
    assert facts["pids_events_max"] >= 1
    assert gone_soon(facts["delegated_cgroup"])


def test_cgroup_io_without_sudo_refuses(session: Session) -> None:
    """user@.service delegates pids, memory and cpu, not io (and a loop device needs root): the demo must stop
    before it creates anything, with exit 77 (needs root) or 3 (missing feature) and the command to type."""
    assert "io" not in session.delegated_controllers
    result = isodemo("cgroup-io", "--plain")
    assert result.code in (77, 3), result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "sudo isodemo cgroup-io" in result.stderr, result.stderr


def test_cgroup_io_without_sudo_says_why(session: Session) -> None:
    result = isodemo("cgroup-io", "--plain")
    assert result.code in (77, 3), result.stdout + result.stderr
    assert "delegat" in result.stderr or "loop device" in result.stderr, result.stderr
    assert "CAP_SYS_ADMIN" not in result.stderr, result.stderr
