"""The words isodemo says, in English or Korean: gettext, with English as the source language.

Every sentence a learner reads is written in English in the code and wrapped in `_()` (`ngettext()` where a
count decides the form), with named placeholders filled by keyword, so a translation may put them in any
order: `_("PID {pid} on the host", pid=3238)`. A string defined before the language is known (a module
constant) is marked with `N_()` and translated where it is shown, with `_(CONSTANT)`.

`set_language("ko")` loads the compiled Korean catalog (locale/ko/LC_MESSAGES/isodemo.mo, built from
isodemo.po when the package is built: hatch_build.py); for English nothing is loaded and `_()` only fills
the placeholders. Identifiers never go through `_()`: syscall names, paths, shell commands, JSON keys and
facts are the same in every language, and so is the JSON.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `typing` costs ~7 ms; this module is on the `isodemo --help` path
if TYPE_CHECKING:
    import gettext

DOMAIN = "isodemo"
LANGUAGES = ("en", "ko")
# ISODEMO_LOCALE_DIR: catalogs compiled elsewhere (a translator trying a .po before it is built in).
LOCALE_DIR = os.environ.get("ISODEMO_LOCALE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # in the order gettext looks them up

_state: dict[str, object] = {"language": "en", "catalog": None}


def choose(requested: str | None, environ: dict[str, str] | os._Environ[str]) -> str:
    """--lang wins; otherwise the first locale variable that is set, as gettext looks them up."""
    if requested:
        return requested if requested in LANGUAGES else "en"
    for name in LOCALE_VARIABLES:
        value = environ.get(name)
        if value:
            return "ko" if value.startswith("ko") else "en"
    return "en"


def requested_in(args: list[str]) -> str | None:
    """The value of --lang wherever it stands on the command line (global options go before or after the
    command), read before click parses anything: usage errors and `--help` are spoken in it too."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def set_language(language: str) -> bool:
    """Speak `language` from now on; False when its catalog is not installed (English is spoken then)."""
    _state["language"], _state["catalog"] = "en", None
    if language not in LANGUAGES or language == "en":
        return language == "en"
    import gettext

    try:
        catalog = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except OSError:  # no compiled catalog: a checkout whose package was not built (see hatch_build.py)
        return False
    _state["language"], _state["catalog"] = language, catalog
    return True


def language() -> str:
    return str(_state["language"])


def _(message: str, **values: object) -> str:
    """`message` in the current language, its `{placeholders}` filled from `values`."""
    catalog: gettext.GNUTranslations | None = _state["catalog"]  # type: ignore[assignment]
    text = catalog.gettext(message) if catalog is not None else message
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    """The form for `n` (Korean has one form); `{n}` and the other placeholders filled."""
    catalog: gettext.GNUTranslations | None = _state["catalog"]  # type: ignore[assignment]
    english = singular if n == 1 else plural
    text = catalog.ngettext(singular, plural, n) if catalog is not None else english
    return text.format(n=n, **values)


def N_(message: str) -> str:  # the name gettext's tools look for
    """Mark `message` for translation where it is defined; `_()` translates it where it is shown."""
    return message
