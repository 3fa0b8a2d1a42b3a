"""`isodemo escape` as root: every required fact observed with its expected value, the host's hostname, disks and
processes untouched, and nothing left behind after a normal run, SIGINT, or SIGKILL then `isodemo cleanup`."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from isodemo.inside import chroot_escape as chroot
from isodemo.inside.forked import in_child
from isodemo.kernel import procfs
from tests.conftest import Result, isodemo_argv, run_isodemo
from tests.root.holding import Held

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(
    not os.path.exists(BUSYBOX) or shutil.which("mkfs.ext4") is None or shutil.which("debugfs") is None,
    reason="needs busybox-static and e2fsprogs",
)

REQUIRED = {
    "chroot_escaped": True,
    "pivot_root_escaped": False,
    "privileged_mount_ok": True,
    "default_mount_errno": "EPERM",
    "privileged_proc_write_ok": True,
    "default_proc_write_errno": "EROFS",
    "host_pid_visible_default": False,
    "host_pid_visible_host_pidns": True,
    "userns_host_file_writable": False,
    "no_userns_host_file_writable": True,
    "seccomp_unshare_errno": "EPERM",
}


def _left(run_id: str) -> list[str]:
    found = glob.glob(f"/tmp/isodemo-{run_id}-*") + glob.glob(f"/var/tmp/isodemo-{run_id}-*")
    found += [e.mount_point for e in procfs.mountinfo() if f"isodemo-{run_id}" in e.mount_point]
    for backing in glob.glob("/sys/block/loop*/loop/backing_file"):
        with open(backing) as f:
            if f"isodemo-{run_id}" in f.read():
                found.append(backing)
    return found


def test_escape_facts(image_store: str) -> None:
    hostname = os.uname().nodename
    result = run_isodemo("escape", "--json")
    assert result.code == 0, result.stderr + result.stdout
    facts = result.json["facts"]
    assert {name: facts[name] for name in REQUIRED} == REQUIRED
    assert facts["seccomp_keyctl_errno"] == "EPERM"
    assert facts["sys_admin_tmpfs_mount_ok"] is True
    assert facts["sys_admin_device_errno"] == "EPERM"
    assert facts["setuid_raw_socket_ok"] is True
    assert facts["no_new_privs_raw_socket_ok"] is False
    assert facts["userns_owner_seen"] == "65534"
    assert facts["default_kill_errno"] == "ESRCH"
    assert facts["host_hostname_unchanged"] is True
    assert result.json["leftovers"] == []
    assert os.uname().nodename == hostname
    run_id = os.path.basename(facts["workspace"]).split("-")[1]
    assert _left(run_id) == []


@pytest.mark.host_only
def test_korean_run_gives_the_same_facts(image_store: str) -> None:
    result = run_isodemo("escape", "--json", "--lang", "ko")
    assert result.code == 0, result.stderr
    assert {name: result.json["facts"][name] for name in REQUIRED} == REQUIRED


def _walk_in(root: str) -> dict[str, object]:
    return chroot.escape_walk(os.path.join(root, "jail"), os.path.join(root, "marker"))


@pytest.mark.host_only  # no cgroup in it: the same on v1 and v2
def test_chroot_walk_escapes_a_plain_chroot() -> None:
    """The walk itself, in a child: without it the marker is out of reach from the chroot (ENOENT)."""
    root = tempfile.mkdtemp(prefix="isodemotest-chroot-")
    try:
        os.mkdir(os.path.join(root, "jail"))
        with open(os.path.join(root, "marker"), "w") as f:
            f.write("outside\n")
        answer = in_child(_walk_in, root)
    finally:
        shutil.rmtree(root)
    assert answer["jailed"] == {"content": None, "errno": "ENOENT"}
    assert answer["escaped"] == {"content": "outside\n", "errno": None}
    assert answer["moved"] is True


@pytest.mark.host_only
def test_sigint_in_the_middle_leaves_nothing(image_store: str) -> None:
    result = run_isodemo("escape", "--json", env={"ISODEMO_TESTPOINT": "step#5:SIGINT"})
    assert result.code == 130, result.stderr
    assert result.json["leftovers"] == []


@pytest.mark.host_only
def test_sigkill_then_cleanup_removes_everything(image_store: str, isodemo_cleanup_first: None) -> None:
    held = Held("escape", "--json")
    run_id = held.info["run"]
    workspace = held.info["paths"]["workspace"]
    assert os.path.isdir(workspace)
    held.proc.send_signal(signal.SIGKILL)
    held.proc.communicate(timeout=60)
    cleanup = run_isodemo("cleanup", "--json")
    assert cleanup.code == 0, cleanup.stderr
    assert _left(run_id) == []
    assert f"escape workspace {workspace}" in " ".join(cleanup.json["facts"]["removed"])


# A private mount namespace of the test's own (unshare -m: propagation private), in which /tmp, and for the
# second case /var/tmp, are bind-mounted on themselves and remounted nosuid, as Fedora's, Arch's and Debian
# 13's tmpfs /tmp is. The host's own mounts are never changed; the test's store stays visible.
NOSUID = 'for d in "$@"; do mount --bind "$d" "$d" && mount -o remount,bind,nosuid "$d" || exit 99; done'


def _nosuid_run(places: list[str]) -> Result:
    script = NOSUID.replace('"$@"', " ".join(places)) + ' && exec "$@"'
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *isodemo_argv("escape", "--json")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode != 99, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _nosuid(path: str) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_NOSUID)


@pytest.mark.host_only
def test_a_nosuid_tmp_moves_the_workspace_to_var_tmp(image_store: str) -> None:
    """The setuid busybox must be setuid where it is bound from: with /tmp nosuid, the workspace is made in
    /var/tmp (or, if that is nosuid too on this host, the demo stops with exit 3 before making anything)."""
    result = _nosuid_run(["/tmp"])
    if _nosuid("/var/tmp"):
        assert result.code == 3, result.stderr
        return
    assert result.code == 0, result.stderr + result.stdout
    facts = result.json["facts"]
    assert os.path.dirname(facts["workspace"]) == "/var/tmp"
    assert facts["setuid_raw_socket_ok"] is True
    assert facts["no_new_privs_raw_socket_ok"] is False
    assert {name: facts[name] for name in REQUIRED} == REQUIRED
    assert result.json["leftovers"] == []
    assert _left(os.path.basename(facts["workspace"]).split("-")[1]) == []


@pytest.mark.host_only
def test_nosuid_tmp_and_var_tmp_is_a_missing_feature(image_store: str) -> None:
    before = set(glob.glob("/tmp/isodemo-*") + glob.glob("/var/tmp/isodemo-*"))
    result = _nosuid_run(["/tmp", "/var/tmp"])
    assert result.code == 3, result.stderr + result.stdout
    assert "nosuid" in result.json["error"]["message"]
    assert result.json["leftovers"] == []
    assert set(glob.glob("/tmp/isodemo-*") + glob.glob("/var/tmp/isodemo-*")) == before


@pytest.mark.host_only  # no cgroup in it: the same on v1 and v2
def test_workspace_is_closed_to_other_users(image_store: str) -> None:
    """While the run holds, the workspace (the setuid busybox is in it) is mode 0710, group USERNS_BASE: no
    other user can enter it; the setuid copy is still setuid."""
    held = Held("escape", "--json")
    try:
        workspace = held.info["paths"]["workspace"]
        found = os.stat(workspace)
        assert found.st_mode & 0o7777 == 0o710
        assert (found.st_uid, found.st_gid) == (0, 100000)
        assert os.stat(os.path.join(workspace, "suid", "busybox")).st_mode & 0o7777 == 0o4755
    finally:
        code, _out, err = held.release()
    assert code == 0, err
