"""A client pod: a process in a network namespace of its own on cni0, sending HTTP requests through a
Service and recording what each one got.

The loop runs in the client's Isolated child, started with submit() while the demo goes on (a replica killed,
a rollout) and stopped with SIGUSR1; collect() brings back one record per request:
    (start, seconds, status, body)   start on CLOCK_MONOTONIC, the clock the demo's own timestamps use;
                                     status 0 and the error's name in body when the request failed
Each request opens a new TCP connection, as `curl` in a loop does: a new conntrack entry, so kube-proxy's
`numgen random` picks an endpoint for each one.

Simplification, named: the client is a process with a network namespace of its own, not a container with an
image: what matters to the Service is where its packets come from.
"""

from __future__ import annotations

import signal
import time
from typing import Any

Record = tuple[float, float, int, str]


class _Stop:
    """Set by SIGUSR1 in the client's child."""

    asked = False


def request_loop(address: str, port: int, path: str, *, interval: float, timeout: float, limit: int) -> list[Record]:
    """In the client's child: GET http://address:port/path every `interval` seconds until SIGUSR1 (or
    `limit` requests, when it is not 0); one record per request. arm() installed the handler before."""
    from isodemo.inside import http

    records: list[Record] = []
    while not (limit == 0 and _Stop.asked) and (limit == 0 or len(records) < limit):
        start = time.monotonic()
        status, body = http.http_get(address, port, path, timeout)
        records.append((start, time.monotonic() - start, status, body))
        pause = interval - (time.monotonic() - start)
        if pause > 0 and not _Stop.asked:
            time.sleep(pause)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    return records


def arm() -> None:
    """In the client's child, before the loop starts: SIGUSR1 ends the loop from now on (not the child)."""
    _Stop.asked = False
    signal.signal(signal.SIGUSR1, _on_stop)


def _on_stop(signo: int, frame: object) -> None:
    _Stop.asked = True


class Client:
    """The client pod: its namespace pinned as isodemo-<run>-client, wired to cni0, and its process."""

    def __init__(self, ctx: Any, node: Any, name: str = "client") -> None:
        from isodemo.net import netns

        self.name = name
        self.box = ctx.isolated(["net"])
        pin = ctx.own(netns.NamedNetns(ctx.run.object_name(name), self.box.pid))
        self.netns_name = pin.name
        self.address, self.shell = node.attach(name, pin.path, pin.name)
        self.shell = [f"ip netns add {pin.name}", *self.shell]
        self._running = False

    def get(self, address: str, port: int, path: str = "/", timeout: float = 1.0) -> tuple[int, str]:
        """One request, waited for."""
        from isodemo.inside import http

        status, body = self.box.call(http.http_get, address, port, path, timeout)
        return int(status), str(body)

    def requests(self, address: str, port: int, count: int, path: str = "/", timeout: float = 1.0) -> list[Record]:
        """`count` requests one after the other, waited for."""
        return list(self.box.call(request_loop, address, port, path, interval=0.0, timeout=timeout, limit=count))

    def start(self, address: str, port: int, interval: float, path: str = "/", timeout: float = 1.0) -> None:
        """Requests every `interval` seconds from now on, while the demo goes on; stop() ends them."""
        self.box.call(arm)  # waited for: a SIGUSR1 from stop() can no longer find the default action
        self.box.submit(request_loop, address, port, path, interval=interval, timeout=timeout, limit=0)
        self._running = True

    def stop(self) -> list[Record]:
        """SIGUSR1 to the loop; every record since start()."""
        if not self._running:
            return []
        self._running = False
        self.box.send_signal(signal.SIGUSR1)
        records: list[Record] = list(self.box.collect())
        return records

    def shell_loop(self, url: str) -> str:
        """The shell equivalent, to show beside it."""
        return f"sudo ip netns exec {self.netns_name} sh -c 'while :; do wget -q -O - {url}; done'"


def failed(records: list[Record]) -> list[Record]:
    return [r for r in records if r[2] != 200]


def after(records: list[Record], moment: float) -> list[Record]:
    """The requests that started after `moment` (CLOCK_MONOTONIC)."""
    return [r for r in records if r[0] >= moment]


def longest_outage(records: list[Record]) -> float:
    """The longest time from the start of a failed request to the start of the next request that succeeded
    (seconds; 0.0 when none failed)."""
    longest, began = 0.0, None
    for start, _seconds, status, _body in records:
        if status != 200 and began is None:
            began = start
        elif status == 200 and began is not None:
            longest = max(longest, start - began)
            began = None
    if began is not None and records:
        last = records[-1]
        longest = max(longest, last[0] + last[1] - began)
    return round(longest, 3)
