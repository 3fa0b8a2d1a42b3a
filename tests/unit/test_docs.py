"""The docs stay in step with the code: the CLI reference, a page and a walkthrough chapter per demo."""

from __future__ import annotations

import re
from pathlib import Path

from isodemo import catalog
from tests.cli_reference import reference

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    page = (REPO / "docs" / "cli.md").read_text()
    assert page == reference(), "docs/cli.md is stale: python -m tests.cli_reference > docs/cli.md"


def test_korean_cli_reference_is_current() -> None:
    from isodemo import i18n

    page = (REPO / "docs" / "ko" / "cli.md").read_text()
    try:
        current = reference("ko")
    finally:
        i18n.set_language("en")
    assert page == current, "docs/ko/cli.md is stale: python -m tests.cli_reference ko > docs/ko/cli.md"


def test_every_demo_has_a_docs_page_and_a_walkthrough_chapter() -> None:
    walkthrough = (REPO / "demos" / "walkthrough").read_text()
    index = (REPO / "docs" / "README.md").read_text()
    for entry in catalog.demos():
        assert (REPO / "docs" / f"{entry.name}.md").is_file(), f"docs/{entry.name}.md is missing"
        assert f"{entry.name}.md" in index, f"docs/README.md does not link {entry.name}.md"
        # `isodemo NAME` in a comment or text, or one of the script's ways to run it: run_isodemo NAME,
        # run_isodemo_as_user NAME, run_isodemo_without_sudo_first NAME
        runs = rf"(?:\brun_|\b)isodemo(?:_as_user|_without_sudo_first)? {re.escape(entry.name)}\b"
        assert re.search(runs, walkthrough), f"the walkthrough never runs isodemo {entry.name}"


def test_exit_codes_page_lists_every_code() -> None:
    from isodemo.errors import ExitCode

    page = (REPO / "docs" / "exit-codes.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} " in page or f"| `{int(code)}`" in page, f"exit code {int(code)} is not documented"
