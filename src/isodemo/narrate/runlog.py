"""What `isodemo run` says: nothing of its own by default, as `docker run`; each step with --verbose; one
JSON object with --json.

The container owns stdout and stderr: isodemo's own words (the steps of --verbose, an error) go to stderr,
prefixed `isodemo:`, so they never mix into what the container prints; the JSON object goes to stdout after
the container has ended, on a line of its own. No rich, no colour, no redraws: this is the start-up path
that must beat runc.
"""

from __future__ import annotations

import sys

from isodemo.i18n import _
from isodemo.narrate.report import ErrorInfo, Report, Step

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import IO, Any


class RunLog:
    def __init__(self, *, verbose: bool = False, json: bool = False, err: IO[str] | None = None) -> None:
        self.verbose = verbose
        self.json = json
        self.err = err or sys.stderr
        self.report = Report(demo="run")

    def step(self, title: str, syscalls: list[str], shell: list[str] | None = None, **facts: Any) -> None:
        """One thing isodemo did to build the container, the system calls it made, the shell equivalent."""
        self.report.steps.append(Step(title, list(syscalls), list(shell or []), dict(facts)))
        self.report.facts.update(facts)
        if self.verbose:
            lines = [
                f"isodemo: {title}",
                *(f"    {call}" for call in syscalls),
                *(f"    $ {line}" for line in shell or []),
            ]
            self._say("\n".join(lines))

    def fact(self, name: str, value: Any) -> None:
        self.report.facts[name] = value

    def note(self, text: str) -> None:
        """Something the learner should know even without --verbose (an OOM kill, a stop timeout)."""
        self._say(f"isodemo: {text}")

    def fail(self, kind: str, message: str, hint: str | None, exit_code: int) -> None:
        self.report.error = ErrorInfo(kind, message, hint, exit_code)
        text = _("isodemo: error: {reason}", reason=message)
        if hint:
            text += "\n" + _("isodemo: hint: {hint}", hint=hint)
        self._say(text)

    def finish(self, host: dict[str, Any], leftovers: list[str], out: IO[str] | None = None) -> None:
        self.report.host = host
        self.report.leftovers = leftovers
        if leftovers:
            self._say(_("isodemo: left behind (run `sudo isodemo cleanup`): {objects}", objects=", ".join(leftovers)))
        if self.json:
            import json

            stream = out or sys.stdout
            stream.write(json.dumps(self.report.to_json()) + "\n")
            stream.flush()

    def say(self, text: str) -> None:
        """A line of isodemo's own on stderr, as it is (a traceback of a bug)."""
        self._say(text)

    def _say(self, text: str) -> None:
        try:
            self.err.write(text + "\n")
            self.err.flush()
        except (OSError, ValueError):  # stderr closed: the exit code still says what happened
            pass
