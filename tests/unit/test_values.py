"""Option values parsed as docker parses them, and refused with the accepted form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isodemo import values
from isodemo.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64m", 64 << 20),
        ("64M", 64 << 20),
        ("64MB", 64 << 20),
        ("64MiB", 64 << 20),
        ("1g", 1 << 30),
        ("512k", 512 << 10),
        ("100b", 100),
        ("1048576", 1 << 20),
        ("1.5g", 3 << 29),
        ("2 m", 2 << 20),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert values.size_bytes(text) == expected


@pytest.mark.parametrize("text", ["12XB", "", "m", "-5m", "64mm", "1e3", "0x10", "64 MB extra"])
def test_bad_sizes_show_the_accepted_form(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        values.memory_limit(text)
    assert caught.value.exit_code == 2
    assert "for example 64m" in (caught.value.hint or "")


def test_memory_minimum() -> None:
    with pytest.raises(UsageError, match="below the minimum"):
        values.memory_limit("1m")
    assert values.memory_limit("6m") == 6 << 20


@given(st.integers(min_value=1, max_value=1 << 20), st.sampled_from(["k", "m", "g"]))
def test_units_multiply(number: int, unit: str) -> None:
    assert values.size_bytes(f"{number}{unit}") == number * {"k": 1024, "m": 1 << 20, "g": 1 << 30}[unit]


def test_cpus() -> None:
    assert values.cpus("0.2", available=2) == 0.2
    assert values.cpus("2", available=2) == 2.0
    for bad in ("0", "abc", "3", "-1", ""):
        with pytest.raises(UsageError):
            values.cpus(bad, available=2)


def test_pids_limit() -> None:
    assert values.pids_limit("20") == 20
    for bad in ("1", "x", "0", "100000"):
        with pytest.raises(UsageError):
            values.pids_limit(bad)


def test_rates() -> None:
    assert values.rate_bytes("1mb") == 1 << 20
    assert values.device_rate("/dev/sda:1mb") == ("/dev/sda", 1 << 20)
    with pytest.raises(UsageError) as caught:
        values.device_rate("sda:1mb")
    assert "DEVICE:RATE" in (caught.value.hint or "")
    with pytest.raises(UsageError):
        values.rate_bytes("10b")


def test_format_bytes() -> None:
    assert values.format_bytes(64 << 20) == "64.0 MiB"
    assert values.format_bytes(512) == "512 B"
    assert values.format_bytes(3 << 30) == "3.0 GiB"
