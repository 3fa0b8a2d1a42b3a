"""`isodemo user`, the rootless namespace demos, and the blocked path, as root and as a test user."""

from __future__ import annotations

import os
import pwd
import secrets
import socket
import tempfile

import pytest

from isodemo import host, runs
from tests.conftest import run_isodemo
from tests.root.holding import Held, run_processes, wait_gone
from tests.root.users import TestUser, run_as, userns_blocker

# User namespaces, their policy and rootless runs make no cgroup: the same on cgroup v1 and v2 (the rootless
# cgroup demo in a delegated v2 subtree is tests/root/test_cgroups.py's).
pytestmark = pytest.mark.host_only

REQUIRED = ("uid_outside", "uid_inside", "uid_map", "can_sethostname_inside", "host_file_owner_seen_inside")


def _check_user_facts(facts: dict[str, object], uid: int) -> None:
    for key in (*REQUIRED, "userns_restricted"):
        assert key in facts, key
    assert facts["uid_outside"] == uid
    assert facts["uid_inside"] == 0
    assert facts["uid_map"] == f"0 {uid} 1"
    assert facts["uid_seen_from_host"] == uid
    assert facts["can_sethostname_inside"] is True
    assert facts["sethostname_host_uts_inside"] == "EPERM"
    assert facts["host_file_owner_seen_inside"] == "nobody"
    assert facts["new_file_owner_on_host"] == uid
    assert facts["signal_host_pid1_inside"] == "EPERM"
    assert facts["signal_own_process_inside"] == "ok"
    apparmor = host.userns_policy().get("kernel.apparmor_restrict_unprivileged_userns")
    assert facts["userns_restricted"] is (apparmor == "1")


