"""Text measured in terminal cells: Hangul and other wide characters take two columns, not one.

`textwrap` and `str.ljust` count code points, so a Korean paragraph wrapped at 80 code points runs to ~160
columns, and a table padded with ljust loses its alignment. These do the same by display width
(unicodedata.east_asian_width W or F: two cells; combining marks: none), as rich measures it.
"""

from __future__ import annotations

import unicodedata


def cells(text: str) -> int:
    """The columns `text` takes in a terminal."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def ljust(text: str, width: int) -> str:
    """`text` padded with spaces to `width` cells (as str.ljust pads to `width` code points)."""
    return text + " " * max(0, width - cells(text))


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """`text` as lines of at most `width` cells, each starting with `indent`; words stay whole unless one
    alone is wider than a line (then it is cut, as textwrap does with break_long_words)."""
    room = max(1, width - cells(indent))
    lines: list[str] = []
    current = ""
    for whole in text.split():
        word = whole
        while cells(word) > room:  # a word wider than a line: fill the line, carry on with the rest
            if current:
                lines.append(current)
                current = ""
            cut, used = 0, 0
            while cut < len(word) and used + cells(word[cut]) <= room:
                used += cells(word[cut])
                cut += 1
            lines.append(word[: max(cut, 1)])
            word = word[max(cut, 1) :]
        if not word:
            continue
        if not current:
            current = word
        elif cells(current) + 1 + cells(word) <= room:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return [indent + line for line in lines]
