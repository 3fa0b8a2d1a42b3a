"""Runs side by side, and a reader that goes away: demos held at the same moment must not trip over each
other's objects, and a closed stdout (`isodemo pid | head -3`) must end a run without a traceback or a leftover.

(Four copies of `net` at once are tests/root/test_net.py's.)
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import tempfile
import time
from typing import Any

import pytest

from isodemo import testpoints
from isodemo.kernel import procfs
from tests.conftest import isodemo_argv
from tests.root import matrix
from tests.root.holding import Held

# Every demo but the three slow ones (they measure rates and shares, which concurrency disturbs on purpose).
TOGETHER = [demo for demo in matrix.demos() if demo not in matrix.CHEAP_OPTIONS]
# What isodemo exits with when its stdout is closed before it is done (docs/exit-codes.md).
CLOSED_STDOUT_EXIT = 141


def _hold(demo: str) -> Held | str:
    try:
        return Held(demo, "--json")
    except AssertionError as error:
        return f"isodemo {demo} --json --hold: {error}"


def _release(job: tuple[str, Held]) -> str | None:
    demo, held = job
    code, out, err = held.release("enter")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    if code != 0 or not report.get("ok") or report.get("leftovers") or "Traceback" in err:
        return f"isodemo {demo} --json --hold: exit {code}, leftovers {report.get('leftovers')}: {err[-400:]}"
    return None


@pytest.mark.host_only
def test_demos_held_at_the_same_moment_all_end_clean() -> None:
    assert len(TOGETHER) >= 8
    held = matrix.in_pool(_hold, TOGETHER, workers=len(TOGETHER))
    ready = [h for h in held if isinstance(h, Held)]
    try:
        assert len(ready) == len(held), "\n".join(h for h in held if isinstance(h, str))
        pids = [pid for h in ready for pid in h.info.get("pids", {}).values()]
        dead = [pid for pid in pids if procfs.is_zombie(pid)]
        assert not dead, f"processes of held runs ended while the others held: {dead}"
        assert len({h.info["run"] for h in ready}) == len(ready)
    finally:
        jobs = [(demo, h) for demo, h in zip(TOGETHER, held, strict=True) if isinstance(h, Held)]
        failures = [f for f in matrix.in_pool(_release, jobs, workers=len(jobs)) if f]
    assert not failures, "\n".join(failures)


def _through_head(args: tuple[str, ...]) -> str | None:
    """`isodemo ARGS | head -3`, a real pipe to a real head."""
    command = f"sudo isodemo {shlex.join(args)} | head -3"
    with tempfile.TemporaryFile("w+") as err:
        producer = subprocess.Popen(isodemo_argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert producer.stdout is not None
        head = subprocess.Popen(["head", "-3"], stdin=producer.stdout, stdout=subprocess.PIPE)
        producer.stdout.close()  # head is the only reader now: its exit closes the pipe
        lines = head.communicate(timeout=matrix.TIMEOUT)[0].decode().splitlines()
        code = producer.wait(matrix.TIMEOUT)
        err.seek(0)
        stderr = err.read()
    return _closed_problems(command, code, stderr, (0, CLOSED_STDOUT_EXIT), lines)


def _closed_problems(
    command: str, code: int, stderr: str, allowed: tuple[int, ...], lines: list[str] | None = None
) -> str | None:
    problems = []
    if code not in allowed:
        by = f" (killed by {signal.Signals(-code).name})" if code < 0 else ""
        problems.append(f"exit {code}{by}, expected {' or '.join(map(str, sorted(set(allowed))))}")
    if "Traceback" in stderr:
        problems.append("a traceback on stderr")
    if "could not remove" in stderr:
        problems.append("leftovers on stderr")
    if lines is not None and len(lines) != 3:
        problems.append(f"head printed {lines}")
    tail = " | ".join(stderr.strip().splitlines()[-3:])[-400:]
    return f"{command}\n    -> {'; '.join(problems)}" + (f"\n    stderr: {tail}" if tail else "") if problems else None


@pytest.mark.host_only
def test_stdout_closed_by_head() -> None:
    """The pipeline a learner types. Whether isodemo writes again after head has gone depends on timing
    (it may have written everything already): either way, no traceback and nothing left."""
    jobs = [("list",), *((demo, "--plain") for demo in TOGETHER)]
    failures = [f for f in matrix.in_pool(_through_head, jobs) if f]
    assert not failures, "\n".join(failures)


def _stopped(pid: int, timeout: float) -> bool:
    """Wait until `pid` is stopped (state T); False when it ended or did not stop in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fields = procfs.stat(pid)
        if fields is None or fields[0] == "Z":
            return False
        if fields[0] in ("T", "t"):
            return True
        time.sleep(0.01)
    return False


def _closed_at(job: tuple[str, int, str]) -> str | None:
    """The reader goes away while isodemo is stopped at the start of step k (a test point that sends SIGSTOP):
    whatever isodemo writes after SIGCONT goes to a pipe without a reader, deterministically."""
    demo, step, mode = job
    args = (*matrix.demo_args(demo), mode)
    point = f"step#{step}:SIGSTOP"
    command = (
        f"sudo env {testpoints.VARIABLE}={point} isodemo {shlex.join(args)} | true"
        f"  # then, once it is stopped: kill -CONT"
    )
    env = {**os.environ, testpoints.VARIABLE: point}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            isodemo_argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env
        )
        assert proc.stdout is not None
        stopped = _stopped(proc.pid, matrix.case_timeout(demo))
        if select.select([proc.stdout], [], [], 0)[0]:
            os.read(proc.stdout.fileno(), 1 << 20)  # what it wrote so far: read, as head would have
        proc.stdout.close()
        os.kill(proc.pid, signal.SIGCONT)
        try:
            code = proc.wait(matrix.case_timeout(demo))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        err.seek(0)
        stderr = err.read()
    problem = _closed_problems(command, code, stderr, (CLOSED_STDOUT_EXIT,))
    if not stopped:
        problem = f"{command}\n    -> never stopped at {point}" + (f"; {problem}" if problem else "")
    if matrix.owned_runs(proc.pid):
        problem = f"{problem or command}; its run record is left"
    return problem


@pytest.mark.host_only
def test_stdout_closed_at_every_step() -> None:
    """Plain output at every step of every demo that runs alongside the others, and the JSON report of each
    (written at the end, after a reader that left at step 1)."""
    jobs = [
        (prof.demo, step, "--plain")
        for prof in matrix.in_pool(matrix.profile, TOGETHER)
        for step in range(1, prof.steps + 1)
    ]
    jobs += [(demo, 1, "--json") for demo in TOGETHER]
    failures = [f for f in matrix.in_pool(_closed_at, jobs) if f]
    assert not failures, f"{len(failures)} of {len(jobs)} cases:\n" + "\n".join(failures)
