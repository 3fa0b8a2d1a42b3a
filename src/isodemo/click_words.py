"""click's own words (usage errors, "Usage:", "Options", "Show this message and exit.") in isodemo's language.

click translates with the standard library's global gettext functions: `gettext.gettext()` looks in the
global text domain ("messages" unless set) for the languages named by LANGUAGE, LC_ALL, LC_MESSAGES or LANG.
While the command line is parsed, `speak("ko")` points that global domain at isodemo's catalog and names
the language in LANGUAGE for this process; `quiet()` puts both back before a demo starts, so the processes
a demo runs see the user's environment unchanged. English sets nothing: click's words are English.

The click sentences isodemo can show are listed below with N_() (and ngettext() for the plural ones), so
that the extractor puts them in the catalog and tests/unit/test_translations.py requires a translation.
Their msgids are click's, character for character (click 8.x).
"""

from __future__ import annotations

import gettext
import os

from isodemo import i18n
from isodemo.i18n import N_, ngettext

CLICK_MESSAGES = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Missing command."),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing parameter: {param_name}"),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Option {name!r} does not take a value."),
    N_("default: {default}"),
    N_("%(prog)s, version %(version)s"),
)


def _click_plurals() -> None:  # never called: shows the extractor the plural messages click looks up
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 2)
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 2)
    ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 2)
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 2)


_saved: list[tuple[str, str | None]] = []  # the global domain and LANGUAGE as they were, while speaking


def speak(language: str) -> None:
    """click speaks `language` until quiet(): its gettext calls find isodemo's catalog."""
    if language == "en" or _saved:
        return
    _saved.append((gettext.textdomain(), os.environ.get("LANGUAGE")))
    gettext.bindtextdomain(i18n.DOMAIN, i18n.LOCALE_DIR)
    gettext.textdomain(i18n.DOMAIN)
    os.environ["LANGUAGE"] = language  # gettext.find() reads the language from the environment only


def quiet() -> None:
    """Put the global domain and LANGUAGE back as they were (again: nothing)."""
    if not _saved:
        return
    domain, language = _saved.pop()
    gettext.textdomain(domain)
    if language is None:
        os.environ.pop("LANGUAGE", None)
    else:
        os.environ["LANGUAGE"] = language
