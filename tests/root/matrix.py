"""The reliability matrix: each demo interrupted at each test point by each signal, run as a user would.

A case is one command line: `ISODEMO_TESTPOINT=step#3:SIGHUP isodemo mnt --json`. How many steps, pauses and
passes over each test point a demo has is not written here: a normal `--json` run of the demo, with
`testpoints.hit` wrapped to count, says it (`profile()`), and the names of the test points come from the source
(`points_in_source()`), so a new demo, step or test point joins the sweep by itself.

The cases run as separate processes, a few at a time (`run_cases`): most take 0.2-0.5 s, nearly all of it
Python starting, so on 2 cores a small thread pool of subprocesses is what keeps the matrix in CI's budget.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from isodemo import catalog, runs, testpoints
from tests.conftest import REPO, isodemo_argv

SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
# SIGQUIT (Ctrl-backslash) ends a run the same way; swept on the demos that take a fraction of a second, where
# it costs little.
CHEAP_SIGNALS = ("SIGQUIT",)
# The slow demos measure for a fixed time whatever their options; these are their cheapest settings (the
# fewest bytes to move and busy loops to run while they measure), given explicitly so a change of default
# cannot make the matrix slower.
CHEAP_OPTIONS = {
    "net": ("--rate", "10"),
    "cgroup-cpu": ("--cpus", "0.2"),
    "cgroup-io": ("--limit", "1mb"),
    "service": ("--replicas", "2", "--requests", "30"),
    "healing": ("--speed", "100"),
    "rollout": ("--replicas", "2", "--speed", "100"),
    "autoscale": ("--speed", "100", "--max-replicas", "2"),
}
# The control-loop demos make many pods (and healing restarts containers again and again): the same code passes
# the same test point dozens of times, in a run of several seconds. For them each point is swept at its first
# two and last two passes (the first pod of a kind, and teardown with everything made): what lies between is
# the same code, which `pod`, `run` and the first passes already sweep. healing (a container started again and
# again) and escape (eight short containers of one kind) at their first and last pass only.
SAMPLED_PASSES = {"service": 2, "healing": 1, "rollout": 2, "autoscale": 2, "escape": 1}
# The slowest of them (several seconds a run, whatever the --speed: probes have floors) are swept with two
# signals, one that releases a --hold (SIGINT) and one that ends it (SIGHUP); SIGTERM takes SIGINT's path.
FEWER_SIGNALS = {
    "healing": ("SIGINT", "SIGHUP"),
    "rollout": ("SIGINT", "SIGHUP"),
    "service": ("SIGINT", "SIGHUP"),
    "autoscale": ("SIGINT", "SIGHUP"),
    # Not slow but long: a dozen steps, each after a container stage `run`'s own points already sweep.
    "container": ("SIGINT", "SIGHUP"),
    "escape": ("SIGINT", "SIGHUP"),
}
# The narrator's own points: where a step starts, a --step pause, the --hold wait. Every other point
# (isolated.forked, link.created, ...) is swept at each of its passes.
NARRATOR_POINTS = ("step", "pause", "hold")
# During --hold, Ctrl-C and SIGTERM say "done": the hold ends and the run exits 0. A hangup (nobody is left to
# read on) or SIGQUIT ends the run: 130 (docs/exit-codes.md).
RELEASES_HOLD = ("SIGINT", "SIGTERM")
WORKERS = int(os.environ.get("ISODEMO_MATRIX_WORKERS", "3"))  # 2 cores: one case starts while two run
# cgroup-cpu's cases mostly sleep (it measures for 4 s under a 20 % quota, then 4 s more): more at a time.
DEMO_WORKERS = {"cgroup-cpu": 2 * WORKERS}
TIMEOUT = 120.0  # for a normal run: the VM stage is 10-20x slower than this host's 0.2-9 s

_HIT = re.compile(r"""testpoints\.hit\(\s*["']([^"']+)["']\s*\)""")


def demos() -> list[str]:
    """What `isodemo list` names, in its order."""
    return [entry.name for entry in catalog.demos()]


def demo_args(demo: str) -> tuple[str, ...]:
    return (demo, *CHEAP_OPTIONS.get(demo, ()))


def points_in_source() -> list[str]:
    """Every test point in the source: the names given to `testpoints.hit("...")`."""
    found: set[str] = set()
    for path in sorted(Path(REPO, "src", "isodemo").rglob("*.py")):
        found.update(_HIT.findall(path.read_text()))
    return sorted(found)


# Runs `isodemo ARGS` with testpoints.hit wrapped: every pass is appended to $ISODEMO_RECORD, marked `main`
# in the isodemo process itself and `child` in a forked helper or child (where the file may be out of reach:
# after pivot_root, or as nobody; those passes are not counted). `main finish` marks the report being written:
# a point passed only after it finds the run over, and a signal there must not change its outcome.
_RECORDER = """
import os, sys
from isodemo import testpoints
from isodemo.cli import main
from isodemo.narrate.base import Narrator
log, me, hit, finish = os.environ.pop("ISODEMO_RECORD"), os.getpid(), testpoints.hit, Narrator.finish
def note(name):
    try:
        with open(log, "a") as f:
            f.write(("main " if os.getpid() == me else "child ") + name + "\\n")
    except OSError:
        pass
