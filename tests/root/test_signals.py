"""How every run ends: a hangup, Ctrl-\\, a signal at a pause or after the report, a reader that quits early,
an encoding that lacks the narration's characters, an owner killed but not yet reaped. Real processes."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from isodemo import leftovers, runs
from isodemo.kernel import procfs
from tests.conftest import REPO, isodemo_argv, run_isodemo
from tests.root.holding import Held, run_processes, wait_gone

NO_TRACE = ("Traceback", "Exception ignored")


def assert_no_trace(err: str) -> None:
    assert not any(mark in err for mark in NO_TRACE), err


def assert_run_gone(run_id: str) -> None:
    """Nothing named after the run, and no record of it: nothing for `isodemo cleanup` to do."""
    assert leftovers.find({run_id}) == [], f"run {run_id} left: {leftovers.find({run_id})}"
    assert not (runs.RUN_DIR / run_id).exists()


# -- a hangup or Ctrl-\ while a demo holds --------------------------------------------------------------


@pytest.mark.parametrize(
    "demo",
    [
        pytest.param("uts", marks=pytest.mark.host_only),
        "cgroup-memory",
        pytest.param("net", marks=pytest.mark.host_only),
    ],
)
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_hangup_or_quit_during_hold_tears_down_and_exits_130(demo: str, sig: int) -> None:
    """A closed terminal (SIGHUP) or Ctrl-\\ (SIGQUIT) ends the demo, not just the hold: nobody reads on."""
    held = Held(demo, "--json")
    try:
        run_id = held.info["run"]
        pids = [*held.info["pids"].values(), *run_processes(run_id)]
        assert (runs.RUN_DIR / run_id).exists() and leftovers.find({run_id}, include_records=False)
        held.proc.send_signal(sig)
        out, err = held.proc.communicate(timeout=60)
    finally:
        if held.proc.poll() is None:  # the test failed before its signal: release it the usual way
            held.release("sigterm")
    assert held.proc.returncode == 130, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["error"]["kind"] == "Interrupted"
    assert signal.Signals(sig).name in report["error"]["message"]
    assert report["leftovers"] == []
    assert_no_trace(err)
    assert wait_gone(pids) == []
    assert_run_gone(run_id)


@pytest.mark.host_only  # uts and net: no cgroup
@pytest.mark.parametrize("demo", ["uts", "net"])
def test_closing_the_terminal_tears_down(demo: str) -> None:
    """A real terminal (a pty) closed while the demo holds: the kernel sends SIGHUP, writes fail with EIO.

    Nothing is left, and the exit status is 130 although the narration can no longer be written."""
    pid, terminal = pty.fork()
    if pid == 0:  # pragma: no cover - the session leader on the pty, as a login shell's job would be
        os.execvp(sys.executable, isodemo_argv(demo, "--hold"))
    seen = b""
    try:
        while not re.search(rb"holding: (\{.*\})\r?\n", seen):
            ready, _, _ = select.select([terminal], [], [], 60)
            assert ready, seen.decode(errors="replace")
            seen += os.read(terminal, 65536)
    finally:
        os.close(terminal)  # the terminal goes away
        _, status = os.waitpid(pid, 0)
    match = re.search(rb"holding: (\{.*\})\r?\n", seen)
    assert match
    assert os.waitstatus_to_exitcode(status) == 130
    assert_run_gone(json.loads(match[1])["run"])


# -- a signal at a --step pause, stdin an open pipe nobody writes to ---------------------------------------


def _open_stdin_run(*args: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """isodemo with stdin a pipe kept open and never written: a pause waits for Enter, not for end of input."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        isodemo_argv(*args),
        stdin=read_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    os.close(read_end)
    return proc, write_end


