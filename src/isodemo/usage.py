"""The top-level help text, built without click so that `isodemo --help` stays fast.

`cli.main` prints it directly for `isodemo`, `isodemo -h` and `isodemo --help`; the click group returns the
same text, so there is one help and it cannot drift. In Korean the rows are padded and wrapped by display
width (a Hangul syllable takes two columns), so that they fit an 80-column terminal.
"""

from __future__ import annotations

from isodemo import catalog
from isodemo.i18n import N_, _

GLOBAL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--plain", N_("No colour or boxes (automatic without a terminal or with NO_COLOR).")),
    ("--color", N_("Colour and boxes even without a terminal.")),
    ("--json", N_("Print one JSON object at the end instead of the narration.")),
    ("--step", N_("Pause after each step until Enter (for teaching live).")),
    ("--hold", N_("Keep everything alive at the end until Enter or a signal.")),
    ("--lang [en|ko]", N_("Language of the narration (facts and JSON keys stay).")),
    ("--version", N_("Show the version and exit.")),
    ("-h, --help", N_("Show this message and exit.")),
)

INTRO = N_("""\
See what a container really is: Linux namespaces and cgroups, created directly
from Python and shown from the host and from inside at the same moment.

Global options work before or after the command: `isodemo --json pid` and
`isodemo pid --json` are the same. Every demo ends by naming the Kubernetes
feature it explains.
""")

EPILOG = N_("""\
Start with `isodemo list`, then `sudo isodemo pid`. `isodemo doctor` tells what
this machine can run. `isodemo COMMAND --help` describes one command.""")

WIDTH = 80  # where a row that is not ASCII wraps (English rows are kept as they always were)


def _rows(rows: list[tuple[str, str]], indent: int = 2) -> list[str]:
    if all(left.isascii() and right.isascii() for left, right in rows):
        width = max(len(left) for left, _right in rows) + 2
        return [" " * indent + left.ljust(width) + right for left, right in rows]
    from isodemo.narrate.width import cells, ljust, wrap

    width = max(cells(left) for left, _right in rows) + 2
    lines = []
    for left, right in rows:
        wrapped = wrap(right, WIDTH - indent - width) or [""]
        lines.append(" " * indent + ljust(left, width) + wrapped[0])
        lines += [" " * (indent + width) + line for line in wrapped[1:]]
    return lines


def top_help() -> str:
    usage = _("Usage:") + " isodemo [OPTIONS] COMMAND [ARGS]..."
    lines = [usage, "", *_(INTRO).splitlines(), "", _("Options") + ":"]
    lines += _rows([(flags, _(text)) for flags, text in GLOBAL_OPTIONS])
    for section, title in catalog.SECTIONS.items():
        entries = [e for e in catalog.ENTRIES if e.section == section]
        lines += ["", _(title) + ":"]
        lines += _rows([(e.name, _(e.summary)) for e in entries])
    lines += ["", *_(EPILOG).splitlines()]
    return "\n".join(lines) + "\n"
