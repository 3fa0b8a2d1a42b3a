"""Every demo in Korean: the same facts as in English, and no English sentence left in what it prints.

Identifiers are the same in both languages (syscalls, shell lines, paths, fact names and values), so the check
for English prose skips those lines and counts English function words in the rest: a Korean line has none,
a table of `ps` or /proc output has few, an untranslated sentence has many.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from isodemo import catalog
from tests.conftest import run_isodemo
from tests.root.matrix import demo_args

DEMOS = [entry.name for entry in catalog.ENTRIES if entry.is_demo]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
_WORDS = """the a an is are was were be been of to in and or its it with from that this these those by on for not as
has have had no only what which when where than then there their they you your can cannot must does"""
ENGLISH_WORDS = frozenset(_WORDS.split())
IDENTIFIER_LINES = ("syscall:", "shell:", "fact ", "holding: ")


def english_prose(text: str) -> list[str]:
    """Lines that read as English sentences: three or more English function words and no Hangul."""
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(IDENTIFIER_LINES) or HANGUL.search(stripped):
            continue
        words = re.findall(r"[A-Za-z']+", re.sub(r"`[^`]*`|\"[^\"]*\"|\S*[/=_.\d-]\S*", " ", stripped))
        if sum(word.lower() in ENGLISH_WORDS for word in words) >= 3:
            found.append(stripped)
    return found


def test_the_prose_check_can_fail() -> None:
    assert english_prose("    the child is PID 1 inside its own namespace") != []
    assert english_prose("    자식 프로세스는 안에서 PID 1입니다 (the child)") == []
    assert english_prose("    shell:   sudo unshare --pid --fork sh -c 'echo the pid is $$ and it is'") == []
    assert english_prose("        1 isodemo-42ab1c  S  0:00") == []
    assert english_prose("    hello from isodemo-a02d25-a") == []  # a server's reply names the run: data


def _facts(result: Any) -> dict[str, str]:
    """Fact name -> the type of its value: values measured twice differ (pids, times), their kind does not."""
    return {key: type(value).__name__ for key, value in result.json["facts"].items()}


def _syscalls(result: Any) -> list[list[str]]:
    """Each step's syscall names (their arguments name this run's pids, paths and keys)."""
    return [[call.split("(")[0] for call in step["syscalls"]] for step in result.json["steps"]]


@pytest.mark.host_only
@pytest.mark.parametrize("demo", DEMOS)
def test_a_demo_in_korean(demo: str) -> None:
    english = run_isodemo("--json", *demo_args(demo))
    korean = run_isodemo("--json", "--lang", "ko", *demo_args(demo))
    assert english.code == korean.code == 0, english.stderr + korean.stderr
    assert _facts(korean) == _facts(english)
    assert _syscalls(korean) == _syscalls(english)  # identifiers: the same in both languages
    assert korean.json["leftovers"] == []
    plain = run_isodemo("--plain", "--lang", "ko", *demo_args(demo))
    assert plain.code == 0, plain.stderr
    untranslated = english_prose(plain.stdout + plain.stderr)
    assert not untranslated, "English sentences in the Korean narration:\n" + "\n".join(untranslated[:20])
