"""Network devices through ioctl(2) on a socket (man 7 netdevice): what `ip link set lo up` does, without
netlink and without pyroute2's 300 ms import, for the one thing a container with `--network none` needs."""

from __future__ import annotations

# _socket, the C module itself: socket.py would add selectors and four enums (~1.5 ms of `isodemo run`'s start)
import _socket as socket
import fcntl
import struct

# <linux/sockios.h>, <net/if.h>
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = struct.Struct("16sH22x")  # struct ifreq: ifr_name, then ifr_flags in the union (40 bytes in all)


def set_up(name: str) -> str:
    """ioctl(SIOCSIFFLAGS) with IFF_UP added, in the caller's network namespace; the syscall, for narration."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a _socket.socket is no context manager
    try:
        request = _IFREQ.pack(name.encode(), 0)
        _name, flags = _IFREQ.unpack(fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, _IFREQ.pack(name.encode(), flags | IFF_UP))
    finally:
        sock.close()
    return f'ioctl(SIOCSIFFLAGS, "{name}", IFF_UP)'
