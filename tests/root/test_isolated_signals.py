"""A signal at each boundary of Isolated.start() never leaks what was forked.

The test points in start(): "isolated.forked" (right after the fork, in the parent), "isolated.paused" (each
pause of the helper: before it unshares, in its new user namespace before the maps) and "isolated.started"
(the child reported its pid). A signal sent there must end the run with exit 130, its report with no
leftovers, and (through the host-invariant fixture) the host as it was: no helper, no child, no run record.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from isodemo import signals, testpoints
from isodemo.errors import Interrupted
from isodemo.isolated import Isolated
from isodemo.kernel import process as kprocess
from isodemo.kernel import procfs
from tests.conftest import Result, run_isodemo
from tests.root.users import TestUser, run_as

SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _handled(signame: str) -> bool:
    return signal.Signals[signame] in signals.HANDLED


# -- in this process: fast, and names the process that leaked ------------------------------------------


@pytest.fixture
def aim(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`testpoints` reads ISODEMO_TESTPOINT once, at import: set what it parsed instead, per test."""
    monkeypatch.setattr(testpoints, "_counts", {})
    with signals.interrupts_unwind():
        yield


def _alive_with_comm(comm: str) -> list[int]:
    found = []
    for pid in procfs.pids():
        try:
            if kprocess.comm(pid) == comm and not procfs.is_zombie(pid):
                found.append(pid)
        except OSError:
            continue
    return found


@pytest.mark.usefixtures("aim")
@pytest.mark.parametrize("signame", SIGNALS)
@pytest.mark.parametrize(
    ("point", "namespaces"),
    [
        ("isolated.forked", ["pid", "uts"]),
        ("isolated.paused", ["pid", "uts"]),  # before-unshare
        ("isolated.paused#2", ["user", "uts"]),  # in the new user namespace, before the maps
        ("isolated.started", ["pid", "mnt"]),
    ],
)
def test_a_signal_in_start_stops_what_was_forked(
    monkeypatch: pytest.MonkeyPatch, point: str, namespaces: list[str], signame: str
) -> None:
    if not _handled(signame):
        pytest.skip(f"{signame} is not one of signals.HANDLED here: it would end pytest itself")
    name, _, count = point.partition("#")
    monkeypatch.setattr(testpoints, "_target", (name, int(count or "1"), int(signal.Signals[signame])))
    comm = f"isodemo-t{os.getpid() % 100000}"
    box = Isolated(namespaces, comm=comm, before_unshare=lambda pid: None)
    with pytest.raises(Interrupted) as raised:
        box.start()
    assert raised.value.signame == signame
    assert box.helper_pid and box.exit_status is not None, "the helper was forked and must be reaped"
    assert (box.pid != 0) is (name == "isolated.started")
    assert _alive_with_comm(comm) == []


def _children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def test_giving_up_after_the_child_was_forked_ends_that_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The widest window: the helper has forked the child, the parent has not read its pid yet. The parent
    cannot kill what it does not know: closing the channel makes the helper end it before it exits."""
    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        pytest.skip("no /proc/PID/task/TID/children on this kernel (CONFIG_PROC_CHILDREN)")

    def give_up_once_forked(box: Isolated, sock: object) -> None:
        deadline = time.monotonic() + 10
        while not _children_of(box.helper_pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert _children_of(box.helper_pid), "the helper never forked its child"
        raise Interrupted("SIGINT")

    monkeypatch.setattr(Isolated, "_await_child", give_up_once_forked)
    comm = f"isodemo-g{os.getpid() % 100000}"
    box = Isolated(["pid", "uts"], comm=comm)
    with pytest.raises(Interrupted):
        box.start()
    # 1: its report failed, it killed the child; 0: the report was sent, the child ended on the closed channel
    assert box.pid == 0 and box.exit_status in (0, 1), "the helper ended by itself, not by SIGKILL (137)"
    assert _alive_with_comm(comm) == []


# -- isodemo itself, as a user runs it ----------------------------------------------------------------


def _check_interrupted(result: Result, case: str, signame: str) -> None:
    shown = f"{case}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert result.code == 130, shown
    assert "could not remove" not in result.stdout + result.stderr, shown
    assert "Traceback" not in result.stderr, shown
    report = result.json
    assert report["leftovers"] == [], shown
    assert report["error"]["kind"] == "Interrupted" and signame in report["error"]["message"], shown


# As root: pid has no pause (forked, started); cgroupns pauses before unshare to enter its cgroup.
ROOT_CASES = [
    ("isolated.forked", ["--json", "pid"]),
    ("isolated.forked", ["--json", "uts"]),
    ("isolated.paused", ["--json", "cgroupns"]),
    ("isolated.started", ["--json", "pid"]),
    ("isolated.started#2", ["--json", "pid"]),  # the second child: the orphan and kill steps
]


def _marks(point: str, signame: str) -> list[pytest.MarkDecorator]:
    # One case per boundary stays in the (10-20x slower) VM stage; the other signals take the same path.
    return [] if signame == "SIGINT" and "#" not in point else [pytest.mark.host_only]


@pytest.mark.parametrize(
    ("point", "args", "signame"),
    [
        pytest.param(point, args, signame, marks=_marks(point, signame))
        for point, args in ROOT_CASES
        for signame in SIGNALS
    ],
)
def test_isodemo_interrupted_in_isolated_start_as_root(point: str, args: list[str], signame: str) -> None:
    result = run_isodemo(*args, env={"ISODEMO_TESTPOINT": f"{point}:{signame}"})
    _check_interrupted(result, f"ISODEMO_TESTPOINT={point}:{signame} isodemo {' '.join(args)}", signame)


# Rootless: the first Isolated is rootless.check()'s (one pause: the maps), the second the demo's own.
ROOTLESS_CASES = [
    ("isolated.paused", "SIGINT"),
    ("isolated.paused", "SIGTERM"),
    ("isolated.paused", "SIGHUP"),
    ("isolated.paused#2", "SIGINT"),
    ("isolated.paused#2", "SIGTERM"),
    ("isolated.paused#2", "SIGHUP"),
    ("isolated.forked#2", "SIGTERM"),
    ("isolated.started#2", "SIGINT"),
]


@pytest.mark.usefixtures("unprivileged_userns")
@pytest.mark.parametrize(
    ("point", "signame"),
    [pytest.param(point, signame, marks=_marks(point, signame)) for point, signame in ROOTLESS_CASES],
)
def test_rootless_uts_interrupted_in_isolated_start(
    test_user: TestUser, any_user_env: dict[str, str], point: str, signame: str
) -> None:
    result = run_as(test_user, ["uts", "--json"], {**any_user_env, "ISODEMO_TESTPOINT": f"{point}:{signame}"})
    _check_interrupted(result, f"as {test_user.name}: ISODEMO_TESTPOINT={point}:{signame} isodemo uts --json", signame)
