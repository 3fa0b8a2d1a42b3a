"""Narrators: one story, three renderers (terminal via rich, plain text, one JSON object)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # `isodemo --help` imports narrate.output, and with it this package: keep it light
if TYPE_CHECKING:
    from typing import IO

    from isodemo.narrate.base import Narrator


def choose_style(*, json_: bool, plain: bool, color: bool, out: IO[str] | None = None) -> str:
    """`json`, `plain` or `terminal`: plain when asked, or without a terminal, or when NO_COLOR is set."""
    if json_:
        return "json"
    if color:
        return "terminal"
    stream = out if out is not None else sys.stdout
    if plain or os.environ.get("NO_COLOR") or not stream.isatty():
        return "plain"
    return "terminal"


def make_narrator(style: str, *, step_mode: bool = False, force_color: bool = False) -> Narrator:
    """Import only the renderer in use: rich costs ~100 ms and is never loaded for plain or JSON output."""
    if style == "json":
        from isodemo.narrate.jsonout import JsonNarrator

        return JsonNarrator()
    if style == "plain":
        from isodemo.narrate.plain import PlainNarrator

        return PlainNarrator(step_mode=step_mode)
    from isodemo.narrate.terminal import TerminalNarrator

    return TerminalNarrator(step_mode=step_mode, force_color=force_color)
