"""The reliability matrix: every demo, every signal (SIGINT, SIGTERM, SIGHUP; SIGQUIT too on all but the
three slow demos), at every test point.

For each demo (`isodemo list`), a normal `--json` run says how many steps it has and how often the isodemo
process passes each test point found in the source (tests/root/matrix.py). Then each signal arrives at the
start of each step (`step#k`), at each `--step` pause where nobody presses Enter (`pause#k`), during
`--hold` and at each pass over every other test point (the races in Isolated.start, net's links, the report
just written, ...). Every case must exit 130 and say which signal interrupted it (except where the signal
does not interrupt: SIGINT or SIGTERM ending a hold, a signal after the report; the run's own code then),
leave no leftovers in its report, no run record, no traceback; the host-invariant fixture then checks that
the host is what it was before all of them.

A failure message gives each failed case as a shell command that reproduces it.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import run_isodemo
from tests.root import matrix

# `isodemo run`'s own points (run.*) are swept by test_run_signals.py: its exit codes are docker's, not a demo's.
POINTS = [point for point in matrix.points_in_source() if not point.startswith("run.")]
# The cgroup v2 VM stage (10-20x slower) runs only this: the cgroup demos whose teardown differs on v2
# (cgroup.kill, rmdir of a populated cgroup), SIGINT at each step. The host stage runs the rest.
V2_DEMOS = ("cgroup-memory", "cgroup-pids")
V2_SIGNALS = ("SIGINT",)


def _v2_cases(prof: matrix.Profile) -> list[matrix.Case]:
    return matrix.cases_for(prof, (), V2_SIGNALS)


@pytest.mark.host_only
@pytest.mark.parametrize("demo", matrix.demos())
def test_every_signal_at_every_test_point(demo: str) -> None:
    started = time.monotonic()
    prof = matrix.profile(demo)
    signals = matrix.SIGNALS if demo in matrix.CHEAP_OPTIONS else (*matrix.SIGNALS, *matrix.CHEAP_SIGNALS)
    signals = matrix.FEWER_SIGNALS.get(demo, signals)
    cases = matrix.cases_for(prof, POINTS, signals, modes=("json", "pause", "hold"))
    if demo in V2_DEMOS:
        cases = [case for case in cases if case not in _v2_cases(prof)]  # test_cgroup_demos_at_every_step has them
    outcomes = matrix.run_cases(cases)
    assert not any(o.problems for o in outcomes), matrix.report(outcomes, started)


@pytest.mark.parametrize("demo", V2_DEMOS)
def test_cgroup_demos_at_every_step(demo: str) -> None:
    """Not host_only: the VM stage runs it on a pure cgroup v2 hierarchy."""
    started = time.monotonic()
    outcomes = matrix.run_cases(_v2_cases(matrix.profile(demo)))
    assert not any(o.problems for o in outcomes), matrix.report(outcomes, started)


@pytest.mark.host_only
def test_every_test_point_is_swept() -> None:
    """A test point that no demo passes in the isodemo process is swept by nothing: say so, by name."""
    assert run_isodemo("list", "--json").json["facts"]["demos"] == matrix.demos()
    profiles = matrix.in_pool(matrix.profile, matrix.demos())
    reached = {point for prof in profiles for point in prof.hits} | {"pause", "hold"}  # --step, --hold only
    missing = sorted(set(POINTS) - reached)
    in_children = sorted({point for prof in profiles for point in prof.child_points} & set(missing))
    assert not missing, (
        f"no demo passes these test points in the isodemo process, so the matrix never signals there: {missing}"
        + (f" (passed only in forked processes: {in_children})" if in_children else "")
    )
    assert {"step", "pause", "hold"} <= set(POINTS), "the narrator's own test points are gone"


@pytest.mark.usefixtures("isodemo_cleanup_first")
def test_a_run_that_dies_at_its_test_point_fails_the_matrix() -> None:
    """The matrix's checks can fail: SIGKILL at step 1 leaves the run record, no report and a status of -9."""
    outcome = matrix.run_case(matrix.Case("uts", "step#1:SIGKILL"))
    try:
        assert outcome.code == -9
        problems = " ".join(outcome.problems)
        assert "no JSON report" in problems and "exit -9 (killed by SIGKILL)" in problems, problems
        assert "run record(s) left" in problems, problems
    finally:
        assert run_isodemo("cleanup").code == 0  # what the killed run left
