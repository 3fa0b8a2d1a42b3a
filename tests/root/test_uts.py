"""`isodemo uts` as root."""

from __future__ import annotations

import socket

from tests.conftest import run_isodemo


def test_uts_facts() -> None:
    before = socket.gethostname()
    result = run_isodemo("uts", "--json", "--hostname", "web-0")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["hostname_host_before"] == facts["hostname_host_after"] == before
    assert facts["hostname_inside"] == "web-0"
    assert facts["utsns_inode_host"] != facts["utsns_inode_inside"]
    assert socket.gethostname() == before


def test_invalid_hostname_is_a_clean_error() -> None:
    result = run_isodemo("uts", "--plain", "--hostname", "x" * 100)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "invalid hostname" in result.stderr and "web-0" in result.stderr
