"""Parsing and checking option values, with messages that show the accepted form. Pure functions."""

from __future__ import annotations

import re

from isodemo.errors import UsageError

HOST_NAME_MAX = 64  # <limits.h>; sethostname(2) fails with EINVAL beyond it
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def hostname(value: str) -> str:
    """A hostname the kernel accepts and a Kubernetes Pod could have: RFC 1123 labels, at most 64 bytes."""
    if not value or len(value.encode()) > HOST_NAME_MAX or not all(_LABEL.match(p) for p in value.split(".")):
        raise UsageError(
            f"invalid hostname {value!r}",
            f"use 1-{HOST_NAME_MAX} characters: letters, digits and '-', dot-separated labels "
            "that start and end with a letter or digit (for example web-0)",
        )
    return value


# -- sizes and rates, as docker parses them (github.com/docker/go-units RAMInBytes) -----------------------

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([bkmgtp]?)(?:i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
SIZE_FORM = "a number with an optional unit b, k, m or g (1k = 1024 bytes), for example 64m"


def size_bytes(value: str, *, what: str = "size") -> int:
    """`64m` -> 67108864. Units are binary, as in `docker run --memory`: k, m, g (also kb, MiB, ...)."""
    match = _SIZE.match(value.strip())
    if not match:
        raise UsageError(f"invalid {what} {value!r}", f"use {SIZE_FORM}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


def memory_limit(value: str, *, minimum: int = 6 << 20) -> int:
    """A memory limit: at least 6 MiB, like docker's minimum."""
    limit = size_bytes(value, what="memory size")
    if limit < minimum:
        raise UsageError(f"memory limit {value!r} is below the minimum of {format_bytes(minimum)}", f"use {SIZE_FORM}")
    return limit


def rate_bytes(value: str) -> int:
    """An I/O rate per second, `1mb` -> 1048576, as `docker run --device-write-bps /dev/sda:1mb` takes it."""
    rate = size_bytes(value, what="rate")
    if rate < 4096:
        raise UsageError(f"rate {value!r} is below one 4 KiB block per second", f"use {SIZE_FORM}")
    return rate


def device_rate(value: str) -> tuple[str, int]:
    """`/dev/sda:1mb` -> ("/dev/sda", 1048576), the form of docker's --device-write-bps."""
    device, sep, rate = value.rpartition(":")
    if not sep or not device.startswith("/dev/"):
        raise UsageError(f"invalid device rate {value!r}", "use DEVICE:RATE, for example /dev/sda:1mb")
    return device, rate_bytes(rate)


def cpus(value: str, available: int | None = None) -> float:
    """`--cpus 0.5`: how many CPUs' worth of time per period, a positive decimal up to the CPUs present."""
    import os

    try:
        amount = float(value)
    except ValueError:
        amount = -1.0
    limit = available if available is not None else (os.cpu_count() or 1)
    if not 0.01 <= amount <= limit:
        raise UsageError(
            f"invalid --cpus value {value!r}",
            f"use a decimal from 0.01 to {limit} (the CPUs here), for example 0.2",
        )
    return amount


def whole_number(value: str | int, low: int, high: int, what: str, example: int) -> int:
    """An integer in [low, high], or a UsageError that says the range and gives an example."""
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise UsageError(f"invalid {what} {value!r}", f"use a whole number from {low} to {high}, for example {example}")
    return number


def pids_limit(value: str | int) -> int:
    return whole_number(value, 2, 4096, "pids limit", 20)


def format_bytes(value: float) -> str:
    """67108864 -> `64.0 MiB`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def rate_mbit(value: str | int) -> int:
    return whole_number(value, 1, 1000, "rate in Mbit/s", 10)


def port(value: str | int) -> int:
    return whole_number(value, 1024, 65535, "port", 8080)


def subnet(value: str) -> object:
    """--subnet 10.99.0.0/24: an IPv4 /24 (returns an ipaddress.IPv4Network)."""
    import ipaddress

    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        net = None
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen != 24 or not net.is_private:
        raise UsageError(f"invalid subnet {value!r}", "use a private IPv4 /24, for example 10.99.0.0/24")
    return net


CLOCK_OFFSET_MAX = 10 * 365 * 86400  # ten years: enough to see, far from the kernel's overflow limits


def clock_offset(value: str | int) -> int:
    """A time namespace offset, whole seconds, like unshare(1)'s --boottime and --monotonic."""
    return whole_number(value, 0, CLOCK_OFFSET_MAX, "clock offset (seconds)", 86400)
