"""Generate docs/cli.md from the commands' own --help; tests/unit/test_docs.py fails when it is stale.

python -m tests.cli_reference > docs/cli.md
"""

from __future__ import annotations

import contextlib
import io

from isodemo import catalog, cli


def help_of(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main([*args, "--help"])
    return out.getvalue().rstrip("\n")


def reference() -> str:
    parts = [
        "# isodemo command reference",
        "",
        "Generated from the commands' own `--help` by `python -m tests.cli_reference > docs/cli.md`;",
        "a test fails when this page and the code disagree.",
        "",
        "## isodemo",
        "",
        "```",
        help_of([]),
        "```",
    ]
    for name in catalog.names():
        parts += ["", f"## isodemo {name}", "", "```", help_of([name]), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
