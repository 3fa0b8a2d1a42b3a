"""One ICMP echo, `ping -c 1 -W 2` without needing iputils-ping: a few lines of Python over a socket.

A raw socket (root, or CAP_NET_RAW in the user namespace that owns the network namespace) sees every ICMP
packet of the namespace, IP header included, so the reply is picked out by type, identifier and sequence.
Without one, an ICMP datagram socket ("ping socket") works where net.ipv4.ping_group_range allows the
caller's group; each network namespace has its own range, "1 0" (nobody) in a new one.
"""

from __future__ import annotations

import os
import socket
import struct
import time

ECHO_REQUEST = 8
ECHO_REPLY = 0
HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(identifier: int, sequence: int, payload: bytes) -> bytes:
    header = HEADER.pack(ECHO_REQUEST, 0, 0, identifier, sequence)
    return HEADER.pack(ECHO_REQUEST, 0, checksum(header + payload), identifier, sequence) + payload


def is_reply(icmp: bytes, identifier: int | None, sequence: int) -> bool:
    """An echo reply to our request. `identifier` None: a ping socket, where the kernel sets it (and filters)."""
    if len(icmp) < HEADER.size:
        return False
    kind, code, _, ident, seq = HEADER.unpack_from(icmp)
    return kind == ECHO_REPLY and code == 0 and seq == sequence and identifier in (None, ident)


def ping(address: str, timeout: float = 2.0) -> bool:
    """One echo request to `address`: True when its reply came back within `timeout` seconds.

    No route, a link down, a refused socket: False, as `ping` would exit 1 or 2."""
    identifier, sequence = os.getpid() & 0xFFFF, 1
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw = True
    except PermissionError:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        except OSError:
            return False
        raw = False
    with sock:
        try:
            sock.sendto(echo_request(identifier, sequence, b"isodemo"), (address, 0))
        except OSError:  # ENETUNREACH: not even a route to it
            return False
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, (source, _) = sock.recvfrom(65535)
            except OSError:  # the timeout, or an ICMP error
                return False
            icmp = data[(data[0] & 0x0F) * 4 :] if raw else data  # a raw socket returns the IP header too
            if source == address and is_reply(icmp, identifier if raw else None, sequence):
                return True
    return False
