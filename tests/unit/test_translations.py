"""Korean stays complete: every sentence isodemo can say has a Korean translation with the same placeholders.

The English strings are taken from the source the way gettext's tools take them (Babel's extractor, keywords
`_`, `N_` and `ngettext`), so a new sentence without a translation fails here on the day it is written.
"""

from __future__ import annotations

import ast
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from isodemo import i18n

SRC = Path(__file__).resolve().parents[2] / "src" / "isodemo"
PO = SRC / "locale" / "ko" / "LC_MESSAGES" / "isodemo.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def _extracted() -> dict[str, list[str]]:
    """msgid -> where it is used ("path:line"); an ngettext pair is keyed by its singular."""
    found: dict[str, list[str]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(SRC), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        key = message[0] if isinstance(message, tuple) else message
        found.setdefault(key, []).append(f"{filename}:{line}")
    return found


def _catalog():  # type: ignore[no-untyped-def]
    with PO.open("rb") as source:
        return read_po(source, locale="ko")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_sentence_has_a_korean_translation() -> None:
    catalog = _catalog()
    missing = []
    for msgid, where in sorted(_extracted().items()):
        entry = catalog.get(msgid)
        translated = entry.string if entry is not None else None
        if isinstance(translated, tuple):
            translated = translated[0]
        if not translated or (entry is not None and entry.fuzzy):
            missing.append(f"{where[0]}: {msgid!r}")
    assert not missing, f"{len(missing)} sentence(s) without a Korean translation:\n" + "\n".join(missing[:40])


def test_placeholders_are_the_same_in_both_languages() -> None:
    wrong = []
    for entry in _catalog():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        expected = set().union(*(_fields(text) for text in ids))
        for text in strings:
            if text and _fields(text) != expected:
                wrong.append(f"{ids[0]!r}: {sorted(_fields(text))} instead of {sorted(expected)}")
    assert not wrong, "\n".join(wrong)


def test_the_catalog_has_no_sentence_the_code_no_longer_says() -> None:
    said = set(_extracted())
    stale = [
        entry.id
        for entry in _catalog()
        if entry.id and (entry.id[0] if isinstance(entry.id, tuple) else entry.id) not in said
    ]
    assert not stale, "translations of sentences no longer in the source (remove them):\n" + "\n".join(map(repr, stale))


def test_only_literal_strings_are_translated() -> None:
    """`_(f"...")` or `_(variable)` hides the sentence from the extractor: it would never be translated.
    `_(NAME)` is allowed for a module constant marked with N_()."""
    wrong = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in KEYWORDS):
                continue
            count = 2 if node.func.id == "ngettext" else 1
            for arg in node.args[:count]:
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                constant = node.func.id == "_" and isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript))
                if not (literal or constant):
                    wrong.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not wrong, "\n".join(wrong)


def _key(value: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)


def test_the_compiled_catalog_is_the_po_file() -> None:
    """What gettext reads says what the .po says: the build (hatch_build.py) compiled it from this .po. Compared
    message by message (the .mo's header carries the time it was compiled)."""
    mo = PO.with_suffix(".mo")
    if not mo.exists():
        pytest.fail(f"{mo} is missing: run `python hatch_build.py` (setup.sh and the package build do)")
    with mo.open("rb") as compiled:
        built = {_key(entry.id): _key(entry.string) for entry in read_mo(compiled) if entry.id}
    wanted = {_key(e.id): _key(e.string) for e in _catalog() if e.id and e.string and not e.fuzzy}
    assert built == wanted, "the .mo is older than the .po: run `python hatch_build.py`"


def test_gettext_s_own_check_passes() -> None:
    """`msgfmt -c` (GNU gettext; setup.sh --dev installs it): the header fields, and no entry flagged as a
    %-format whose translation is not one (isodemo formats with str.format: a "%" in a sentence is a percent)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt is missing: apt install gettext")
    proc = subprocess.run([msgfmt, "-c", "-o", "/dev/null", str(PO)], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr


def test_korean_is_loaded_and_english_needs_nothing() -> None:
    try:
        assert i18n.set_language("ko")
        assert i18n.language() == "ko"
        assert i18n.set_language("en") and i18n.language() == "en"
        assert i18n._("{a} and {b}", a=1, b=2) == "1 and 2"
        assert i18n.ngettext("{n} process", "{n} processes", 2) == "2 processes"
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize(
    ("requested", "environ", "expected"),
    [
        ("ko", {"LANG": "en_US.UTF-8"}, "ko"),
        ("en", {"LC_ALL": "ko_KR.UTF-8"}, "en"),
        (None, {"LC_ALL": "", "LANG": "ko_KR.UTF-8"}, "ko"),
        (None, {"LC_MESSAGES": "C", "LANG": "ko_KR.UTF-8"}, "en"),
        (None, {}, "en"),
    ],
)
def test_language_choice(requested: str | None, environ: dict[str, str], expected: str) -> None:
    assert i18n.choose(requested, environ) == expected


def test_lang_is_found_wherever_it_stands() -> None:
    assert i18n.requested_in(["pid", "--lang", "ko"]) == "ko"
    assert i18n.requested_in(["--lang=ko", "uts"]) == "ko"
    assert i18n.requested_in(["run", "busybox", "--", "--lang", "ko"]) is None
    assert i18n.requested_in(["pid"]) is None


REPO = SRC.parents[1]


@pytest.mark.parametrize(
    "page",
    sorted(
        p.relative_to(REPO).as_posix()
        for p in [REPO / "README.md", REPO / "demos" / "README.md", *REPO.glob("docs/*.md")]
    ),
)
def test_every_page_has_a_korean_page(page: str) -> None:
    """docs/X.md has docs/ko/X.md; a README.md has its README.ko.md beside it; each links to the other."""
    english = REPO / page
    korean = (
        english.with_name("README.ko.md")
        if english.name == "README.md" and english.parent != REPO / "docs"
        else (REPO / "docs" / "ko" / english.name)
    )
    assert korean.exists(), f"{page} has no Korean page {korean.relative_to(REPO)}"
    text = korean.read_text()
    assert re.search("[\uac00-\ud7a3]", text), f"{korean.relative_to(REPO)} has no Korean in it"
    assert korean.name in english.read_text(), f"{page} does not link to its Korean page"
    assert english.name in text, f"{korean.relative_to(REPO)} does not link to its English page"
