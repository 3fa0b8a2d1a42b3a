"""The walkthrough speaks English and Korean alike: demos/walkthrough.d/en and demos/walkthrough.d/ko hold the
same texts, with the same placeholders, and the script uses exactly those texts.

Each file demos/walkthrough.d/LANG/CHAPTER.txt is a list of sections: a line `[name]`, then the text up to the
next such line, trimmed of empty lines at both ends. The script names the text of section `name` in
CHAPTER.txt `CHAPTER.name` (`say pid.tools pid="$PID"`) and reads the files itself (load_texts); the tests
below read them in Python and check that bash reads the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "demos" / "walkthrough"
TEXTS = REPO / "demos" / "walkthrough.d"
LANGUAGES = ("en", "ko")
CHAPTERS = (
    "intro",
    "pid",
    "uts",
    "ipc",
    "mnt",
    "net",
    "user",
    "cgroupns",
    "timens",
    "cgroups",
    "limits",
    "run",
    "container",
    "escape",
    "pod",
    "volume",
    "service",
    "healing",
    "rollout",
    "autoscale",
    "recap",
)
SECTION = re.compile(r"^\[([a-z0-9_]+)\]$")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# the functions that take a text's key, and then NAME=VALUE arguments for its placeholders
CALL = re.compile(r"\b(say|step|note|failed_text|pause|second_terminal|text|die)\s+([a-z]+\.[a-z0-9_]+)(.*)")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def read_texts(language: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted((TEXTS / language).glob("*.txt")):
        key: str | None = None
        lines: list[str] = []
        for line in [*path.read_text(encoding="utf-8").split("\n"), "[end_of_file]"]:
            match = SECTION.match(line)
            if match:
                if key is not None:
                    texts[key] = "\n".join(lines).strip("\n")
                key, lines = f"{path.stem}.{match.group(1)}", []
            elif key is not None:
                lines.append(line)
    return texts


def cells(line: str) -> int:
    """The width of a line in a terminal: Hangul takes two columns."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def script_code() -> list[str]:
    return [line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#")]


EN, KO = read_texts("en"), read_texts("ko")


def test_both_languages_have_the_same_files_and_sections() -> None:
    en_files = sorted(path.name for path in (TEXTS / "en").glob("*.txt"))
    ko_files = sorted(path.name for path in (TEXTS / "ko").glob("*.txt"))
    assert en_files == ko_files
    assert sorted(f"{chapter}.txt" for chapter in CHAPTERS) == sorted(set(en_files) - {"common.txt"})
    missing_ko = sorted(set(EN) - set(KO))
    missing_en = sorted(set(KO) - set(EN))
    assert not missing_ko, f"English texts with no Korean text in demos/walkthrough.d/ko: {missing_ko}"
    assert not missing_en, f"Korean texts with no English text in demos/walkthrough.d/en: {missing_en}"


def test_no_text_is_empty() -> None:
    for language, texts in (("en", EN), ("ko", KO)):
        empty = sorted(key for key, text in texts.items() if not text.strip())
        assert not empty, f"empty {language} texts: {empty}"


@pytest.mark.parametrize("key", sorted(EN))
def test_the_same_placeholders_in_both_languages(key: str) -> None:
    assert set(PLACEHOLDER.findall(EN[key])) == set(PLACEHOLDER.findall(KO.get(key, ""))), key


@pytest.mark.parametrize("key", sorted(key for key in EN if key.endswith(".try")))
def test_the_commands_to_try_are_the_same_only_their_comments_are_translated(key: str) -> None:
    def commands(text: str) -> list[str]:
        return [re.split(r"\s+#", line, maxsplit=1)[0].rstrip() for line in text.splitlines()]

    assert commands(EN[key]) == commands(KO[key]), key
    for line in KO[key].splitlines():
        comment = re.split(r"\s+#", line, maxsplit=1)[1:]
        assert not comment or HANGUL.search(comment[0]), f"{key}: an untranslated comment: {line}"


@pytest.mark.parametrize("key", sorted(key for key in KO if not key.endswith(".try")))
def test_korean_texts_are_korean(key: str) -> None:
    assert HANGUL.search(KO[key]), f"ko/{key} has no Korean in it: {KO[key]!r}"
    assert KO[key] != EN[key]


def test_paragraphs_fit_an_80_column_terminal() -> None:
    """Hangul is double-width: the Korean paragraphs are wrapped by cells, not characters."""
    for language, texts in (("en", EN), ("ko", KO)):
        for key, text in texts.items():
            if key.endswith(".try") or key == "common.usage" or "\n" not in text:
                continue  # commands keep their length; one-line texts hold values of any length
            wide = [line for line in text.splitlines() if cells(line) > 80]
            assert not wide, f"{language}/{key}: lines wider than 80 columns: {wide}"


def test_the_script_uses_every_text_and_only_those() -> None:
    code = script_code()
    used = {match.group(2) for line in code for match in CALL.finditer(line)}
    used |= {key for line in code for key in re.findall(r"\b(?:hold|hold_as_user) \S+ \S+ ([a-z]+\.[a-z0-9_]+)", line)}
    used |= {key for line in code for key in re.findall(r"\$\{3:-([a-z]+\.[a-z0-9_]+)\}", line)}
    used |= {f"{chapter}.title" for chapter in CHAPTERS}  # text "$name.title"
    assert sorted(used - set(EN)) == [], "the script uses texts that demos/walkthrough.d/en does not have"
    assert sorted(set(EN) - used) == [], "texts that the script never uses"


def test_every_call_fills_exactly_the_placeholders_of_its_text() -> None:
    for line in script_code():
        for match in CALL.finditer(line):
            key, rest = match.group(2), match.group(3)
            given = set(re.findall(r"(?:^|\s)([a-z_]+)=", rest))
            assert given == set(PLACEHOLDER.findall(EN[key])), f"{key}: {line.strip()}"


def bash(script: str, **env: str) -> str:
    result = subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}"\n{script}'],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        check=True,
    )
    return result.stdout


