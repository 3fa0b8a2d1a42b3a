"""Every container checked from the host: its address answers a ping, its cgroup holds its PID 1."""

from __future__ import annotations

import os
import socket
import time

from isodemo.kernel import icmp


def ping_all(addresses: list[str], timeout: float = 5.0) -> set[str]:
    """One echo request to each address from one raw socket, all sent before any reply is read: the
    addresses that answered within `timeout`. Sequence numbers tell the replies apart."""
    identifier = os.getpid() & 0xFFFF
    wanted = {address: sequence for sequence, address in enumerate(addresses, 1)}
    answered: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        for address, sequence in wanted.items():
            sock.sendto(icmp.echo_request(identifier, sequence & 0xFFFF, b"isodemo"), (address, 0))
            _receive(sock, wanted, identifier, answered, 0.0)  # drained as they come: the receive buffer
            # holds ~256 replies (net.core.rmem_default), and the rest would be dropped
        deadline = time.monotonic() + timeout
        while len(answered) < len(wanted) and (left := deadline - time.monotonic()) > 0:
            if not _receive(sock, wanted, identifier, answered, left):
                break
    return answered


def _receive(sock: socket.socket, wanted: dict[str, int], identifier: int, answered: set[str], wait: float) -> bool:
    """Read the replies waiting (and wait up to `wait` seconds for one); False when none came."""
    sock.settimeout(wait)
    got = False
    while True:
        try:
            data, (source, _port) = sock.recvfrom(65535)
        except OSError:  # nothing more now (or the timeout)
            return got
        got = True
        sock.settimeout(0.0)
        reply = data[(data[0] & 0x0F) * 4 :]
        if source in wanted and icmp.is_reply(reply, identifier, wanted[source] & 0xFFFF):
            answered.add(source)


def pid1_in_cgroup(procs_file: str, pid: int) -> bool:
    """`grep -x PID .../cgroup.procs`: the container's PID 1 (its host pid) is a member of its cgroup."""
    try:
        with open(procs_file) as f:
            return str(pid) in f.read().split()
    except OSError:
        return False
