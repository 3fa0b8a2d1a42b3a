"""isodemo.json_read reads what json.loads reads, refuses what it refuses, and imports neither json nor re."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isodemo import json_read

pytestmark = pytest.mark.host_only

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)


@given(DOCUMENTS, st.sampled_from([None, 1, 2]), st.booleans())
def test_reads_what_json_writes(document: object, indent: int | None, as_bytes: bool) -> None:
    text = json.dumps(document, indent=indent, sort_keys=True)
    assert json_read.loads(text.encode() if as_bytes else text) == json.loads(text)


@pytest.mark.parametrize("text", ["", " ", "{", "[1] x", '{"a": 1,}', "{'a': 1}", "[1]]", "01", '"\x01"', "nul"])
def test_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        json_read.loads(text)


def test_constants_and_whitespace_as_json() -> None:
    assert math.isinf(json_read.loads(" \n-Infinity\t"))
    assert json_read.loads('\r\n{"k": [1.5e3, -0]}\n') == {"k": [1500.0, 0]}


def test_imports_neither_json_nor_re() -> None:
    probe = (
        "import sys\nfrom isodemo import json_read\njson_read.loads(b'{\"a\": [1]}')\n"
        "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