def recording_hit(name):
    note(name)
    hit(name)
def recording_finish(self, *args, **kwargs):
    note("finish")
    return finish(self, *args, **kwargs)
testpoints.hit = recording_hit
Narrator.finish = recording_finish
sys.exit(main())  # argv=None: main() takes sys.argv[1:] and acts as the isodemo command itself
"""


@dataclass(frozen=True)
class Profile:
    """What a normal `--json` run of a demo went through."""

    demo: str
    steps: int  # len(report["steps"])
    hits: dict[str, int]  # test point -> passes by the isodemo process itself
    child_points: frozenset[str]  # test points passed only in forked processes
    after_report: frozenset[str]  # test points passed only once the report was written
    seconds: float
    code: int


_profiles: dict[str, Profile] = {}
_profile_locks: dict[str, threading.Lock] = {}
_profiles_lock = threading.Lock()


def profile(demo: str) -> Profile:
    """The demo's normal run, made once per test session."""
    with _profiles_lock:
        lock = _profile_locks.setdefault(demo, threading.Lock())
    with lock:
        if demo not in _profiles:
            _profiles[demo] = _record(demo)
        return _profiles[demo]


def _record(demo: str) -> Profile:
    with tempfile.NamedTemporaryFile("r", prefix="reliability-record-") as log:
        os.chmod(log.name, 0o666)  # a helper that dropped to nobody may write its passes too
        env = {**os.environ, "ISODEMO_RECORD": log.name}
        env.pop(testpoints.VARIABLE, None)
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", _RECORDER, *demo_args(demo), "--json"],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT * 2,
            check=False,
        )
        seconds = time.monotonic() - start
        passes = [line.split(" ", 1) for line in log.read().splitlines()]
    # 1: a claim did not hold (the timing claims of cgroup-cpu, cgroup-io and net, on a loaded machine): the
    # run still went through every step, which is all the matrix needs.
    assert proc.returncode in (0, 1), (
        f"a normal run of `isodemo {demo} --json` failed ({proc.returncode}): {proc.stderr}"
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    hits: dict[str, int] = {}
    before_report: set[str] = set()
    reported = False
    for where, name in passes:
        if where == "main" and name == "finish":
            reported = True
        elif where == "main":
            hits[name] = hits.get(name, 0) + 1
            if not reported:
                before_report.add(name)
    children = frozenset(name for where, name in passes if where == "child") - set(hits)
    steps = len(report["steps"])
    assert hits.get("step", 0) == steps, f"{demo}: {steps} steps in the report, {hits.get('step')} step points"
    return Profile(demo, steps, hits, children, frozenset(hits) - before_report, seconds, proc.returncode)


@dataclass(frozen=True)
class Case:
    """One run: `point` is the value of ISODEMO_TESTPOINT, `mode` how isodemo runs.

    json:  `--json`, stdin /dev/null-like (a pipe closed at once): the report lists the leftovers.
    pause: `--step --plain`, stdin an open pipe never written, so isodemo waits at each pause.
    hold:  `--hold --json`, stdin the same never-written pipe: the signal ends the hold, and the run.
    """

    demo: str
    point: str
    mode: str = "json"
    over: bool = False  # the point is passed after the report: the signal finds the run over (like `hold`)

    @property
    def enters(self) -> int:
        """Enter presses written at once: one for each pause before the one the signal aims at."""
        return int(self.point.partition("#")[2].partition(":")[0] or 1) - 1 if self.mode == "pause" else 0

    @property
    def args(self) -> tuple[str, ...]:
        extra = {"json": ("--json",), "pause": ("--step", "--plain"), "hold": ("--hold", "--json")}[self.mode]
        return (*demo_args(self.demo), *extra)

    @property
    def signame(self) -> str:
        return self.point.rpartition(":")[2]

    @property
    def command(self) -> str:
        """The shell command that reproduces the case."""
        line = f"sudo env {testpoints.VARIABLE}={self.point} isodemo {shlex.join(self.args)}"
        if self.mode == "json":
            return f"{line} </dev/null"
        enters = "\\n" * self.enters  # printf's escape, one per pause to pass
        feed = f"(printf '{enters}'; sleep 600)" if self.enters else "sleep 600"
        return f"{feed} | {line}"


def passes(prof: Profile, point: str) -> list[int]:
    """Which passes over `point` are swept: every one, or the first and last few for SAMPLED_PASSES demos."""
    total = prof.hits.get(point, 0)
    edge = SAMPLED_PASSES.get(prof.demo)
    if edge is None or total <= 2 * edge:
        return list(range(1, total + 1))
    return [*range(1, edge + 1), *range(total - edge + 1, total + 1)]


def cases_for(
    prof: Profile, points: Iterable[str], signals: Sequence[str] = SIGNALS, *, modes: Iterable[str] = ("json",)
) -> list[Case]:
    """Every case of one demo: each signal at each step, each pause, the hold, and each pass over every other
    test point in `points`. `modes` selects the kinds of case (json, pause, hold)."""
    modes = set(modes)
    found: list[Case] = []
    for sig in signals:
        if "json" in modes:
            found += [Case(prof.demo, f"step#{k}:{sig}") for k in range(1, prof.steps + 1)]
            for point in points:
                if point not in NARRATOR_POINTS:
                    over = point in prof.after_report
                    found += [Case(prof.demo, f"{point}#{k}:{sig}", over=over) for k in passes(prof, point)]
        if "pause" in modes:  # a pause comes before each step after the first
            found += [Case(prof.demo, f"pause#{k}:{sig}", "pause") for k in range(1, prof.steps)]
        if "hold" in modes:
            found.append(Case(prof.demo, f"hold:{sig}", "hold"))
    return found


@dataclass
class Outcome:
    case: Case
    code: int | None  # None: it hung and was SIGKILLed
    stdout: str
    stderr: str
    seconds: float
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        tail = " | ".join(self.stderr.strip().splitlines()[-3:])[-600:]
        return f"{self.case.command}\n    -> {'; '.join(self.problems)}" + (f"\n    stderr: {tail}" if tail else "")


def owned_runs(pid: int) -> list[str]:
    """Ids of the runs whose record names `pid` as their owner (root's and users' records)."""
    return sorted(run_id for run_id, record in runs.recorded_runs().items() if record.pid == pid)


def case_timeout(demo: str) -> float:
    """How long a case may take before it counts as hung: a few times the demo's normal run (measured on the
    same machine, so the VM stage's slowness is in it), at least 15 s for a loaded machine's jitter."""
    return 15 + 4 * profile(demo).seconds


def run_case(case: Case, timeout: float | None = None) -> Outcome:
    timeout = case_timeout(case.demo) if timeout is None else timeout
    env = {**os.environ, testpoints.VARIABLE: case.point}
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(isodemo_argv(*case.args), stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
        assert proc.stdin is not None
        if case.mode == "json":
            proc.stdin.close()
        elif case.enters:  # then the pipe stays open and silent: isodemo waits at the pause the signal aims at
            proc.stdin.write(b"\n" * case.enters)
            proc.stdin.flush()
        code: int | None
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        left_records = owned_runs(proc.pid)
        if not proc.stdin.closed:
            proc.stdin.close()
        out.seek(0)
        err.seek(0)
        outcome = Outcome(case, code, out.read(), err.read(), time.monotonic() - start)
    outcome.problems = _problems(outcome, timeout)
    if left_records:
        outcome.problems.append(f"run record(s) left for run {', '.join(left_records)}")
    return outcome


def _problems(outcome: Outcome, timeout: float) -> list[str]:
    case, code = outcome.case, outcome.code
    problems = []
    if "Traceback" in outcome.stderr:
        problems.append("a traceback on stderr")
    if "could not remove" in outcome.stderr:
        problems.append("leftovers on stderr")
    report: dict[str, Any] | None = None
    if case.mode != "pause":
        try:
            report = json.loads(outcome.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            problems.append("no JSON report on stdout")
        if report is not None and report.get("leftovers"):
            problems.append(f"leftovers {report['leftovers']}")
    expected = 130
    if (case.mode == "hold" and case.signame in RELEASES_HOLD) or case.over:
        # The signal ends the hold, not the demo (or arrives once the run is over): 0, or 1 when a timing claim
        # failed on a loaded machine.
        expected = 1 if report is not None and report.get("error") is None and not report.get("ok") else 0
        if report is not None and report.get("error") is not None:
            problems.append(f"error {report['error']['kind']}: {report['error']['message']}")
    if code is None:
        problems.append(f"still running after {timeout:g} s (SIGKILLed by the test)")
    elif code != expected:
        by = f" (killed by {signal.Signals(-code).name})" if code < 0 else ""
        problems.append(f"exit {code}{by}, expected {expected}")
    if expected == 130 and code is not None and code >= 0:
        said = outcome.stderr if case.mode == "pause" else str(((report or {}).get("error") or {}).get("message"))
        if f"interrupted by {case.signame}" not in said:
            problems.append(f"does not say 'interrupted by {case.signame}'")
    return problems


T = TypeVar("T")
R = TypeVar("R")


def in_pool(work: Callable[[T], R], items: Sequence[T], workers: int = WORKERS) -> list[R]:
    """`work` on each item, `workers` at a time (each one waits on its own isodemo process); in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, items))


def run_cases(cases: Sequence[Case], workers: int | None = None) -> list[Outcome]:
    """Run every case, the longest first (so the pool does not end on a long tail)."""
    if workers is None:
        workers = max((DEMO_WORKERS.get(case.demo, WORKERS) for case in cases), default=WORKERS)
    outcomes = in_pool(run_case, sorted(cases, key=_estimate, reverse=True), workers)
    if any(o.problems for o in outcomes):
        # A run that was killed (by its signal's default action, or by the test when it hung) left its objects:
        # cleanup removes those it can, so the tests after this one start clean. What it cannot remove
        # (objects without a record) the host-invariant fixture still reports.
        subprocess.run(isodemo_argv("cleanup"), capture_output=True, timeout=TIMEOUT, check=False)
    return outcomes


def _estimate(case: Case) -> tuple[float, bool, int]:
    """Longer: a slower demo; a case that runs to the end (a hold, a point after the report); a later pass."""
    prof = _profiles.get(case.demo)
    runs_to_the_end = case.mode == "hold" or case.over
    return (prof.seconds if prof else 0.0, runs_to_the_end, int(case.point.partition("#")[2].partition(":")[0] or 1))


def report(outcomes: Sequence[Outcome], started: float) -> str:
    failed = [o for o in outcomes if o.problems]
    head = f"{len(failed)} of {len(outcomes)} cases failed ({time.monotonic() - started:.1f} s):"
    return "\n".join([head, *(o.describe() for o in failed)])
