"""How a run ends, without root: waits that end on a signal, output that survives its reader and any
encoding, a zombie owner taken for dead. Real pipes, real signals, a real zombie."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from isodemo import runs, signals
from isodemo.errors import ExitCode, Interrupted, OutputClosed
from isodemo.narrate.output import Output, guarded
from isodemo.narrate.plain import PlainNarrator
from isodemo.runner import GlobalOptions, execute


def _signal_me_soon(sig: int, enter_fd: int) -> subprocess.Popen[bytes]:
    """Another process sends the signal, as a terminal or `kill` would, while this one waits. 5 s later it
    presses Enter on `enter_fd`: a wait that ignored the signal then ends, and the test fails, not hangs."""
    script = (
        f"import os, time; time.sleep(0.3); os.kill({os.getpid()}, {sig}); time.sleep(5); os.write({enter_fd}, b'\\n')"
    )
    return subprocess.Popen([sys.executable, "-c", script], pass_fds=[enter_fd])


@pytest.mark.parametrize("armed", [True, False])
def test_a_wait_for_enter_ends_on_the_first_signal(armed: bool) -> None:
    """Armed, the handler raises; disarmed, it returns and the wait notices it itself (no second signal)."""
    read_end, write_end = os.pipe()
    stdin = os.fdopen(read_end)
    try:
        with signals.interrupts_unwind():
            if not armed:
                signals.disarm()
            sender = _signal_me_soon(signal.SIGHUP, write_end)
            started = time.monotonic()
            with pytest.raises(Interrupted) as caught:
                signals.wait_for_enter(stdin)
            sender.kill()
            sender.wait()
        assert caught.value.signame == "SIGHUP"
        assert time.monotonic() - started < 5
    finally:
        stdin.close()
        os.close(write_end)


def test_a_wait_reads_each_line_even_when_two_came_at_once() -> None:
    """Two Enters in one write: the second pause must not wait for a third (no hidden read buffer)."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"\n\n")
    os.close(write_end)
    with os.fdopen(read_end) as stdin:
        assert signals.wait_for_enter(stdin) is True
        assert signals.wait_for_enter(stdin) is True
        assert signals.wait_for_enter(stdin) is False  # end of input


def test_a_held_signal_arrives_when_the_block_ends() -> None:
    with signals.interrupts_unwind(), pytest.raises(Interrupted):
        with signals.held():
            os.kill(os.getpid(), signal.SIGTERM)
            assert signals.received() is None  # blocked: not delivered yet
        pytest.fail("the signal was not delivered when the block ended")


def test_a_signal_in_teardown_is_noted_and_ignored() -> None:
    with signals.interrupts_unwind():
        signals.disarm()
        os.kill(os.getpid(), signal.SIGQUIT)
        assert signals.received() == "SIGQUIT"


def test_hold_ends_the_demo_on_a_hangup_but_not_on_sigterm() -> None:
    read_end, write_end = os.pipe()
    stdin = os.fdopen(read_end)
    try:
        with signals.interrupts_unwind():
            narrator = PlainNarrator(out=io.StringIO(), stdin=stdin)
            sender = _signal_me_soon(signal.SIGTERM, write_end)
            narrator.hold({"run": "x"}, [])  # released: returns
            sender.kill()
            sender.wait()
            assert signals.armed()  # re-armed for the last steps
            sender = _signal_me_soon(signal.SIGHUP, write_end)
            with pytest.raises(Interrupted):
                narrator.hold({"run": "x"}, [])
            sender.kill()
            sender.wait()
    finally:
        stdin.close()
        os.close(write_end)


# -- output -----------------------------------------------------------------------------------------------


def test_a_closed_pipe_ends_the_demo_once_then_writes_go_nowhere() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    raw = os.fdopen(os.dup(write_end), "w")
    out = Output(raw, ends_demo=True)
    try:
        with signals.interrupts_unwind():
            with pytest.raises(OutputClosed):
                out.write("line\n")
                out.flush()
            out.write("more\n")  # no second OutputClosed: the teardown must run
            out.flush()
        assert out.lost
        assert os.readlink(f"/proc/self/fd/{raw.fileno()}") == os.devnull  # the exit flush cannot fail
    finally:
        raw.close()
        os.close(write_end)


def test_a_closed_pipe_outside_a_demo_is_only_quiet() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as raw:
        out = Output(raw, ends_demo=True)
        out.write("line\n")
        out.flush()  # not armed: no OutputClosed
        assert out.lost


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_any_encoding_is_replaced_not_an_error(encoding: str) -> None:
    buffer = io.BytesIO()
    raw = io.TextIOWrapper(buffer, encoding=encoding, errors="strict")
    narrator = PlainNarrator(out=raw, err=raw)
    narrator.begin("pid", {"kernel": "6.8"})
    narrator.claim("the child is PID 1 inside — ✓", True)
    narrator.finish()
    raw.flush()
    text = buffer.getvalue().decode(encoding)
    assert "the child is PID 1 inside" in text and "?" in text


def test_guarded_is_idempotent() -> None:
    stream = io.StringIO()
    once = guarded(stream, ends_demo=True)
    assert guarded(once, ends_demo=True) is once


def test_a_reader_gone_mid_run_exits_141_quietly() -> None:
    """runner.execute with stdout a pipe whose reader is gone: 141, the OutputClosed kind in the report."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    raw = os.fdopen(os.dup(write_end), "w")
    saved = sys.stdout
    sys.stdout = raw
    try:

        def body(narrator: object, ctx: object) -> None:
            for _ in range(3):
                narrator.step("talking to nobody")  # type: ignore[attr-defined]

        code = execute("talk", GlobalOptions(plain=True), body, needs_root=False)
    finally:
        sys.stdout = saved
        raw.close()
        os.close(write_end)
    assert code == ExitCode.OUTPUT_CLOSED == 141


# -- a zombie owner ---------------------------------------------------------------------------------------


def test_a_zombie_owner_is_not_a_live_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "_record_dirs", lambda: [(tmp_path, os.getuid())])
    owner = os.fork()
    if owner == 0:  # pragma: no cover - exits at once; not reaped until the end of the test
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while runs.procfs.stat(owner) and runs.procfs.stat(owner)[0] != "Z" and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.01)
        (tmp_path / "0a0a0a").write_text(f"{owner} {runs.procfs.start_time(owner)}\n")
        (tmp_path / "0b0b0b").write_text(f"{os.getpid()} {runs.procfs.start_time(os.getpid())}\n")
        assert runs.live_runs() == {"0b0b0b"}
    finally:
        os.waitpid(owner, 0)


@pytest.mark.parametrize(
    ("args", "code"),
    [(["list"], 141), (["--version"], 141), (["pid", "--help"], 141), (["--help"], 141), (["pdi"], 2)],
)
def test_no_reader_from_the_start(args: list[str], code: int) -> None:
    """stdout a pipe nobody reads any more: the documented code, and no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    log = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "isodemo", *args],
        stdout=write_end,
        stderr=subprocess.PIPE,
        check=False,
        timeout=60,
    )
    os.close(write_end)
    assert log.returncode == code, log.stderr
    assert b"Traceback" not in log.stderr and b"Exception ignored" not in log.stderr
    if code == 141:
        assert log.stderr == b""  # quiet, as `yes | head -1` is
