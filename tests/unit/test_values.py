"""Option values parsed as docker parses them, and refused with the accepted form."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

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
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert values.size_bytes(text) == expected


@pytest.mark.parametrize(
    "text", ["12XB", "", "m", "-5m", "64mm", "1e3", "0x10", "64 MB extra", "2 m", "5 ", "5ib", "5bb", "5kbb"]
)
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


# -- only the documented forms, and every number bounded -----------------------------------------------------

NOT_ASCII_DIGITS = ["١٢", "１２", "۱۲", "1_000", " 12", "12 ", "12\n", "+12", "1e3", "0x10", "12.0"]


@pytest.mark.parametrize("parser", [values.pids_limit, values.rate_mbit, values.port, values.clock_offset, values.pid])
@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_whole_numbers_take_ascii_digits_only(parser: Callable[[str], object], text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parser(text)
    assert "in digits 0-9" in (caught.value.hint or "")


@pytest.mark.parametrize("text", ["١", "１", "1_0", "nan", "inf", "1e-1", " 1", "1\n", "-0.5", "0x1"])
def test_cpus_takes_an_ascii_decimal_only(text: str) -> None:
    with pytest.raises(UsageError):
        values.cpus(text, available=64)


def test_cpus_bounds() -> None:
    assert values.cpus(".5", available=2) == 0.5
    assert values.cpus("0.01", available=2) == 0.01
    for bad in ("0.009", "2.01", "9" * 400):
        with pytest.raises(UsageError):
            values.cpus(bad, available=2)


@pytest.mark.parametrize(
    "text", ["１２m", "١m", "1_000m", "1e3", "64m\n", " 64m", "1t", "1p", "64 MB extra", "9" * 400, "9" * 5000]
)
def test_sizes_take_the_documented_form_only(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        values.size_bytes(text)
    assert "digits 0-9" in (caught.value.hint or "")
    assert len(caught.value.message) < 120  # a 5000-digit value is not echoed whole


def test_sizes_are_exact_integers() -> None:
    assert values.size_bytes("99999999999999999999g") == 99999999999999999999 << 30  # no float, no overflow
    assert values.size_bytes("0.5k") == 512
    assert values.size_bytes("1.0000000001g") == (1 << 30) + 0  # a fraction of a byte is dropped


def test_memory_limit_is_bounded_by_half_of_memavailable() -> None:
    available = 8 << 30
    assert values.memory_limit("4g", available=available) == 4 << 30
    with pytest.raises(UsageError) as caught:
        values.memory_limit("4097m", available=available)
    assert "MemAvailable in /proc/meminfo is 8.0 GiB" in caught.value.message
    assert "4.0 GiB here" in (caught.value.hint or "")
    for huge in ("99999999999999999999g", "9" * 30):
        with pytest.raises(UsageError, match="more than this machine can spare"):
            values.memory_limit(huge, available=available)


def test_memory_available_parses_meminfo() -> None:
    assert values.memory_available("MemTotal: 100 kB\nMemAvailable:  2048 kB\n") == 2 << 20
    assert values.memory_available("MemTotal: 100 kB\n") is None
    here = values.memory_available()
    assert here is None or here > 0


def test_io_rate_bounds() -> None:
    assert values.rate_bytes("4k") == 4096
    assert values.rate_bytes("64m") == 64 << 20
    for bad in ("4095", "65m", "1g", "9" * 400):
        with pytest.raises(UsageError) as caught:
            values.rate_bytes(bad)
        assert bad == "9" * 400 or "from 4k to 64m" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("parser", "low", "high"),
    [
        (lambda text: values.pids_limit(text, free=1 << 20), 2, values.PIDS_MAX),
        (values.rate_mbit, 1, values.RATE_MBIT_MAX),
        (values.port, 1024, 65535),
        (values.clock_offset, 0, values.CLOCK_OFFSET_MAX),
        (values.pid, 1, 1 << 22),
    ],
)
def test_whole_number_bounds_say_why(parser: Callable[[str], object], low: int, high: int) -> None:
    assert parser(str(low)) == low and parser(str(high)) == high
    for bad in (low - 1, high + 1, 10**400):
        with pytest.raises(UsageError) as caught:
            parser(str(bad))
        assert f"from {low} to {high}" in (caught.value.hint or "") and "(" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "name", ["a\udcffb", "\udcff", "é", "web\n", "web-0\n", "a" * 64 + "\udcff", "١", "web 0", "web_0", "a." * 33]
)
def test_hostnames_outside_rfc_1123_and_64_bytes(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        values.hostname(name)
    assert "sethostname(2)" in (caught.value.hint or "") and "RFC 1123" in (caught.value.hint or "")


def test_hostname_of_64_bytes() -> None:
    name = "a" * 63 + "."
    with pytest.raises(UsageError):
        values.hostname(name)  # an empty last label
    assert values.hostname("a" * 30 + "." + "b" * 33) == "a" * 30 + "." + "b" * 33


@pytest.mark.parametrize("text", ["١٠.99.0.0/24", "10.99.0.0/24\n", "10.99.0.0/255.255.255.0x"])
def test_subnet_form(text: str) -> None:
    with pytest.raises(UsageError):
        values.subnet(text)


def test_pids_limit_leaves_the_machine_task_slots() -> None:
    assert values.pids_limit("25", free=50) == 25
    with pytest.raises(UsageError) as caught:
        values.pids_limit("26", free=50)
    assert "half of the 50 this machine can still start" in (caught.value.hint or "")
    here = values.free_task_slots()
    assert here is None or here > 0


def test_json_file_is_checked_for_writing_before_the_demo(tmp_path: pathlib.Path) -> None:
    new = tmp_path / "config.json"
    assert values.json_file(str(new)) == str(new)
    assert not new.exists()  # the probe file is removed again
    new.write_text("{}")
    assert values.json_file(str(new)) == str(new)
    assert new.read_text() == "{}"  # an existing file is not touched until the demo writes it
    link = tmp_path / "link.json"
    link.symlink_to(new)
    with pytest.raises(UsageError, match="not a regular file"):
        values.json_file(str(link))  # root writing through a symlink someone put there
    with pytest.raises(UsageError, match="cannot write"):
        values.json_file("/proc/isodemo-test.json")  # the directory exists, but no file can be made there
