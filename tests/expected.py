"""What a demo's facts must say wherever it runs: as root on the host (tests/root) and without sudo in a
systemd user session (tests/systemd). One place, so that the two cannot drift apart."""

from __future__ import annotations

from typing import Any

CPU_QUOTA_PERCENT = 20.0  # cgroup-cpu's default --cpus 0.2
CPU_WEIGHTS = {"a": 100, "b": 300}


def assert_cpu_demo_facts(facts: dict[str, Any]) -> None:
    """cgroup-cpu: the quota measured within 2 points, throttled, the weights' shares within 5 points."""
    assert facts["quota_percent"] == CPU_QUOTA_PERCENT
    assert abs(facts["measured_percent"] - CPU_QUOTA_PERCENT) <= 2
    assert facts["nr_throttled"] > 0
    assert facts["weights"] == CPU_WEIGHTS
    assert abs(facts["weight_shares_measured"]["a"] - 0.25) <= 0.05
    assert abs(facts["weight_shares_measured"]["b"] - 0.75) <= 0.05