@pytest.mark.parametrize("demo", [pytest.param("uts", marks=pytest.mark.host_only), "cgroup-memory"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_first_signal_at_a_pause_ends_it(demo: str, sig: str) -> None:
    proc, stdin = _open_stdin_run(demo, "--plain", "--step", env={"ISODEMO_TESTPOINT": f"pause:{sig}"})
    try:
        out, err = proc.communicate(timeout=60)  # a second signal is never sent: the first one must do
    finally:
        os.close(stdin)
    assert proc.returncode == 130, out + err
    assert f"interrupted by {sig}" in err
    assert out.count("press Enter") == 1
    assert_no_trace(err)


@pytest.mark.host_only
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT])
def test_signal_from_outside_at_a_later_pause(sig: int) -> None:
    """Sent by the test after it read the second pause's prompt (after one Enter): a real wait, a real signal."""
    proc, stdin = _open_stdin_run("mnt", "--plain", "--step", env={})
    assert proc.stdout is not None
    seen = ""
    try:
        for pause in (1, 2):
            while seen.count("press Enter") < pause:
                chunk = proc.stdout.read(1)
                assert chunk, f"isodemo ended before pause {pause}: {seen}"
                seen += chunk
            if pause == 1:
                os.write(stdin, b"\n")
        time.sleep(0.3)  # well inside the wait
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(stdin)
    assert proc.returncode == 130, err
    assert "interrupted by " + signal.Signals(sig).name in err
    assert_no_trace(err)


# -- a signal after the report --------------------------------------------------------------------------


@pytest.mark.host_only
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_signal_after_the_report_keeps_its_exit_code(sig: str) -> None:
    """The work is done and cleaned when the report is out: the exit code is the report's, no traceback."""
    result = run_isodemo("uts", "--json", env={"ISODEMO_TESTPOINT": f"runner.reported:{sig}"})
    assert result.code == 0, result.stderr
    assert result.json["ok"] is True
    assert_no_trace(result.stderr)


@pytest.mark.host_only
def test_signal_after_a_failed_report_keeps_its_code() -> None:
    """Not always 0: a usage error found by the demo (exit 2) stays 2."""
    result = run_isodemo("inspect", "999999", "--plain", env={"ISODEMO_TESTPOINT": "runner.reported:SIGTERM"})
    assert result.code == 2, result.stderr
    assert_no_trace(result.stderr)


# -- a reader that quits early ----------------------------------------------------------------------------


def _records_of(pid: int) -> list[Path]:
    return [record.path for record in runs.recorded_runs().values() if record.pid == pid]


