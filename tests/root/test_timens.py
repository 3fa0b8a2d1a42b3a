"""`isodemo timens` as root: offsets observed on both clocks, the wall clock unshifted."""

from __future__ import annotations

import pytest

from tests.conftest import run_isodemo


def test_timens_default_offsets() -> None:
    result = run_isodemo("timens", "--json")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["timens_inode_host"] != facts["timens_inode_inside"]
    assert abs(facts["boottime_offset_s"] - 604800) < 1
    assert abs(facts["monotonic_offset_s"] - 86400) < 1
    assert abs(facts["realtime_offset_s"]) < 1
    assert 604799 < facts["uptime_inside_s"] - facts["uptime_host_s"] < 604801
    assert "rootless" not in facts


def test_timens_custom_offsets() -> None:
    result = run_isodemo("timens", "--json", "--boottime", "3600", "--monotonic", "0")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert abs(facts["boottime_offset_s"] - 3600) < 1
    assert abs(facts["monotonic_offset_s"]) < 1


@pytest.mark.parametrize("value", ["-5", "12XB", "999999999999"])
def test_bad_offset_is_a_usage_error(value: str) -> None:
    result = run_isodemo("timens", "--plain", "--boottime", value)
    assert result.code == 2
    assert "Traceback" not in result.stderr and "clock offset" in result.stderr
