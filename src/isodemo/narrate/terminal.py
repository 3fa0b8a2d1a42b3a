"""The rich terminal renderer: each step as a titled block, host and inside views side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from isodemo.i18n import _, ngettext
from isodemo.narrate.base import Meter, Narrator
from isodemo.narrate.plain import format_value
from isodemo.narrate.report import Claim, ErrorInfo, Report, Step
from isodemo.narrate.width import cells


class TerminalMeter(Meter):
    """A rich progress bar that redraws in place while the readings come in."""

    def __init__(self, console: Console, label: str, maximum: float, formatter: Callable[[float], str]) -> None:
        super().__init__(label, maximum, formatter)
        self.progress = Progress(
            TextColumn("  [bold]{task.fields[label]}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[reading]}  [dim]{task.fields[note]}"),
            console=console,
        )
        self.task = self.progress.add_task("", total=maximum or 1, label=label, reading="", note="")
        self.progress.start()

    def show(self, value: float, text: str) -> None:
        self.progress.update(self.task, completed=min(value, self.maximum), reading=self.describe(value), note=text)

    def close(self) -> None:
        self.progress.stop()


class TerminalNarrator(Narrator):
    def __init__(
        self,
        *,
        console: Console | None = None,
        err_console: Console | None = None,
        force_color: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.console = console or Console(file=self.out, highlight=False, force_terminal=True if force_color else None)
        self.err_console = err_console or Console(
            file=self.err, highlight=False, stderr=True, force_terminal=True if force_color else None
        )

    def _print(self, *items: Any) -> None:
        self.console.print(*items)

    def show_begin(self, demo: str | None, host: dict[str, Any]) -> None:
        facts = ", ".join(f"{k} {v}" for k, v in host.items() if k in ("kernel", "cgroup", "python"))
        self._print(Text.assemble(("isodemo ", "bold"), (demo or "", "bold cyan"), (f"  {facts}", "dim")))

    def show_step(self, number: int, step: Step) -> None:
        self._print()
        self._print(Rule(Text(f" {number}. {step.title} ", style="bold"), align="left", style="cyan"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        for call in step.syscalls:
            grid.add_row(_("syscall"), Text(call, style="yellow"))
        for command in step.shell:
            grid.add_row(_("shell"), Text(command, style="green"))
        if grid.row_count:
            self._print(Padding(grid, (0, 0, 0, 2)))

    def show_shell(self, command: str) -> None:
        label = _("shell")
        self._print(Text.assemble(("  " + label + " " * max(1, 8 - cells(label)), "dim"), (command, "green")))

    def show_explain(self, text: str) -> None:
        self._print(Padding(Text(text), (0, 0, 0, 2)))

    def show_compare(self, label: str, host_title: str, host: list[str], inside_title: str, inside: list[str]) -> None:
        table = Table(title=label, title_justify="left", title_style="bold", expand=True, show_lines=False)
        table.add_column(host_title, style="blue", ratio=1, overflow="fold")
        table.add_column(inside_title, style="magenta", ratio=1, overflow="fold")
        table.add_row(Text("\n".join(host)), Text("\n".join(inside)))
        self._print(Padding(table, (0, 0, 0, 2)))

    def show_fact(self, key: str, value: Any) -> None:
        self._print(Text.assemble(("  " + _("fact") + " ", "dim"), (key, "bold"), " = ", format_value(value)))

    def show_claim(self, claim: Claim) -> None:
        if claim.holds:
            self._marked(Text("✓", style="bold green"), claim.text)
        else:
            self._marked(Text("✗ " + _("did not hold:"), style="bold red"), claim.text)

    def _marked(self, mark: Text, text: str, style: str = "") -> None:
        """A mark and a text beside it; a long text wraps under itself, not under the mark."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        grid.add_row(mark, Text(text, style=style))
        self._print(Padding(grid, (0, 0, 0, 2)))

    def show_table(self, title: str, headers: list[str], rows: list[list[str]]) -> None:
        table = Table(title=title or None, title_justify="left")
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        self._print(table)

    def show_status(self, label: str, ok: bool | None, detail: str, fix: str | None) -> None:
        mark = {True: ("✓ ", "bold green"), False: ("✗ ", "bold red"), None: ("· ", "dim")}[ok]
        self._print(Text.assemble(mark, (label, "bold"), ": ", detail))
        if fix:
            self._print(Text.assemble(("    " + _("fix:") + " ", "yellow"), fix))

    def make_meter(self, label: str, maximum: float, formatter: Callable[[float], str]) -> Meter:
        return TerminalMeter(self.console, label, maximum, formatter)

    def show_kubernetes(self, text: str) -> None:
        self._print()
        self._print(Panel(Text(text), title=_("Kubernetes"), title_align="left", border_style="blue"))

    def show_note(self, text: str) -> None:
        self._print(Text(text))

    def show_hold(self, commands: list[str]) -> None:
        body = Text(_("Look at it from another terminal:") + "\n\n")
        for command in commands:
            body.append(f"  {command}\n", style="green")
        body.append("\n" + _("Press Enter (or Ctrl-C, or send SIGTERM) to clean up and finish."), style="dim")
        self._print(Panel(body, title=_("holding"), title_align="left", border_style="yellow"))

    def show_pause(self) -> None:
        self.console.print(Text(_("-- press Enter for the next step --"), style="dim"), end="")

    def show_error(self, error: ErrorInfo) -> None:
        self.err_console.print(Text.assemble(("isodemo:", "bold red"), " ", error.message))
        if error.hint:
            self.err_console.print(Text.assemble((_("hint:"), "yellow"), " ", error.hint))

    def show_finish(self, report: Report) -> None:
        if report.steps and report.error is None:
            self._print()
            failed = report.failed_claims
            if failed:
                self._print(
                    Text(ngettext("{n} claim did not hold:", "{n} claims did not hold:", len(failed)), style="bold red")
                )
                for claim in failed:
                    self._marked(Text("✗", style="red"), claim.text, style="red")
            elif checked := sum(len(s.claims) for s in report.steps):
                self._print(
                    Text(ngettext("{n} claim observed.", "All {n} claims observed.", checked), style="bold green")
                )
        if report.leftovers:
            self.err_console.print(
                Text(_("isodemo could not remove: {objects}", objects=", ".join(report.leftovers)), style="red")
            )


def make_console(file: IO[str], width: int = 80) -> Console:
    """A console for tests: no colour, fixed width."""
    return Console(file=file, width=width, color_system=None, highlight=False)
