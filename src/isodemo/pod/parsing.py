"""What busybox prints inside the pod's containers, read into data (pure: unit-tested without root)."""

from __future__ import annotations

import re

_INET = re.compile(r"\binet (\d+\.\d+\.\d+\.\d+)/(\d+)")


def inet_addresses(ip_addr_output: str) -> list[str]:
    """The IPv4 addresses in `ip -4 addr show` output, loopback's excluded."""
    return [address for address, _prefix in _INET.findall(ip_addr_output) if not address.startswith("127.")]


def ps_rows(ps_output: str) -> list[tuple[int, str]]:
    """`ps -o pid,comm` as (pid, comm) rows; the header and anything unreadable are skipped."""
    rows = []
    for line in ps_output.splitlines():
        pid, _, comm = line.strip().partition(" ")
        if pid.isdigit():
            rows.append((int(pid), comm.strip()))
    return rows


def readlinks(output: str) -> dict[str, int]:
    """`readlink /proc/$$/ns/TYPE` lines (`net:[4026532281]`) as {type: inode}."""
    found = {}
    for line in output.split():
        match = re.fullmatch(r"(\w+):\[(\d+)\]", line.strip())
        if match:
            found[match[1]] = int(match[2])
    return found
