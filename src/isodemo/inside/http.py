"""HTTP as a probe or a client sends it, from whatever namespace the calling process is in (no pyroute2 here:
the client pod's process imports only this)."""

from __future__ import annotations

import os
import socket


def http_get(address: str, port: int, path: str, timeout: float) -> tuple[int, str]:
    """One HTTP/1.0 GET, as the kubelet's probe sends it: (status, body), (0, why) when it failed."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: kube-probe\r\n\r\n".encode())
            data = _read_all(sock)
    except TimeoutError:
        return 0, "timeout"
    except OSError as error:
        return 0, os.strerror(error.errno) if error.errno else str(error)
    return parse_response(data)


def _read_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parse_response(data: bytes) -> tuple[int, str]:
    """An HTTP response as (status, body); (0, "bad response") when it is not one."""
    head, _sep, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        return 0, "bad response"
    return int(status_line[1]), body.decode(errors="replace").strip()
