"""Waiting for a running container, as `docker run` does in the foreground: its exit status is ours.

Signals sent to isodemo go to the container's PID 1 (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2);
SIGWINCH resizes its terminal. The first signal that asks the container to end (SIGINT, SIGTERM, SIGHUP,
SIGQUIT) starts the stop timeout; a second one, or the timeout, sends SIGKILL, which PID 1 of a pid
namespace cannot ignore. PID 1 receives only the signals it has a handler for, even from the host (man 7
pid_namespaces): `sh` as PID 1 ignores SIGTERM, and then it is the SIGKILL after the timeout that ends it,
exactly as with `docker stop`.

One select(2) waits for everything: a pidfd of the process isodemo forked, PID 1 or its helper (readable when the
container has exited), the self-pipe that the signal handler writes to (signal.set_wakeup_fd), and the terminal's
descriptors with -t.
"""

from __future__ import annotations

import os
import select
import time

from isodemo import signals
from isodemo.contexts import suppress
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from typing import Any

    from isodemo.narrate.runlog import RunLog
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
ENDING = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})


class forwarding:
    """Handlers that only note the signal (the wait loop acts on it); gives the read end of the self-pipe.
    (A class rather than a @contextlib.contextmanager: contextlib costs every `isodemo run` ~1.5 ms, contexts.py.)"""

    def __enter__(self) -> int:
        self.read_end, self.write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        watched = (*FORWARDED, signal.SIGWINCH)
        self.previous = {sig: signal.getsignal(sig) for sig in watched}
        self.old_fd = signal.set_wakeup_fd(self.write_end, warn_on_full_buffer=False)
        try:
            for sig in watched:
                signal.signal(sig, _note)
        except BaseException:
            self.__exit__()
            raise
        return self.read_end

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self.old_fd)
        os.close(self.read_end)
        os.close(self.write_end)


def _note(signum: int, frame: object) -> None:
    """The wakeup fd carries the signal number to the loop; nothing else to do here."""


class Waiter:
    """The state of one wait: the container, the stop timeout, and when the SIGKILL is due."""

    def __init__(self, box: Any, stop_timeout: float, log: RunLog, pty: Any = None) -> None:
        self.box = box
        self.stop_timeout = stop_timeout
        self.log = log
        self.pty = pty
        self.deadline: float | None = None  # set by the first ending signal
        self.seconds = f"{stop_timeout:g}"  # as the learner wrote it: 10, 0.5

    def wait(self, wakeup: int) -> int:
        """Until the container's PID 1 exits, forwarding signals; its exit code (128+N if signal N killed it)."""
        exited = self.box.wait_fd()
        pty = self.pty
        try:
            while True:
                timeout = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
                pty_read = pty.fds() if pty is not None else []  # asked anew each round: they change
                pty_write = pty.write_fds() if pty is not None else []
                readable, writable, _x = select.select([exited, wakeup, *pty_read], pty_write, [], timeout)
                if pty is not None:
                    pty.pump({*readable, *writable})
                if exited in readable:
                    break
                if wakeup in readable:
                    self.forward(_drain(wakeup))
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    self.log.note(_("the container did not stop within {seconds} s: SIGKILL", seconds=self.seconds))
                    self.box.send_signal(signal.SIGKILL)
                    self.deadline = None
        finally:
            os.close(exited)
        if pty is not None:
            pty.drain()
        return int(self.box.reap())

    def forward(self, received: list[int]) -> None:
        for signum in received:
            if signum == signal.SIGWINCH:
                if self.pty is not None:
                    self.pty.resize()
                continue
            if signum in ENDING and self.deadline is not None:  # the second one: no more waiting
                self.log.note(_("{signal} again: SIGKILL", signal=signals.name(signum)))
                self.box.send_signal(signal.SIGKILL)
                self.deadline = None
                continue
            self.box.send_signal(signum)
            if signum in ENDING:
                self.deadline = time.monotonic() + self.stop_timeout


def _drain(wakeup: int) -> list[int]:
    received = []
    with suppress(BlockingIOError):
        while True:
            data = os.read(wakeup, 64)
            if not data:
                break
            received += list(data)
    return received
