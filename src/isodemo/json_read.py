"""JSON reading for `isodemo run`'s start-up path, without importing the json package.

`json.loads` imports json.decoder, json.scanner and json.encoder, and through them `re` (~1.5 ms before a
container can start: benchmarks/RESULTS.md). The parser itself is C: `_json.make_scanner`, the scanner
json.decoder uses. This module hands it the settings json.loads would (strict, the default hooks) and checks,
as json.loads does, that nothing but whitespace follows the document. Where CPython has no `_json` (another
implementation), json.loads does it. Errors are ValueError, as json.loads raises (JSONDecodeError is one).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

WHITESPACE = " \t\n\r"  # JSON's (RFC 8259 section 2), not Python's str.isspace


class _Settings:
    """What the C scanner reads from its context: json.JSONDecoder's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None  # read by Python 3.15's scanner
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


def _scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - CPython always has it
        return None
    return make_scanner(_Settings())  # type: ignore[arg-type]


_scan = _scanner()


def loads(data: bytes | str) -> Any:
    """The document in `data` (UTF-8 bytes or text), as json.loads reads it."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        raise ValueError(f"no JSON value at character {start}") from None
    if text[end:].strip(WHITESPACE):
        raise ValueError(f"extra data at character {end}")
    return value
