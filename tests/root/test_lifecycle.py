"""Nothing left behind: finished, interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT), and SIGKILLed then cleaned up.

More endings (a hangup during --hold, a reader that quits, a signal after the report): test_signals.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from isodemo import runs
from tests.conftest import isodemo_argv, run_isodemo
from tests.root.holding import Held, run_processes, wait_gone
from tests.root.users import run_as_nobody, userns_blocker

DEMOS = ["pid", "uts", "ipc", "mnt", "user", "cgroupns", "timens"]


# The VM stage runs only cgroupns here: the other demos make no cgroup, and end the same way on v1 and v2.
@pytest.mark.parametrize(
    "demo", [demo if demo == "cgroupns" else pytest.param(demo, marks=pytest.mark.host_only) for demo in DEMOS]
)
@pytest.mark.parametrize("how", ["enter", "sigterm", "sigint"])
def test_hold_ends_cleanly(demo: str, how: str) -> None:
    if demo == "user" and userns_blocker():
        pytest.skip(f"this machine refuses unprivileged user namespaces: {userns_blocker()}")
    held = Held(demo, "--json")
    pids = list(held.info["pids"].values())
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids)
    code, out, err = held.release(how)
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["ok"] is True and report["leftovers"] == []
    assert wait_gone(pids, timeout=5) == []


@pytest.mark.host_only  # mnt: no cgroup
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_signal_mid_demo_exits_130_after_cleaning_up(sig: int) -> None:
    """--step stops after the first step, waiting for Enter: a signal there interrupts a demo in progress."""
    proc = subprocess.Popen(
        isodemo_argv("mnt", "--plain", "--step"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    seen = ""

    def read_until(text: str) -> None:
        nonlocal seen
        while text not in seen:
            chunk = proc.stdout.read(1)  # type: ignore[union-attr]
            assert chunk, f"isodemo ended before {text!r}: {seen}"
            seen += chunk

    read_until("-- press Enter")  # the pause after step 1
    seen = ""
    proc.stdin.write("\n")
    proc.stdin.flush()
    read_until("[2] A tmpfs")
    read_until("-- press Enter")  # the pause after step 2: the mount point exists, the tmpfs is mounted
    rootfs_dirs = list(runs.SHARED_TMP.glob("isodemo-*-rootfs"))
    assert rootfs_dirs
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted by " + signal.Signals(sig).name in err
    assert "Traceback" not in err
    assert not any(path.exists() for path in rootfs_dirs)


@pytest.mark.host_only
def test_step_without_input_stops_pausing() -> None:
    result = run_isodemo("uts", "--plain", "--step")  # stdin is /dev/null: nobody will press Enter
    assert result.code == 0, result.stderr
    assert result.stdout.count("press Enter") == 1


def test_cleanup_leaves_lookalikes_alone(tmp_path: Path) -> None:
    """Names shaped like isodemo's are not enough: without a run record, cleanup touches nothing."""
    lookalike = Path(tempfile.gettempdir()) / "isodemo-facade-notes"
    lookalike.mkdir()
    (lookalike / "notes.txt").write_text("mine, not isodemo's\n")
    try:
        result = run_isodemo("cleanup", "--json")
        assert result.code == 0, result.stderr
        assert (lookalike / "notes.txt").exists()
        assert f"directory {lookalike}" in result.json["facts"]["unrecorded"]
    finally:
        (lookalike / "notes.txt").unlink()
        lookalike.rmdir()


@pytest.mark.host_only
def test_plain_and_color_together_is_a_usage_error() -> None:
    result = run_isodemo("list", "--plain", "--color")
    assert result.code == 2 and "--plain" in result.stderr and "Traceback" not in result.stderr


def test_sigkill_then_cleanup_removes_everything() -> None:
    """SIGKILL gives isodemo no chance to clean up: the kernel ends the children (PR_SET_PDEATHSIG),
    and `isodemo cleanup` removes the rest (the rootfs directory, the IPC queue, the run record)."""
    held_mnt = Held("mnt", "--json")
    held_ipc = Held("ipc", "--json")
    runs = {held_mnt.info["run"], held_ipc.info["run"]}
    pids = [pid for run in runs for pid in run_processes(run)]
    assert len(pids) == 4, "a helper and a child per run"
    held_mnt.kill()
    held_ipc.kill()
    assert wait_gone(pids) == [], "children must die with isodemo (PR_SET_PDEATHSIG)"

    dry = run_isodemo("cleanup", "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    found = dry.json["facts"]["found"]
    assert any("directory" in item and "rootfs" in item for item in found)
    assert any("sysv message queue" in item for item in found)
    assert all(any(run in item for run in runs) for item in found), found
    assert dry.json["facts"]["removed"] == []

    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stderr
    assert sorted(done.json["facts"]["removed"]) == sorted(found)
    assert run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"] == []


@pytest.mark.usefixtures("unprivileged_userns")
def test_sigkill_of_user_and_cgroupns_then_cleanup() -> None:
    """The user demo leaves a file in /tmp and cgroupns a cgroup, until cleanup removes them."""
    held_user = Held("user", "--json")
    held_cgroupns = Held("cgroupns", "--json")
    runs = {held_user.info["run"], held_cgroupns.info["run"]}
    pids = [pid for run in runs for pid in run_processes(run)]
    held_user.kill()
    held_cgroupns.kill()
    assert wait_gone(pids) == [], "children must die with isodemo (PR_SET_PDEATHSIG)"
    found = run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"]
    assert any("userns-file" in item for item in found), found
    assert any("cgroup" in item and "-box" in item for item in found), found
    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stderr
    assert sorted(done.json["facts"]["removed"]) == sorted(found)
    assert run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"] == []


@pytest.mark.host_only  # mnt: no cgroup
def test_cleanup_leaves_a_live_run_alone() -> None:
    held = Held("mnt", "--json")
    try:
        result = run_isodemo("cleanup", "--json")
        assert result.code == 0, result.stderr
        assert held.info["run"] in result.json["facts"]["skipped_live_runs"]
        assert result.json["facts"]["removed"] == []
        assert os.path.exists(f"/proc/{held.info['pids']['container']}")
    finally:
        code, _, err = held.release("enter")
    assert code == 0, err


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_not_root_exits_77_with_the_sudo_line(any_user_env: dict[str, str]) -> None:
    """net has no rootless mode (a veth into the host's namespace needs CAP_NET_ADMIN there)."""
    result = run_as_nobody(["net", "--plain"], any_user_env)
    assert result.code == 77, result.stderr
    assert "sudo isodemo net --plain" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.host_only  # namespaces only
def test_inspect_shows_which_namespaces_differ() -> None:
    held = Held("pid", "--json")
    try:
        result = run_isodemo("inspect", str(held.info["pids"]["pid1"]), "--json")
    finally:
        held.release("enter")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert {"pid", "mnt"} <= set(facts["different_namespaces"])
    assert "net" not in facts["different_namespaces"]
    assert facts["nspid"][-1] == 1


def test_doctor_reports_this_machine() -> None:
    result = run_isodemo("doctor", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["linux"]["ok"] is True
    assert facts["cgroup_mode"]["detail"] in {"v1", "v2", "hybrid"}
    assert facts["busybox"]["ok"] is True


def test_bench_measures_start_and_memory() -> None:
    result = run_isodemo("bench", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert 0 < facts["start_ms_median"] < 1000
    assert 0 < facts["container_memory_bytes"] < facts["mem_available_bytes"]
    assert facts["containers_that_fit"] == facts["mem_available_bytes"] // facts["container_memory_bytes"]
    assert result.json["leftovers"] == []