@pytest.mark.usefixtures("unprivileged_userns")
def test_user_demo_as_an_unprivileged_user(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    before = socket.gethostname()
    result = run_as(test_user, ["user", "--json"], any_user_env)
    assert result.code == 0, result.stdout + result.stderr
    report = result.json
    assert report["ok"] and report["leftovers"] == []
    _check_user_facts(report["facts"], test_user.uid)
    assert report["facts"]["capabilities_outside"] == []
    assert report["facts"]["capabilities_inside"] >= 38  # CAP_AUDIT_READ (37) is Linux 3.16
    assert socket.gethostname() == before


@pytest.mark.usefixtures("unprivileged_userns")
def test_user_demo_as_root_acts_as_nobody() -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    env = {"SUDO_UID": None, "SUDO_GID": None}  # as root itself, not under sudo
    result = run_isodemo("user", "--plain", env=env)
    assert result.code == 0, result.stdout + result.stderr
    assert "nobody" in result.stdout and "setuid()" in result.stdout
    report = run_isodemo("user", "--json", env=env).json
    _check_user_facts(report["facts"], nobody)


@pytest.mark.usefixtures("unprivileged_userns")
def test_user_demo_under_sudo_acts_as_the_sudo_user(test_user: TestUser) -> None:
    env = {"SUDO_UID": str(test_user.uid), "SUDO_GID": str(test_user.gid)}
    result = run_isodemo("user", "--json", env=env)
    assert result.code == 0, result.stdout + result.stderr
    _check_user_facts(result.json["facts"], test_user.uid)


@pytest.mark.usefixtures("unprivileged_userns")
@pytest.mark.parametrize(
    ("demo", "key", "expected"),
    [
        ("pid", "inside_pid", 1),
        ("uts", "hostname_inside", "isodemo-box"),
        ("ipc", "queue_visible_inside", False),
        ("mnt", "old_root_detached", True),
        ("timens", "boottime_offset_s", 604800.0),
    ],
)
def test_rootless_namespace_demos(
    test_user: TestUser, any_user_env: dict[str, str], demo: str, key: str, expected: object
) -> None:
    result = run_as(test_user, [demo, "--json"], any_user_env)
    assert result.code == 0, result.stdout + result.stderr
    report = result.json
    assert report["ok"] and report["leftovers"] == []
    assert report["host"]["root"] is False
    assert report["facts"]["rootless"] is True
    if key.endswith("_s"):
        assert report["facts"][key] == pytest.approx(expected, abs=1)
    else:
        assert report["facts"][key] == expected
    plain = run_as(test_user, [demo, "--plain"], any_user_env)
    assert plain.code == 0
    assert "inside a new user namespace" in plain.stdout
    assert "sudo unshare" not in plain.stdout and "unshare --user --map-root-user" in plain.stdout


def test_as_root_the_namespace_demos_say_they_are_not_rootless() -> None:
    assert "rootless" not in run_isodemo("uts", "--json").json["facts"]


def test_user_demo_blocked_names_the_step_the_cause_and_the_fix(
    test_user: TestUser, any_user_env: dict[str, str]
) -> None:
    result = run_as(test_user, ["user", "--json"], any_user_env, restricted=True)
    assert result.code == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    error = result.json["error"]
    assert "unshare(CLONE_NEWUSER) failed with ENOSPC" in error["message"]
    assert "user.max_user_namespaces is 0" in error["message"]
    assert "sudo sysctl -w user.max_user_namespaces=" in error["hint"]
    plain = run_as(test_user, ["user", "--plain"], any_user_env, restricted=True)
    assert plain.code == 3 and "user.max_user_namespaces is 0" in plain.stderr


def test_rootless_demo_blocked_exits_77_with_sudo_and_reason(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    result = run_as(test_user, ["uts", "--plain"], any_user_env, restricted=True)
    assert result.code == 77, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "sudo isodemo uts --plain" in result.stderr
    assert "ENOSPC" in result.stderr and "user.max_user_namespaces is 0" in result.stderr


def test_doctor_reports_the_blocked_user_namespaces(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    blocked = run_as(test_user, ["doctor", "--json"], any_user_env, restricted=True).json["facts"]
    assert blocked["user_namespaces"]["ok"] is False
    assert "user.max_user_namespaces is 0" in blocked["user_namespaces"]["detail"]
    here = run_as(test_user, ["doctor", "--json"], any_user_env).json["facts"]
    assert here["user_namespaces"]["ok"] is (userns_blocker() is None)


def test_this_machines_own_policy(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    """Whatever this machine's policy is, `isodemo user` as a user either works or names it (exit 3)."""
    result = run_as(test_user, ["user", "--json"], any_user_env)
    blocker = userns_blocker()
    if blocker is None:
        assert result.code == 0, result.stdout + result.stderr
    else:
        assert result.code == 3, result.stdout + result.stderr
        assert blocker in result.json["error"]["message"]


DEBIAN_SYSCTL = "/proc/sys/kernel/unprivileged_userns_clone"


@pytest.mark.skipif(
    os.environ.get("ISODEMO_IN_VM") != "1" or not os.path.exists(DEBIAN_SYSCTL),
    reason="changes a host sysctl: only in the throwaway VM, on a kernel with Debian's patch",
)
def test_debian_sysctl_blocks_with_eperm(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    with open(DEBIAN_SYSCTL) as f:
        saved = f.read()
    try:
        with open(DEBIAN_SYSCTL, "w") as f:
            f.write("0\n")
        result = run_as(test_user, ["user", "--plain"], any_user_env)
    finally:
        with open(DEBIAN_SYSCTL, "w") as f:
            f.write(saved)
    assert result.code == 3, result.stdout + result.stderr
    assert "failed with EPERM" in result.stderr and "kernel.unprivileged_userns_clone is 0" in result.stderr
    assert "sudo sysctl -w kernel.unprivileged_userns_clone=1" in result.stderr


MAP_SOMEONE_ELSE = """
from isodemo import userns_policy
from isodemo.isolated import Isolated
from isodemo.kernel import userns
try:
    with Isolated(["user"], mapping=userns.Mapping.root_as(0, 0)):
        print("mapped")
except userns_policy.UserNamespaceBlocked as error:
    print(error.blocker.step, "|", error.blocker.error)
"""


@pytest.mark.usefixtures("unprivileged_userns")
def test_an_unprivileged_user_may_map_only_its_own_uid(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    """The kernel's rule, for real: mapping uid 0 outside is refused to anyone without CAP_SETUID there."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", MAP_SOMEONE_ELSE],
        capture_output=True,
        text=True,
        env=any_user_env,
        cwd="/",
        user=test_user.uid,
        group=test_user.gid,
        extra_groups=[],
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "write /proc/PID/uid_map | EPERM (Operation not permitted)"


@pytest.mark.usefixtures("unprivileged_userns")
def test_rootless_runs_killed_with_sigkill_are_cleaned_up_by_root(
    test_user: TestUser, any_user_env: dict[str, str]
) -> None:
    """A rootless run records itself in /tmp/isodemo-runs-<uid>; after a SIGKILL, `sudo isodemo cleanup`
    removes what it left (the rootfs directory, the host's message queue, the user demo's file), and the
    record."""
    private_tmp = tempfile.mkdtemp(prefix="user-tmpdir-")  # like libpam-tmpdir: root never looks there
    os.chown(private_tmp, test_user.uid, test_user.gid)
    env = {**any_user_env, "TMPDIR": private_tmp}
    as_user = {"user": test_user.uid, "group": test_user.gid, "extra_groups": [], "cwd": "/", "env": env}
    try:
        held = [Held(demo, "--json", **as_user) for demo in ("mnt", "ipc", "user")]
    finally:
        os.rmdir(private_tmp)  # nothing of isodemo's may be in it
    ours = {h.info["run"] for h in held}
    pids = [pid for run in ours for pid in run_processes(run)]
    directory = runs.user_run_dir(test_user.uid)
    records = [directory / run for run in ours]
    assert all(record.stat().st_uid == test_user.uid for record in records)
    assert directory.stat().st_mode & 0o777 == 0o700
    for h in held:
        h.kill()
    assert wait_gone(pids) == []
    found = run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"]
    mine = [item for item in found if any(run in item for run in ours)]
    assert any("rootfs" in item for item in mine), found
    assert any("sysv message queue" in item for item in mine), found
    assert any("userns-file" in item for item in mine), found
    assert sum("run record" in item for item in mine) == 3
    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stderr
    assert set(mine) <= set(done.json["facts"]["removed"])
    assert not any(record.exists() for record in records)
    assert not directory.exists()


def test_a_users_record_vouches_only_for_that_users_objects(test_user: TestUser) -> None:
    """A user's record must not make root's cleanup remove another owner's objects, and nothing a user plants
    in its record directory (a FIFO) may hang cleanup."""
    run_id = secrets.token_hex(3)
    decoy = runs.SHARED_TMP / f"isodemo-{run_id}-rootfs"  # root's, named like the user's run
    directory = runs.user_run_dir(test_user.uid)
    made = not directory.exists()
    decoy.mkdir()
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chown(directory, test_user.uid, test_user.gid)
    record = directory / run_id
    record.write_text("999999999 1\n")  # its owner is long dead
    fifo = directory / secrets.token_hex(3)
    os.mkfifo(fifo)
    for path in (record, fifo):
        os.chown(path, test_user.uid, test_user.gid)
    try:
        result = run_isodemo("cleanup", "--json", timeout=60)
        assert result.code == 0, result.stderr
        facts = result.json["facts"]
        assert decoy.exists() and not any(str(decoy) in item for item in facts["removed"])
        assert any(str(decoy) in item for item in facts["unrecorded"])
        assert f"run record {record}" in facts["removed"]
    finally:
        decoy.rmdir()
        record.unlink(missing_ok=True)
        fifo.unlink()
        if made:
            runs.remove_user_run_dir(directory)
