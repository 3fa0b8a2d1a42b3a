"""Attempts made by a container's own command (busybox sh), and how isodemo reads their outcome back.

Each attempt is one shell command. The container's script runs each in a subshell with its output and exit
status written to /results (a host directory of isodemo's, bound with -v):

    exec >/dev/null 2>&1        (first: nothing of the script reaches isodemo's terminal)
    ( COMMAND ) >/results/NAME.out 2>/results/NAME.err; echo $? >/results/NAME.rc

The exit status says whether it worked. Which errno a failure had is read from the message only when the
message ends with exactly one errno's strerror(3) text ("...: Read-only file system" is EROFS): busybox
prints strerror for most failures, but has texts of its own for some ("permission denied (are you root?)",
"nonexistent directory"), and those name no errno here. Where the errno matters and busybox has no such
message, a probe observes it directly (inside/escape_probes.py).
"""

from __future__ import annotations

import errno
import os
import stat

RESULTS = "/results"
QUIET = "exec >/dev/null 2>&1"


class Attempt:
    """A named shell command of the container's script."""

    __slots__ = ("command", "name")

    def __init__(self, name: str, command: str) -> None:
        if "'" in command:
            raise ValueError("an attempt's command is shown inside single quotes")
        self.name = name
        self.command = command

    def __repr__(self) -> str:
        return f"Attempt({self.name!r}, {self.command!r})"


class Result:
    """What one attempt left in /results: its exit status and its output."""

    __slots__ = ("err", "out", "rc")

    def __init__(self, rc: int | None, out: str, err: str) -> None:
        self.rc = rc  # None: the script never got to it
        self.out = out
        self.err = err

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def errno(self) -> str | None:
        """The errno the message names, when exactly one matches (errno_in); None when it worked."""
        return None if self.ok else errno_in(self.err)

    @property
    def shown(self) -> str:
        """One line for the narration: the output, or the message, or the status."""
        text = (self.out if self.ok else self.err).strip().splitlines()
        if self.rc is None:
            return "(not run)"
        if text:
            return text[-1]
        return f"exit {self.rc}"

    def __repr__(self) -> str:
        return f"Result(rc={self.rc!r}, out={self.out!r}, err={self.err!r})"


def script(attempts: list[Attempt]) -> str:
    """The container's command: every attempt, its output and status saved under /results, nothing else
    written anywhere (the container's stdout and stderr are isodemo's: --json prints one object there)."""
    lines = [QUIET] + [
        f"( {a.command} ) >{RESULTS}/{a.name}.out 2>{RESULTS}/{a.name}.err; echo $? >{RESULTS}/{a.name}.rc"
        for a in attempts
    ]
    return "\n".join(lines)


def learner_line(options: list[str], attempts: list[Attempt]) -> str:
    """The same attempts as one command to retype, their output on the terminal."""
    body = "; ".join(a.command for a in attempts)
    return " ".join(["sudo isodemo run", *options, "busybox sh -c", f"'{body}'"])


def read_results(directory: str, attempts: list[Attempt]) -> dict[str, Result]:
    """Each attempt's Result, from the files the script wrote."""
    found = {}
    for attempt in attempts:
        rc_text = _read(os.path.join(directory, f"{attempt.name}.rc")).strip()
        found[attempt.name] = Result(
            int(rc_text) if rc_text.isdigit() else None,
            _read(os.path.join(directory, f"{attempt.name}.out")),
            _read(os.path.join(directory, f"{attempt.name}.err")),
        )
    return found


def errno_in(message: str) -> str | None:
    """The errno name whose strerror(3) text ends a line of `message` after ": ", when exactly one errno
    number matches; else None (a text of busybox's own, or no message)."""
    numbers = set()
    for line in message.strip().splitlines():
        for number in errno.errorcode:
            if line.rstrip().endswith(": " + os.strerror(number)):
                numbers.add(number)
    if len(numbers) != 1:
        return None
    return errno.errorcode[numbers.pop()]


def _read(path: str) -> str:
    """A regular file the container wrote, never through a symlink it may have left there instead."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return f.read(65536).decode(errors="replace")
