"""The Narrator: the only way a demo talks to the learner.

A demo calls `step`, `explain`, `compare`, `fact`, `claim`, `kubernetes`; the narrator records everything
into a Report and hands each piece to its renderer as it happens. Renderers (plain, terminal, json)
override the `show_*` hooks; they never decide what is true, only how it looks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from isodemo import testpoints
from isodemo.errors import IsodemoError
from isodemo.i18n import _
from isodemo.narrate.output import guarded
from isodemo.narrate.report import Claim, ErrorInfo, Report, Step

View = str | Sequence[str]
MAX_VIEW_LINES = 14


def view_lines(view: View, limit: int = MAX_VIEW_LINES) -> list[str]:
    """A view as lines, cut to `limit` with a last line that says how many were left out."""
    lines = view.splitlines() if isinstance(view, str) else [str(line) for line in view]
    if not lines:
        return [_("(nothing)")]
    if len(lines) > limit:
        return [*lines[: limit - 1], _("... and {n} more", n=len(lines) - limit + 1)]
    return lines


class Meter:
    """A value watched against its maximum while something happens (memory use against the limit).

    Renderers draw it: the terminal as a live bar, plain text as one line per update, JSON not at all.
    """

    def __init__(self, label: str, maximum: float, formatter: Callable[[float], str] = str) -> None:
        self.label = label
        self.maximum = maximum
        self.formatter = formatter
        self.readings: list[float] = []

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, value: float, text: str = "") -> None:
        self.readings.append(value)
        self.show(value, text)

    def show(self, value: float, text: str) -> None: ...

    def close(self) -> None: ...

    def describe(self, value: float) -> str:
        share = value / self.maximum if self.maximum else 0.0
        return f"{self.formatter(value)} / {self.formatter(self.maximum)} ({share:.0%})"


class Narrator:
    """Records the story; subclasses render it. The base class renders nothing (used by tests)."""

    def __init__(
        self,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        step_mode: bool = False,
        stdin: IO[str] | None = None,
    ) -> None:
        # Guarded: a character the encoding lacks is replaced, a reader that went away ends the demo quietly.
        self.out = guarded(out if out is not None else sys.stdout, ends_demo=True)
        self.err = guarded(err if err is not None else sys.stderr, ends_demo=False)
        self.stdin = stdin if stdin is not None else sys.stdin
        self.step_mode = step_mode
        self.report = Report()
        self._current: Step | None = None

    # -- the story -------------------------------------------------------------------------------------

    def begin(self, demo: str | None, host: dict[str, Any]) -> None:
        self.report.demo = demo
        self.report.host = host
        self.show_begin(demo, host)

    def step(self, title: str, *, syscalls: Sequence[str] = (), shell: Sequence[str] = ()) -> None:
        """Start a step: what happens, the syscall(s) made, the shell command that does the same."""
        if self._current is not None:
            self._pause()
        testpoints.hit("step")
        self._current = Step(title, list(syscalls), list(shell))
        self.report.steps.append(self._current)
        self.show_step(len(self.report.steps), self._current)

    def shell(self, *commands: str) -> None:
        """Add the shell equivalent of what was just done, when it is only known afterwards (a path made)."""
        if self._current is None:
            self.step(_("commands"))
        self.report.steps[-1].shell.extend(commands)
        for command in commands:
            self.show_shell(command)

    def explain(self, text: str) -> None:
        self.show_explain(text)

    def compare(
        self,
        label: str,
        host: View,
        inside: View,
        *,
        host_title: str | None = None,
        inside_title: str | None = None,
    ) -> None:
        """The same question answered from the host and from inside, side by side."""
        self.show_compare(
            label, host_title or _("host"), view_lines(host), inside_title or _("inside"), view_lines(inside)
        )

    def fact(self, key: str, value: Any, *, show: bool = True) -> Any:
        """Record an observed value under its INTERFACE.md name; returns it for convenience.

        `show=False` records it for --json only, when the narration already says it another way.
        """
        if self._current is not None:
            self._current.facts[key] = value
        self.report.facts[key] = value
        if show:
            self.show_fact(key, value)
        return value

    def claim(self, text: str, holds: bool) -> bool:
        """A statement the demo makes and has just checked; a claim that does not hold fails the demo."""
        claim = Claim(text, bool(holds))
        if self._current is None:
            self.step(_("checks"))
        self.report.steps[-1].claims.append(claim)
        self.show_claim(claim)
        return claim.holds

    def check(self, key: str, value: Any, text: str, holds: bool, *, show: bool = False) -> bool:
        """Record the fact `key` = `value` and claim `text` about it in one call; returns whether it holds.

        The fact is not shown by default: the claim's text says it (`show=True` shows it as well)."""
        self.fact(key, value, show=show)
        return self.claim(text, holds)

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.show_table(title, list(headers), [list(map(str, row)) for row in rows])

    def status(self, label: str, ok: bool | None, detail: str, fix: str | None = None) -> None:
        """One line of a checklist (doctor): ok True/False, or None for "informational"."""
        self.show_status(label, ok, detail, fix)

    def meter(self, label: str, maximum: float, formatter: Callable[[float], str] = str) -> Meter:
        """A live reading against a maximum: `with narrator.meter(...) as m: m.update(value, text)`."""
        return self.make_meter(label, maximum, formatter)

    def make_meter(self, label: str, maximum: float, formatter: Callable[[float], str]) -> Meter:
        return Meter(label, maximum, formatter)

    def kubernetes(self, text: str) -> None:
        """The closing note: which Kubernetes feature this piece of the kernel is under."""
        self.show_kubernetes(text)

    def note(self, text: str) -> None:
        """A line outside any step (cleanup's actions, hints)."""
        self.show_note(text)

    # -- holding and pausing ---------------------------------------------------------------------------

    def hold(self, info: dict[str, Any], commands: Sequence[str]) -> None:
        """Print `holding: {json}`, show how to look from another terminal, wait for Enter or a signal.

        Enter, Ctrl-C and SIGTERM end the hold and the demo goes on to its last steps (INTERFACE.md: the
        run then exits 0). SIGHUP (the terminal is gone) and SIGQUIT end the demo: it exits 130."""
        from isodemo import signals
        from isodemo.errors import Interrupted

        line = "holding: " + json.dumps(info, sort_keys=True)
        try:  # a script may signal as soon as it has read the line: from here on, a signal ends the hold
            self.out.write(line + "\n")
            self.out.flush()
            self.show_hold(list(commands))
            testpoints.hit("hold")
            if not signals.wait_for_enter(self.stdin):  # no terminal to press Enter on: wait for a signal
                signals.wait_for_signal()
        except Interrupted as interrupt:
            if interrupt.signame not in signals.RELEASES_HOLD:
                raise
            signals.rearm()  # the signal ended the hold, not the demo: the last steps may still be stopped
        except KeyboardInterrupt:  # Python's own SIGINT handler, when a caller runs a demo without ours
            signals.rearm()
        self.show_note(_("released: cleaning up"))

    def _pause(self) -> None:
        from isodemo import signals

        if self.step_mode:
            self.show_pause()
            testpoints.hit("pause")
            if not signals.wait_for_enter(self.stdin):
                self.step_mode = False  # end of input: nobody will press Enter, so stop pausing

    # -- the end ---------------------------------------------------------------------------------------

    def fail(self, error: BaseException, exit_code: int, *, kind: str | None = None) -> None:
        """Record why the command ended early; `kind` names the original error when `error` wraps it."""
        hint = error.hint if isinstance(error, IsodemoError) else None
        message = str(error) or type(error).__name__
        self.report.error = ErrorInfo(kind or type(error).__name__, message, hint, exit_code)
        self.show_error(self.report.error)

    def finish(self, leftovers: Sequence[str] = ()) -> Report:
        self.report.leftovers = list(leftovers)
        self.show_finish(self.report)
        return self.report

    # -- renderer hooks (the base renders nothing) -----------------------------------------------------

    def show_begin(self, demo: str | None, host: dict[str, Any]) -> None: ...
    def show_step(self, number: int, step: Step) -> None: ...
    def show_shell(self, command: str) -> None: ...
    def show_explain(self, text: str) -> None: ...
    def show_compare(
        self, label: str, host_title: str, host: list[str], inside_title: str, inside: list[str]
    ) -> None: ...
    def show_fact(self, key: str, value: Any) -> None: ...
    def show_claim(self, claim: Claim) -> None: ...
    def show_table(self, title: str, headers: list[str], rows: list[list[str]]) -> None: ...
    def show_status(self, label: str, ok: bool | None, detail: str, fix: str | None) -> None: ...
    def show_kubernetes(self, text: str) -> None: ...
    def show_note(self, text: str) -> None: ...
    def show_hold(self, commands: list[str]) -> None: ...
    def show_pause(self) -> None: ...
    def show_error(self, error: ErrorInfo) -> None: ...
    def show_finish(self, report: Report) -> None: ...