def test_bash_reads_the_texts_as_python_does() -> None:
    dump = 'load_texts\nfor key in "${!TEXTS[@]}"; do printf "%s\\0%s\\0" "$key" "${TEXTS[$key]}"; done'
    fields = bash(dump).split("\0")[:-1]
    read = dict(zip(fields[::2], fields[1::2], strict=True))
    assert read == {
        f"{language}:{key}": text for language, texts in (("en", EN), ("ko", KO)) for key, text in texts.items()
    }


def test_text_fills_placeholders_in_the_chosen_language() -> None:
    out = bash('load_texts\nchoose_language --lang ko\ntext pid.tools pid=4242\nprintf "%s|%s" "$TEXT" "${#FAILED[@]}"')
    text, failures = out.rsplit("|", 1)
    assert text == KO["pid.tools"].replace("{pid}", "4242") and failures == "0"


def test_a_missing_korean_text_is_said_in_english_marked_and_counted(tmp_path: Path) -> None:
    copy = tmp_path / "walkthrough.d"
    shutil.copytree(TEXTS, copy)
    pid = copy / "ko" / "pid.txt"
    pid.write_text(re.sub(r"\[tools\]\n.*?(?=\n\[)", "", pid.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    out = bash(
        f'TEXT_DIR="{copy}"\nload_texts\nchoose_language --lang ko\nmissing_texts\n'
        'text pid.tools pid=7\nprintf "%s\\n%s\\n" "$TEXT" "${FAILED[*]}"'
    )
    assert out.startswith("pid.tools\n[no ko text: pid.tools] NSpid: 7 on the host")
    assert "no ko text for pid.tools" in out


@pytest.mark.parametrize(
    ("args", "env", "language"),
    [
        (["--lang", "ko"], {}, "ko"),
        (["--lang=ko"], {"LANG": "en_US.UTF-8"}, "ko"),
        ([], {"LANG": "ko_KR.UTF-8"}, "ko"),
        ([], {"LC_MESSAGES": "ko_KR.UTF-8", "LANG": "C"}, "ko"),
        ([], {"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),
        (["--lang", "en"], {"LANG": "ko_KR.UTF-8"}, "en"),
        ([], {}, "en"),
    ],
)
def test_list_and_help_speak_the_chosen_language(args: list[str], env: dict[str, str], language: str) -> None:
    texts = KO if language == "ko" else EN
    run_env = {"PATH": os.environ["PATH"], **env}
    listed = subprocess.run([str(SCRIPT), *args, "--list"], capture_output=True, text=True, env=run_env, check=True)
    assert listed.stdout.splitlines() == [f"{chapter:<8} {texts[f'{chapter}.title']}" for chapter in CHAPTERS]
    helped = subprocess.run([str(SCRIPT), "--help", *args], capture_output=True, text=True, env=run_env, check=True)
    assert helped.stdout == texts["common.usage"].replace("{chapters}", " ".join(CHAPTERS)) + "\n"


def test_an_unknown_language_is_a_usage_error() -> None:
    env = {"PATH": os.environ["PATH"]}
    result = subprocess.run(
        [str(SCRIPT), "--lang", "fr", "--list"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 2 and result.stderr.strip() == EN["common.lang_needs_value"]
