"""Unit tests run in English: a test that speaks Korean (`cli.main([... "--lang", "ko"])` sets the language of
the whole process) must not leave the next test, in whatever order they run, reading Korean messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from isodemo import i18n


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    yield
    i18n.set_language("en")
