"""`isodemo autoscale` as root: the autoscaler scales up under load and back down after the window, every
decision matching the formula on the CPU measured; and the CPU counter of a cgroup read on this machine's
cgroup version (the one part that differs between v1 and v2, so the one test the v2 VM stage runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from isodemo import host
from isodemo.cluster import metrics
from tests.conftest import run_isodemo

MODE = host.probe().cgroup_mode
BUSYBOX = "/bin/busybox"
needs_busybox = pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")


def test_cpu_usage_of_a_busy_cgroup_on_this_version() -> None:
    """A process spinning for 0.4 s in a cgroup of isodemo's: the counter file the autoscaler reads (cpu.stat on
    v2, cpuacct.usage on v1) grows by about its CPU time, and CpuMeter turns it into about 1000 millicores."""
    from isodemo import runs
    from isodemo.cgroups import open_cgroup

    run = runs.Run.new()
    with open_cgroup(run, "hpa", ["cpu"], MODE) as cgroup:
        path = cgroup.cpu_usage_file
        assert os.path.basename(path) == (metrics.V2_FILE if MODE == "v2" else metrics.V1_FILE)
        spinner = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\nsys.stdin.read(1)\nend = time.monotonic() + 0.4\nwhile time.monotonic() < end: pass",
            ],
            stdin=subprocess.PIPE,
        )
        try:
            cgroup.add(spinner.pid)
            meter = metrics.CpuMeter()
            meter.start("spinner", path)
            assert spinner.stdin is not None
            spinner.stdin.write(b"x")
            spinner.stdin.close()
            assert spinner.wait(timeout=30) == 0
            time.sleep(0.05)
            milli, seconds = meter.rate("spinner", path)
        finally:
            if spinner.poll() is None:
                spinner.kill()
                spinner.wait()
        used_ms = milli * seconds
        assert 200 <= used_ms <= 1000, (milli, seconds)  # 400 ms of CPU, give or take a loaded machine
        assert milli <= 1100  # one thread: at most one CPU
    assert not any(os.path.exists(p) for p in cgroup.paths)


@pytest.mark.host_only
@needs_busybox
def test_autoscale_facts() -> None:
    result = run_isodemo("autoscale", "--json", timeout=90)
    assert result.code == 0, (result.stdout[-3000:], result.stderr[-2000:])
    report = result.json
    assert report["leftovers"] == []
    facts = report["facts"]
    assert facts["target_utilization"] == 50
    assert facts["decisions_match_formula"] is True
    assert facts["scaled_up"] is True and facts["scaled_down"] is True
    assert isinstance(facts["max_replicas_reached"], bool)
    samples = facts["samples"]
    assert samples and all({"t", "replicas", "utilization"} <= set(s) for s in samples)
    assert samples[0]["replicas"] == 1
    assert any(s["replicas_after"] > s["replicas"] for s in samples)  # scaled up at least once
    assert samples[-1]["replicas_after"] == 1
    assert max(s["replicas_after"] for s in samples) <= facts["max_replicas"]
    down = next(s for s in samples if s["replicas_after"] < s["replicas"])
    assert down["utilization"] < 50 and down["t_real"] >= 300  # not before the 300 s window
    assert [s["t"] for s in samples] == sorted(s["t"] for s in samples)
    assert facts["load_failed_requests"] == 0
    assert facts["terminated_exit_codes"] and set(facts["terminated_exit_codes"]) <= {137, 143}
    # the pods scaled down got their grace (30 s real) side by side, not one after another
    after = samples[samples.index(down) + 1] if down is not samples[-1] else None
    if after is not None and down["replicas"] - down["replicas_after"] >= 3:
        assert after["t_real"] - down["t_real"] < 2 * 30 + 2 * 15, (down, after)


@pytest.mark.host_only
@pytest.mark.parametrize("option", [("--speed", "0"), ("--speed", "fast"), ("--speed", "101"), ("--max-replicas", "1")])
def test_bad_options_exit_2(option: tuple[str, str]) -> None:
    result = run_isodemo("autoscale", *option)
    assert result.code == 2, result.stderr
    assert option[0] in result.stderr
