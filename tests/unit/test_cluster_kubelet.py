"""cluster/kubelet.py without root: probe timing, the OOM counter's files, and the restart loop driven by fake
containers whose PID 1 has already exited."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from isodemo.cluster import kubelet
from isodemo.demos.healing import crash_loop_restarts
from isodemo.kube import restarts


def test_probe_timing_scales_the_defaults() -> None:
    timing = kubelet.probe_timing(10)
    assert (timing.period_seconds, timing.timeout_seconds, timing.failure_threshold) == (10, 1, 3)
    assert timing.period == 1.0
    assert timing.timeout == kubelet.MIN_PROBE_TIMEOUT  # 0.1 s would be too short on a slow machine


def test_probe_timing_floors() -> None:
    timing = kubelet.probe_timing(100)
    assert timing.period == kubelet.MIN_PROBE_PERIOD
    assert timing.timeout == kubelet.MIN_PROBE_TIMEOUT
    assert kubelet.probe_timing(1).period == 10.0 and kubelet.probe_timing(1).timeout == 1.0
    assert timing.floored and kubelet.probe_timing(10).floored  # 0.1 s timeout: floored to 0.25 s
    assert not kubelet.probe_timing(1).floored and not kubelet.probe_timing(4).floored


def test_probe_timeout_follows_the_measured_latency() -> None:
    slow = kubelet.probe_timing(10, latency=0.2)  # a slow machine: 200 ms for a healthy answer
    assert slow.timeout == pytest.approx(kubelet.LATENCY_FACTOR * 0.2)
    assert slow.period == pytest.approx(2 * slow.timeout)  # room for the timeout
    assert kubelet.probe_timing(10, latency=0.002).timeout == kubelet.MIN_PROBE_TIMEOUT
    assert kubelet.probe_timing(1, latency=0.1).timeout == 1.0 and not kubelet.probe_timing(1, latency=0.1).floored


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (302, True), (399, True), (400, False), (503, False), (0, False)]
)
def test_probe_ok(status: int, ok: bool) -> None:
    assert kubelet.probe_ok(status) is ok


def test_oom_counter_v2() -> None:
    text = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"
    assert kubelet.oom_counter(2, text) == (1, "memory.events")
    assert kubelet.oom_counter(2, "low 0\n") == (0, "memory.events")


def test_oom_counter_v1() -> None:
    text = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"
    assert kubelet.oom_counter(1, text, "40") == (2, "memory.oom_control")


def test_oom_counter_v1_before_4_13_uses_failcnt() -> None:
    text = "oom_kill_disable 0\nunder_oom 0\n"
    assert kubelet.oom_counter(1, text, "7\n") == (7, "memory.failcnt")
    assert kubelet.oom_counter(1, text) == (0, "memory.oom_control")


def test_crash_loop_restarts_fit_the_budget() -> None:
    assert crash_loop_restarts(10) == 4  # waits 0, 1, 2, 4 s: 7 s
    assert crash_loop_restarts(100) == 7  # 0 .. 3 s (300 s, the cap): 6.1 s
    assert crash_loop_restarts(1) == 3  # at least 3, whatever the wait
    for speed in (2, 5, 10, 20, 50, 100):
        count = crash_loop_restarts(speed)
        assert count == 3 or sum(restarts.restart_delays(count, speed)) <= 8.0


class _Cgroup:
    version = 2

    def __init__(self, directory: Path, oom_kill: int) -> None:
        self.directory = directory
        (directory / "memory.events").write_text(f"oom 0\noom_kill {oom_kill}\n")

    def file_path(self, name: str, controller: str) -> str:
        return str(self.directory / name)


class _Box:
    """A PID 1 that has already exited with `code`: its wait fd is a pipe whose writer is closed."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.pid = 4242

    def wait_fd(self) -> int:
        read, write = os.pipe()
        os.close(write)
        return read

    def reap(self) -> int:
        return self.code


class _Started:
    def __init__(self, code: int) -> None:
        self.box = _Box(code)


class _Container:
    def __init__(self, directory: Path, code: int, oom_kill: int) -> None:
        self.started = _Started(code)
        self.cgroup = _Cgroup(directory, oom_kill)
        self.killed = False

    @property
    def pid(self) -> int:
        return self.started.box.pid

    def kill(self) -> int:
        self.killed = True
        return self.started.box.code

    def terminate(self, grace: float) -> int:
        self.killed = True
        self.grace = grace
        return self.started.box.code


def _starter(tmp_path: Path, code: int, oom_kill: int = 0) -> Any:
    return lambda: _Container(tmp_path, code, oom_kill)


@pytest.mark.parametrize(
    ("policy", "code", "expected"),
    [
        (restarts.ALWAYS, 0, 2),
        (restarts.ALWAYS, 1, 2),
        (restarts.ON_FAILURE, 0, 0),
        (restarts.ON_FAILURE, 1, 2),
        (restarts.NEVER, 1, 0),
    ],
)
def test_restart_loop_follows_the_policy(tmp_path: Path, policy: str, code: int, expected: int) -> None:
    loop = kubelet.RestartLoop(speed=100)
    item = loop.add("c", policy, _starter(tmp_path, code), limit=2)
    assert loop.run(timeout=5.0)
    assert item.restarts == expected
    assert item.capped is (expected > 0)
    assert len(item.exits) == expected + 1
    assert all(exit_.reason == restarts.reason(code, False) for exit_ in item.exits)


def test_restart_loop_waits_the_backoff(tmp_path: Path) -> None:
    loop = kubelet.RestartLoop(speed=100)
    item = loop.add("c", restarts.ALWAYS, _starter(tmp_path, 1), limit=3)
    assert loop.run(timeout=5.0)
    assert [check.ok for check in restarts.check_delays(item.waits, 100, absolute=0.05)] == [True] * 3
    assert item.waits[2] >= 0.2  # 20 s at --speed 100


def test_restart_loop_oom_reason(tmp_path: Path) -> None:
    loop = kubelet.RestartLoop(speed=100)
    item = loop.add("c", restarts.NEVER, _starter(tmp_path, 137, oom_kill=1), limit=2)
    assert loop.run(timeout=5.0)
    assert [exit_.reason for exit_ in item.exits] == [restarts.OOM_KILLED]
    assert item.exits[0].oom_kills == 1 and item.exits[0].oom_file.endswith("memory.events")


def test_restart_loop_refuses_a_bad_policy(tmp_path: Path) -> None:
    with pytest.raises(restarts.RestartPolicyError):
        kubelet.RestartLoop(speed=10).add("c", "Sometimes", _starter(tmp_path, 1), limit=1)


def test_stop_terminates_and_records_the_reason(tmp_path: Path) -> None:
    container = _Container(tmp_path, 137, oom_kill=0)
    exit_ = kubelet.stop(container, 0.3)
    assert container.killed and container.grace == 0.3  # PodContainer.terminate: SIGTERM, grace, SIGKILL
    assert (exit_.code, exit_.reason, exit_.oom_kills, exit_.pid) == (137, restarts.ERROR, 0, 4242)
    (tmp_path / "oom").mkdir()
    oom = _Container(tmp_path / "oom", 137, oom_kill=1)
    assert kubelet.stop(oom, 0.3).reason == restarts.OOM_KILLED
