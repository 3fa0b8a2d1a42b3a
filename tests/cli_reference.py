"""Generate docs/cli.md and docs/ko/cli.md from the commands' own --help; tests/unit/test_docs.py fails when
either is stale.

python -m tests.cli_reference > docs/cli.md
python -m tests.cli_reference ko > docs/ko/cli.md
"""

from __future__ import annotations

import contextlib
import io
import sys

from isodemo import catalog, cli

HEADERS = {
    "en": [
        "# isodemo command reference",
        "",
        "Generated from the commands' own `--help` by `python -m tests.cli_reference > docs/cli.md`;",
        "a test fails when this page and the code disagree.",
    ],
    "ko": [
        "# isodemo 명령 레퍼런스",
        "",
        "각 명령의 `--help`에서 `python -m tests.cli_reference ko > docs/ko/cli.md`로 생성한 페이지입니다.",
        "이 페이지와 코드가 어긋나면 테스트가 실패합니다. 영어판: [../cli.md](../cli.md).",
    ],
}


def help_of(args: list[str], language: str = "en") -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["--lang", language, *args, "--help"])
    return out.getvalue().rstrip("\n")


def reference(language: str = "en") -> str:
    parts = [*HEADERS[language], "", "## isodemo", "", "```", help_of([], language), "```"]
    for name in catalog.names():
        parts += ["", f"## isodemo {name}", "", "```", help_of([name], language), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(reference(sys.argv[1] if len(sys.argv) > 1 else "en"), end="")