@pytest.mark.host_only
def test_pid_into_head_ends_quietly_with_141() -> None:
    """`isodemo pid | head -3`, with a real head: no message, exit 141 (128 + SIGPIPE), nothing left."""
    demo = subprocess.Popen(isodemo_argv("pid", "--plain"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-3"], stdin=demo.stdout, stdout=subprocess.PIPE)
    assert demo.stdout is not None and demo.stderr is not None
    demo.stdout.close()  # only head reads it now
    shown, _ = head.communicate(timeout=60)
    err = demo.stderr.read().decode()
    assert demo.wait(timeout=60) == 141, err
    assert len(shown.splitlines()) == 3
    assert err == ""
    assert _records_of(demo.pid) == []


@pytest.mark.host_only
@pytest.mark.parametrize("style", ["--json", "--plain"])
def test_no_reader_at_all_is_141_even_when_only_the_report_is_written(style: str) -> None:
    """A pipe whose reader closed before the run began: with --json the one write is the report, at the very
    end, while signals are disarmed; that write is lost too, and the code must say so, not 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            isodemo_argv(style, "uts"), stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert_no_trace(proc.stderr)


@pytest.mark.host_only
def test_reader_gone_at_a_pause_ends_the_demo_and_cleans_up() -> None:
    """Deterministic: the reader quits while the demo waits at a pause; Enter, and its next line fails."""
    proc, stdin = _open_stdin_run("mnt", "--plain", "--step", env={})
    assert proc.stdout is not None and proc.stderr is not None
    seen = ""
    try:
        while "press Enter" not in seen:
            chunk = proc.stdout.read(1)
            assert chunk, seen
            seen += chunk
        (record,) = _records_of(proc.pid)
        proc.stdout.close()
        os.write(stdin, b"\n")
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        os.close(stdin)
    assert code == 141, err
    assert err == ""
    assert_run_gone(record.name)


# -- encodings --------------------------------------------------------------------------------------------


@pytest.mark.host_only
@pytest.mark.parametrize("demo", ["user", "pid", "doctor"])
@pytest.mark.parametrize("mode", ["--plain", "--color"])
def test_ascii_stdout_is_not_an_error(demo: str, mode: str) -> None:
    result = run_isodemo(demo, mode, env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 0, result.stderr
    assert_no_trace(result.stderr)
    assert "?" in result.stdout  # ✓ and the like, replaced


# -- an owner killed but not reaped -----------------------------------------------------------------------


@pytest.mark.host_only
def test_cleanup_takes_a_zombie_owner_for_dead() -> None:
    """A run whose owner exited but was not reaped (a zombie: same pid, same start time) is not live."""
    owner = os.fork()
    if owner == 0:  # pragma: no cover - the owner: exits at once, and the test does not reap it yet
        os._exit(0)
    run = runs.Run.new()
    leftover = runs.SHARED_TMP / run.object_name("zombie-owned")
    try:
        deadline = time.monotonic() + 10
        while not procfs.is_zombie(owner) and time.monotonic() < deadline:
            time.sleep(0.01)
        start = procfs.start_time(owner)
        assert start is not None, "a zombie still has its /proc/PID/stat"
        runs.RUN_DIR.mkdir(parents=True, exist_ok=True)
        run.record.write_text(f"{owner} {start}\n")
        leftover.mkdir()
        assert run.id not in runs.live_runs()
        result = run_isodemo("cleanup", "--json")
        assert result.code == 0, result.stderr
        assert run.id not in result.json["facts"]["skipped_live_runs"]
        assert f"directory {leftover}" in result.json["facts"]["removed"]
        assert not leftover.exists() and not run.record.exists()
    finally:
        os.waitpid(owner, 0)
        if leftover.exists():
            leftover.rmdir()
        run.record.unlink(missing_ok=True)


# -- the walkthrough, hung up while a demo holds ----------------------------------------------------------


@pytest.mark.host_only  # runs uts twice, through bash
@pytest.mark.parametrize("whom", ["group", "script"])
def test_walkthrough_hung_up_while_holding_leaves_nothing(whom: str) -> None:
    """`group`: a closed terminal signals the whole foreground job; `script`: `kill -HUP` of the walkthrough."""
    isodemo = Path(sys.executable).parent / "isodemo"  # the entry point next to the python running the tests
    if not isodemo.exists():
        pytest.skip(f"no isodemo entry point at {isodemo}")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [str(Path(REPO) / "demos" / "walkthrough"), "--from", "uts"],
        stdin=read_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ISODEMO": str(isodemo), "NO_COLOR": "1"},
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    os.close(read_end)
    assert proc.stdout is not None
    seen, run_id = "", ""
    try:
        answered = False
        while "to release the held demo" not in seen:
            chunk = proc.stdout.read(1)  # a pause's prompt ends without a newline
            assert chunk, f"the walkthrough ended early: {seen}"
            seen += chunk
            if seen.endswith("\n") and seen.splitlines()[-1].startswith("holding: "):
                run_id = json.loads(seen.splitlines()[-1].removeprefix("holding: "))["run"]
            if "look at a held UTS namespace" in seen and not answered:
                os.write(write_end, b"\n")
                answered = True
        assert run_id and run_processes(run_id)
        pids = run_processes(run_id)
        if whom == "group":
            os.killpg(proc.pid, signal.SIGHUP)
        else:
            proc.send_signal(signal.SIGHUP)
        proc.communicate(timeout=60)
    finally:
        os.close(write_end)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (129, -signal.SIGHUP), proc.returncode
    assert wait_gone(pids) == []
    assert_run_gone(run_id)
