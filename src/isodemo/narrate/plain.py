"""Plain text: the same content as the terminal renderer, with no colour, boxes or redraws (pipes, logs)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from isodemo.i18n import _, ngettext
from isodemo.narrate.base import Meter, Narrator
from isodemo.narrate.report import Claim, ErrorInfo, Report, Step
from isodemo.narrate.width import cells, ljust, wrap

WIDTH = 100  # in terminal cells (a Hangul syllable takes two); a terminal narrower than this: its width
INDENT = "    "


def format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


BAR_WIDTH = 24


class PlainMeter(Meter):
    def __init__(self, narrator: PlainNarrator, label: str, maximum: float, formatter: Callable[[float], str]) -> None:
        super().__init__(label, maximum, formatter)
        self.narrator = narrator

    def show(self, value: float, text: str) -> None:
        filled = min(BAR_WIDTH, round(BAR_WIDTH * value / self.maximum)) if self.maximum else 0
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.narrator._line(f"{INDENT}{self.label} [{bar}] {self.describe(value)}  {text}".rstrip())


class PlainNarrator(Narrator):
    def __init__(self, *, width: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width if width is not None else _terminal_width(self.out)

    def _line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _wrapped(self, text: str, indent: str = INDENT) -> None:
        """Paragraphs wrapped by display width: Korean lines fit the terminal as English ones do."""
        for paragraph in text.split("\n"):
            for line in wrap(paragraph, self.width, indent) or [""]:
                self._line(line)

    def show_begin(self, demo: str | None, host: dict[str, Any]) -> None:
        facts = ", ".join(f"{k} {v}" for k, v in host.items() if k in ("kernel", "cgroup", "python"))
        self._line(f"isodemo {demo}  ({facts})")

    def show_step(self, number: int, step: Step) -> None:
        self._line()
        self._line(f"[{number}] {step.title}")
        for call in step.syscalls:
            self._line(f"{INDENT}{_label(_('syscall:'))}{call}")
        for command in step.shell:
            self.show_shell(command)

    def show_shell(self, command: str) -> None:
        self._line(f"{INDENT}{_label(_('shell:'))}{command}")

    def show_explain(self, text: str) -> None:
        self._wrapped(text)

    def show_compare(self, label: str, host_title: str, host: list[str], inside_title: str, inside: list[str]) -> None:
        self._line(f"{INDENT}{label}")
        for title, lines in ((host_title, host), (inside_title, inside)):
            self._line(f"{INDENT}  {title}:")
            for line in lines:
                self._line(f"{INDENT}    {line}")

    def show_fact(self, key: str, value: Any) -> None:
        self._line(INDENT + _("fact {key} = {value}", key=key, value=format_value(value)))

    def show_claim(self, claim: Claim) -> None:
        mark = "✓" if claim.holds else "✗ " + _("DID NOT HOLD:")
        self._line(f"{INDENT}{mark} {claim.text}")

    def show_table(self, title: str, headers: list[str], rows: list[list[str]]) -> None:
        indent = INDENT if self.report.steps else ""  # inside a step, like everything else of the step
        if title:
            self._line(indent + title)
        widths = [max(cells(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
        for row in [headers, *rows]:
            line = "  ".join(ljust(cell, width) for cell, width in zip(row, widths, strict=True))
            self._line((indent + line).rstrip())

    def show_status(self, label: str, ok: bool | None, detail: str, fix: str | None) -> None:
        mark = {True: "✓", False: "✗", None: "·"}[ok]
        self._line(f"{mark} {label}: {detail}")
        if fix:
            self._line(INDENT + _("fix: {fix}", fix=fix))

    def make_meter(self, label: str, maximum: float, formatter: Callable[[float], str]) -> Meter:
        return PlainMeter(self, label, maximum, formatter)

    def show_kubernetes(self, text: str) -> None:
        self._line()
        self._line(_("Kubernetes:"))
        self._wrapped(text)

    def show_note(self, text: str) -> None:
        self._line(text)

    def show_hold(self, commands: list[str]) -> None:
        self._line()
        self._line(_("Holding everything alive. Look at it from another terminal:"))
        for command in commands:
            self._line(f"{INDENT}{command}")
        self._wrapped(_("Press Enter (or Ctrl-C, or send SIGTERM) to clean up and finish."), "")

    def show_pause(self) -> None:
        self.out.write(_("-- press Enter for the next step --"))
        self.out.flush()

    def show_error(self, error: ErrorInfo) -> None:
        self.err.write(f"isodemo: {error.message}\n")
        if error.hint:
            self.err.write(_("hint: {hint}", hint=error.hint) + "\n")
        self.err.flush()

    def show_finish(self, report: Report) -> None:
        if report.steps and report.error is None:
            self._line()
            failed = report.failed_claims
            if failed:
                self._line(ngettext("{n} claim did not hold:", "{n} claims did not hold:", len(failed)))
                for claim in failed:
                    self._line(f"{INDENT}✗ {claim.text}")
            elif checked := sum(len(s.claims) for s in report.steps):
                self._line(ngettext("{n} claim observed.", "All {n} claims observed.", checked))
        if report.leftovers:
            self.err.write(_("isodemo could not remove: {objects}", objects=", ".join(report.leftovers)) + "\n")


def _label(text: str) -> str:
    """`syscall:` and `shell:` padded to one width (in cells), so that what follows them lines up."""
    return ljust(text, max(cells(_("syscall:")), cells(_("shell:"))) + 1)


def _terminal_width(stream: Any) -> int:
    """WIDTH, or the terminal's width when stdout is a narrower terminal."""
    try:
        if stream.isatty():
            return max(40, min(WIDTH, os.get_terminal_size(stream.fileno()).columns))
    except (OSError, ValueError, AttributeError):
        pass
    return WIDTH
