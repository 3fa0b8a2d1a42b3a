"""The top-level help text, built without click so that `isodemo --help` stays fast.

`cli.main` prints it directly for `isodemo`, `isodemo -h` and `isodemo --help`; the click group returns the
same text, so there is one help and it cannot drift.
"""

from __future__ import annotations

from isodemo import catalog

GLOBAL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--plain", "No colour or boxes (automatic without a terminal or with NO_COLOR)."),
    ("--color", "Colour and boxes even without a terminal."),
    ("--json", "Print one JSON object at the end instead of the narration."),
    ("--step", "Pause after each step until Enter (for teaching live)."),
    ("--hold", "Keep everything alive at the end until Enter or a signal."),
    ("--lang [en|ko]", "Language of the narration (facts and JSON keys stay)."),
    ("--version", "Show the version and exit."),
    ("-h, --help", "Show this message and exit."),
)

INTRO = """\
See what a container really is: Linux namespaces and cgroups, created directly
from Python and shown from the host and from inside at the same moment.

Global options work before or after the command: `isodemo --json pid` and
`isodemo pid --json` are the same. Every demo ends by naming the Kubernetes
feature it explains.
"""

EPILOG = """\
Start with `isodemo list`, then `sudo isodemo pid`. `isodemo doctor` tells what
this machine can run. `isodemo COMMAND --help` describes one command."""


def _rows(rows: list[tuple[str, str]], indent: int = 2) -> list[str]:
    width = max(len(left) for left, _ in rows) + 2
    return [" " * indent + left.ljust(width) + right for left, right in rows]


def top_help() -> str:
    lines = ["Usage: isodemo [OPTIONS] COMMAND [ARGS]...", "", *INTRO.splitlines(), "", "Options:"]
    lines += _rows(list(GLOBAL_OPTIONS))
    for section, title in catalog.SECTIONS.items():
        entries = [e for e in catalog.ENTRIES if e.section == section]
        lines += ["", f"{title}:"]
        lines += _rows([(e.name, e.summary) for e in entries])
    lines += ["", *EPILOG.splitlines()]
    return "\n".join(lines) + "\n"
