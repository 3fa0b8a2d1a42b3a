"""Network work done inside a container's namespace: functions the Isolated child runs with box.call().

The child lives in the new network namespace, so a netlink socket it opens talks to that namespace's
stack: this is `ip netns exec NAME ip ...` without the exec.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import socketserver
import time

from pyroute2 import IPRoute

from isodemo.kernel import icmp, process, rtnl


def link_table() -> list[str]:
    with IPRoute() as ipr:
        return rtnl.link_table(ipr)


def route_table() -> list[str]:
    with IPRoute() as ipr:
        return rtnl.route_table(ipr)


def configure(ifname: str, new_name: str, address: str, prefixlen: int, gateway: str | None) -> None:
    """Rename the moved veth end, give it its address, bring it and lo up, add the default route."""
    with IPRoute() as ipr:
        index = rtnl.link_index(ipr, ifname)
        ipr.link("set", index=index, ifname=new_name)
        ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
        ipr.link("set", index=rtnl.link_index(ipr, "lo"), state="up")
        if gateway:
            ipr.route("add", dst="0.0.0.0/0", gateway=gateway)


def ping(address: str) -> bool:
    """One ICMP echo, 2 s at most, from this namespace: True when the reply came back."""
    return icmp.ping(address)


def http_server(port: int, body: str) -> int:
    """Fork a small HTTP server (Python's http.server) answering `body` on every GET; returns its pid."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # quiet: the narrator tells the story
            pass

    class Server(socketserver.TCPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            # A client that went away mid-answer (isodemo interrupted during the request: BrokenPipeError,
            # ConnectionResetError) is no news; socketserver would print its traceback on the terminal.
            pass

    server = Server(("0.0.0.0", port), Handler)
    child = os.fork()
    if child == 0:
        try:
            process.set_pdeathsig(signal.SIGKILL)  # dies with the container's process, and its namespace
            server.serve_forever()
        finally:
            os._exit(0)
    server.server_close()
    return child


def start_sink(port: int) -> int:
    """Fork a TCP sink: it accepts connections and reads them to the end, then acks with one byte."""
    listener = socket.create_server(("0.0.0.0", port))
    child = os.fork()
    if child == 0:
        try:
            process.set_pdeathsig(signal.SIGKILL)
            while True:
                conn, _ = listener.accept()
                with conn, contextlib.suppress(OSError):  # a sender gone mid-transfer: wait for the next one
                    while conn.recv(1 << 16):
                        pass
                    conn.sendall(b"k")
        finally:
            os._exit(0)
    listener.close()
    return child


def send_bytes(address: str, port: int, total: int) -> float:
    """Send `total` bytes to a sink and wait for its ack: seconds for the transfer (run on the host)."""
    chunk = b"\0" * (1 << 16)
    with socket.create_connection((address, port), timeout=30) as conn:
        start = time.monotonic()
        sent = 0
        while sent < total:
            sent += conn.send(chunk[: min(len(chunk), total - sent)])
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
        return time.monotonic() - start
