"""SIGKILL, which isodemo cannot catch, then `isodemo cleanup`: every demo, killed while held, at a random
moment of a normal run, and at each pass over each test point that marks a race. The kernel ends the run's
children (PR_SET_PDEATHSIG); cleanup removes the rest by the run's record; the host-invariant fixture then
checks that the host is what it was.

The random moments come from ISODEMO_SEED (a fresh seed otherwise, given in the failure message): the same
seed replays the same moments.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import threading
import time

import pytest

from isodemo import testpoints
from tests.conftest import isodemo_argv, run_isodemo
from tests.root import matrix
from tests.root.holding import Held, run_processes, wait_gone

SEED = int(os.environ.get("ISODEMO_SEED") or random.randrange(1 << 32))
# One cleanup at a time: this test is about what a SIGKILL leaves, not about two cleanups racing each other.
_cleanup_lock = threading.Lock()


def _cleanup_after_kill(command: str, owner: int, run_ids: list[str], pids: list[int]) -> str | None:
    """The checks after `owner` (an isodemo process) was SIGKILLed: its children end, cleanup succeeds and
    leaves nothing of its runs. A problem is returned as text, with the command that shows it."""
    problems = []
    run_ids = sorted(set(run_ids) | set(matrix.owned_runs(owner)))
    alive = wait_gone(sorted(set(pids) | {pid for run in run_ids for pid in run_processes(run)}))
    if alive:
        problems.append(f"processes {alive} outlived the SIGKILLed isodemo")
    with _cleanup_lock:
        done = run_isodemo("cleanup", "--json")
        still = run_isodemo("cleanup", "--dry-run", "--json")
    if done.code != 0 or "Traceback" in done.stderr:
        said = {key: done.json.get(key) for key in ("error", "leftovers")} if done.stdout.strip() else {}
        problems.append(f"isodemo cleanup exited {done.code}: {said} {done.stderr.strip()[-400:]}")
    left = [item for item in still.json["facts"]["found"] if any(run in item for run in run_ids)]
    if left:
        problems.append(f"cleanup left {left}")
    if matrix.owned_runs(owner):
        problems.append(f"the run record of {owner} is still there after cleanup")
    return f"{command}\n    -> {'; '.join(problems)}" if problems else None


def _kill_held(demo: str) -> str | None:
    args = (*matrix.demo_args(demo), "--json")
    command = f"sudo isodemo {shlex.join(args)} --hold; SIGKILL it after the holding: line; sudo isodemo cleanup"
    try:
        held = Held(*args)
    except AssertionError as error:
        return f"{command}\n    -> {error}"
    pids = [*run_processes(held.info["run"]), *held.info.get("pids", {}).values()]
    held.kill()
    return _cleanup_after_kill(command, held.proc.pid, [held.info["run"]], pids)


@pytest.mark.host_only
@pytest.mark.usefixtures("isodemo_cleanup_first")
def test_sigkill_while_held_then_cleanup() -> None:
    started = time.monotonic()
    failures = [f for f in matrix.in_pool(_kill_held, matrix.demos()) if f]
    assert not failures, f"{len(failures)} demos ({time.monotonic() - started:.1f} s):\n" + "\n".join(failures)


def _kill_at(job: tuple[str, float]) -> str | None:
    demo, delay = job
    args = (*matrix.demo_args(demo), "--json")
    command = f"sudo isodemo {shlex.join(args)} & sleep {delay:.3f}; kill -KILL $!; sudo isodemo cleanup"
    proc = subprocess.Popen(
        isodemo_argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    run_ids = matrix.owned_runs(proc.pid)
    pids = [pid for run in run_ids for pid in run_processes(run)]
    proc.kill()
    proc.wait()
    return _cleanup_after_kill(command, proc.pid, run_ids, pids)


@pytest.mark.host_only
@pytest.mark.usefixtures("isodemo_cleanup_first")
def test_sigkill_at_a_random_moment_then_cleanup() -> None:
    started = time.monotonic()
    profiles = matrix.in_pool(matrix.profile, matrix.demos())
    rng = random.Random(SEED)
    # Three moments of each demo that takes a fraction of a second, one of each slow one.
    jobs = [
        (prof.demo, rng.uniform(0, prof.seconds))
        for prof in profiles
        for _ in range(1 if prof.demo in matrix.CHEAP_OPTIONS else 3)
    ]
    failures = [f for f in matrix.in_pool(_kill_at, jobs) if f]
    assert not failures, (
        f"{len(failures)} demos, ISODEMO_SEED={SEED} replays these moments ({time.monotonic() - started:.1f} s):\n"
        + "\n".join(failures)
    )


def _kill_at_point(job: tuple[str, str]) -> str | None:
    demo, point = job
    args = (*matrix.demo_args(demo), "--json")
    command = f"sudo env {testpoints.VARIABLE}={point} isodemo {shlex.join(args)}; sudo isodemo cleanup"
    proc = subprocess.Popen(
        isodemo_argv(*args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, testpoints.VARIABLE: point},
    )
    try:
        code = proc.wait(matrix.case_timeout(demo))
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    problem = _cleanup_after_kill(command, proc.pid, [], [])
    if code != -signal.SIGKILL:
        problem = f"{problem or command}\n    -> exit {code}: it never passed {point}"
    return problem


@pytest.mark.host_only
@pytest.mark.usefixtures("isodemo_cleanup_first")
def test_sigkill_at_every_race_point_then_cleanup() -> None:
    """The random moment, aimed: SIGKILL at each pass over each test point that marks a race (a process just
    forked, a link or a namespace just created: everything but the narrator's own points), then cleanup."""
    started = time.monotonic()
    jobs = [
        (prof.demo, f"{point}#{k}:SIGKILL")
        for prof in matrix.in_pool(matrix.profile, matrix.demos())
        for point in sorted(prof.hits)
        if point not in matrix.NARRATOR_POINTS and point not in prof.after_report
        for k in matrix.passes(prof, point)
    ]
    failures = [f for f in matrix.in_pool(_kill_at_point, jobs) if f]
    assert not failures, f"{len(failures)} of {len(jobs)} ({time.monotonic() - started:.1f} s):\n" + "\n".join(failures)
