"""Korean at the front: renderers that measure Hangul as two columns, click's own words, --help, and a JSON
object that is the same in both languages."""

from __future__ import annotations

import gettext
import io
import json
import os

import pytest

from isodemo import catalog, cli, i18n
from isodemo.narrate.plain import PlainNarrator
from isodemo.narrate.terminal import TerminalNarrator, make_console
from isodemo.narrate.width import cells, ljust, wrap
from tests.cli_reference import help_of

KOREAN = (
    "새 PID 네임스페이스의 첫 프로세스는 PID 1이 됩니다. 커널은 이 프로세스를 init처럼 다룹니다: "
    "고아 프로세스를 넘겨받아 회수하고, 처리기를 두지 않은 시그널은 무시됩니다. 쿠버네티스의 컨테이너도 "
    "같은 규칙을 따르므로, 컨테이너의 PID 1이 끝나면 컨테이너가 끝납니다."
)


def korean() -> None:
    if not i18n.set_language("ko"):
        pytest.fail("the Korean catalog is not built: python hatch_build.py")


def test_cells_count_hangul_as_two_columns() -> None:
    assert cells("pid") == 3 and cells("한국어") == 6 and cells("셸: ls") == 6
    assert ljust("셸", 4) == "셸  " and cells(ljust("네임스페이스", 14)) == 14
    lines = wrap(KOREAN, 40, "    ")
    assert all(cells(line) <= 40 and line.startswith("    ") for line in lines)
    assert " ".join(line.strip() for line in lines) == " ".join(KOREAN.split())


def test_plain_wraps_and_pads_korean_by_display_width() -> None:
    korean()
    out = io.StringIO()
    narrator = PlainNarrator(out=out, width=80)
    narrator.begin("pid", {"kernel": "6.8.0"})
    narrator.step("새 PID 네임스페이스", syscalls=["unshare(CLONE_NEWPID)"], shell=["unshare --pid --fork sh"])
    narrator.explain(KOREAN)
    narrator.kubernetes(KOREAN)
    narrator.table(
        "표", ["네임스페이스", "pid 42", "PID 1"], [["pid", "같음", "다름"], ["사용자 네임스페이스", "a", "b"]]
    )
    narrator.claim("자식 프로세스는 안에서 PID 1입니다", True)
    narrator.finish()
    lines = out.getvalue().splitlines()
    assert all(cells(line) <= 80 for line in lines), max(lines, key=cells)
    syscall = next(line for line in lines if "unshare(CLONE_NEWPID)" in line)
    shell = next(line for line in lines if "unshare --pid" in line)
    assert cells(syscall[: syscall.index("unshare(")]) == cells(shell[: shell.index("unshare --")])
    rows = [line for line in lines if line.lstrip().startswith(("네임스페이스", "pid ", "사용자"))]
    assert len(rows) == 3
    starts = {cells(row[: row.index(cell)]) for row, cell in zip(rows, ["pid 42", "같음", "a"], strict=True)}
    assert len(starts) == 1, rows  # the second column starts at the same display column in every row


def test_terminal_boxes_fit_80_columns_in_korean() -> None:
    korean()
    out = io.StringIO()
    narrator = TerminalNarrator(console=make_console(out, 80), err_console=make_console(io.StringIO(), 80))
    narrator.begin("pid", {"kernel": "6.8.0"})
    narrator.step("새 PID 네임스페이스", shell=["unshare --pid --fork sh"])
    narrator.compare("getpid()", KOREAN, "1")
    narrator.kubernetes(KOREAN)
    narrator.table("", ["네임스페이스", "pid 42"], [["pid", "같음"]])
    narrator.finish()
    assert all(cells(line) <= 80 for line in out.getvalue().splitlines())


def test_usage_errors_are_korean_and_the_environment_stays(capsys: pytest.CaptureFixture[str]) -> None:
    before = (os.environ.get("LANGUAGE"), gettext.textdomain())
    assert cli.main(["--lang", "ko", "pid", "--bogus"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "사용법: isodemo pid" in err and "오류: '--bogus' 옵션은 없습니다." in err
    assert "No such option" not in err and "Usage:" not in err
    assert (os.environ.get("LANGUAGE"), gettext.textdomain()) == before  # children get the user's environment
    assert cli.main(["--lang", "ko", "inspect"]) == 2
    assert "인수가 빠졌습니다: 'PID'." in capsys.readouterr().err


def test_a_usage_error_with_json_is_the_same_object_in_both_languages(capsys: pytest.CaptureFixture[str]) -> None:
    objects = []
    for language in ("en", "ko"):
        assert cli.main(["--lang", language, "pid", "--bogus", "--json"]) == 2
        out, err = capsys.readouterr()
        assert err == "" and len(out.splitlines()) == 1
        objects.append(json.loads(out))
    english, korean_ = objects
    assert english == korean_
    assert set(english) >= {"schema", "demo", "ok", "error", "host", "steps", "facts", "leftovers"}
    assert english["error"]["kind"] == "UsageError" and english["error"]["exit_code"] == 2


def test_korean_help_fits_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    top = help_of([], "ko")
    assert top.startswith("사용법: isodemo") and "네임스페이스 데모:" in top
    for name in ["", *catalog.names()]:
        text = help_of([name] if name else [], "ko")
        assert "Show this message and exit." not in text, name
        assert all(cells(line) <= 80 for line in text.splitlines()), (name, max(text.splitlines(), key=cells))


def test_lang_before_help_takes_the_fast_path(capsys: pytest.CaptureFixture[str]) -> None:
    from isodemo.usage import top_help

    for args in (["--lang", "ko", "--help"], ["--help", "--lang=ko"], ["-h", "--lang", "ko"]):
        assert cli.main(args) == 0
        korean()
        assert capsys.readouterr().out == top_help()


def test_click_words_are_clicks_own() -> None:
    """The msgids listed for click are the strings click looks up: a click that rewords one fails here."""
    from pathlib import Path

    import click

    from isodemo import click_words

    source = "".join(path.read_text() for path in Path(click.__file__).parent.glob("*.py"))
    for msgid in click_words.CLICK_MESSAGES:
        assert f'"{msgid}"' in source, msgid
