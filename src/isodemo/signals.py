"""How a signal ends a run: SIGINT (Ctrl-C), SIGTERM, SIGHUP (a closed terminal) and SIGQUIT (Ctrl-\\) alike.

The first of them raises `Interrupted`, an exception that unwinds every resource's teardown. Once the demo's
body is over (`disarm()`), further ones are noted and ignored, so a second Ctrl-C cannot cut a cleanup in
half. A wait (a `--step` pause, `--hold`) always ends on the first signal, armed or not: see `wait_for_enter`.
Once the report is out (`report_done(code)`), the work is done and cleaned: a signal then ends the process at
once with the report's exit code, instead of a traceback from wherever the interpreter was shutting down.
"""

from __future__ import annotations

import os
import select
import sys
import time

from isodemo.contexts import suppress

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from types import FrameType
    from typing import IO
else:
    # The C module that signal.py wraps: signal.py turns its constants into three IntEnums at import, and with
    # `enum` that costs every start ~1.5 ms (benchmarks/RESULTS.md). The functions are the same; they take and
    # return plain ints (SIGINT is 2, not Signals.SIGINT: equal either way). mypy checks against signal.py's
    # stubs (there are none for _signal). The run's modules (container/, inside/, isolated*.py) do the same.
    import _signal as signal

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# During --hold, Ctrl-C and SIGTERM are how a learner says "done": the hold ends, the demo goes on. A
# hangup (the terminal or the ssh connection is gone) or Ctrl-\ ends the demo: nobody is there to read on.
RELEASES_HOLD = frozenset({"SIGINT", "SIGTERM"})
TICK = 0.2  # seconds: how late a wait may notice a signal that arrived just before it began
# signal.Signals(n).name of the signals a run handles or forwards (container/waiting.py), without signal.py
_NAMES: dict[int, str] = {
    signal.SIGINT: "SIGINT",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
    signal.SIGQUIT: "SIGQUIT",
    signal.SIGUSR1: "SIGUSR1",
    signal.SIGUSR2: "SIGUSR2",
}


def name(signum: int) -> str:
    """The signal's name, as signal.Signals(signum).name ("SIGINT" for 2); signal.py only for one not in
    _NAMES."""
    known = _NAMES.get(signum)
    if known is not None:
        return known
    import signal as with_enums

    return str(with_enums.Signals(signum).name)


class _State:
    armed = False  # True only while a demo's body runs (interrupts_unwind, until disarm())
    received: str | None = None  # the first signal taken since the handler was installed
    exit_code: int | None = None  # set once the report is out: a signal then exits with it
    own_process = False  # this process is the `isodemo` command (cli.main), not a caller of runner.execute


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    from isodemo.errors import Interrupted

    name_ = name(signum)
    if _state.exit_code is not None:
        _exit_now(_state.exit_code)
    if _state.received is None:
        _state.received = name_
    if _state.armed:
        _state.armed = False
        raise Interrupted(name_)
    # Disarmed: teardown is running. The handler returns, so the interrupted system call is retried
    # (PEP 475); a wait notices `received` itself (wait_for_enter).


def _exit_now(code: int) -> None:
    """The report is out and everything is removed: leave without unwinding (a thread join, an atexit hook
    or a half-written flush would otherwise turn the signal into a traceback or a 128+N status)."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code)


def rearm() -> None:
    _state.armed = True
    _state.received = None


def disarm() -> None:
    _state.armed = False


def armed() -> bool:
    return _state.armed


def received() -> str | None:
    """The name of the first signal taken (SIGINT, SIGTERM, SIGHUP, SIGQUIT), or None."""
    return _state.received


def own_process() -> None:
    """Called by cli.main when this process is the `isodemo` command: see report_done."""
    _state.own_process = True


def is_own_process() -> bool:
    return _state.own_process


def exit_process(code: int) -> None:
    """The `isodemo` command is over, its report out and everything it made removed: exit now with `code`,
    the std streams flushed, without the interpreter's own teardown (freeing ~150 modules one by one costs
    `isodemo run` 10-15 ms, a third of runc's whole run). Only in the `isodemo` process itself
    (own_process): a caller of cli.main (a test) gets the code back and goes on."""
    if _state.own_process:
        _exit_now(code)


def report_done(code: int) -> None:
    """The report is printed and the run cleaned up: from now on a signal exits at once with `code`.

    Only in the `isodemo` process itself (own_process); a caller that goes on after runner.execute (a test)
    gets its own handlers back, as before."""
    if _state.own_process:
        _state.exit_code = code


class interrupts_unwind:
    """Install the handler for the duration of a demo; restore the previous handlers afterwards.
    (A class rather than a @contextlib.contextmanager: contextlib costs every `isodemo run` ~1.5 ms, contexts.py.)"""

    def __enter__(self) -> None:
        self.previous = {sig: signal.getsignal(sig) for sig in HANDLED}
        rearm()
        _state.exit_code = None
        for sig in HANDLED:
            signal.signal(sig, _handler)

    def __exit__(self, *exc_info: object) -> None:
        _state.armed = False
        _state.received = None  # a wait outside this block must not end on a signal of the run before
        if _state.exit_code is None:  # after report_done, ours stays: it is what exits with the code
            for sig, handler in self.previous.items():
                signal.signal(sig, handler)


class held:
    """Block the handled signals for a few lines that must not be cut in two (create a kernel object, then
    register its teardown). One that arrives meanwhile stays pending and is delivered, its handler raising,
    as the block ends: after the registration, so the teardown knows the object."""

    def __enter__(self) -> None:
        self.blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)

    def __exit__(self, *exc_info: object) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self.blocked)


def _raise_if_received() -> None:
    from isodemo.errors import Interrupted

    if _state.received is not None:
        _state.armed = False
        raise Interrupted(_state.received)


def wait_for_enter(stream: IO[str]) -> bool:
    """Wait for a line on `stream`: True when one came, False at end of input (nobody will press Enter).

    Ends with `Interrupted` on the first signal, also one taken while disarmed: the handler then returns,
    and a plain readline() would be retried and wait on. The descriptor is polled in ticks and read a byte
    at a time, so nothing waits in a buffer that poll() cannot see, and a signal that lands between the
    check and the wait is at most one tick late.
    """
    _raise_if_received()
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO): it never blocks
        try:
            return stream.readline() != ""
        except (OSError, ValueError):
            return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        ready = poller.poll(TICK * 1000)
        _raise_if_received()
        if not ready:
            continue
        try:
            byte = os.read(fd, 1)
        except OSError:  # EIO: the terminal hung up; EBADF: stdin was closed
            return False
        if not byte:
            return False
        if byte == b"\n":
            return True


def wait_for_signal() -> None:
    """Sleep until a handled signal arrives: its handler raises, or (disarmed) it is noticed here.

    Short ticks, not signal.pause(): a signal that lands just before pause() would be missed until the
    next one; a tick is at most 0.2 s late.
    """
    while True:
        _raise_if_received()
        time.sleep(TICK)
