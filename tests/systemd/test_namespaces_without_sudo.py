"""The namespace demos as the same logged-in user, no sudo: rootless mode (a user namespace first), and
`isodemo doctor` telling this user what runs without sudo."""

from __future__ import annotations

import pytest

from tests.systemd.session import Session, isodemo


@pytest.mark.parametrize("demo", ["pid", "uts", "ipc", "mnt", "timens", "user"])
def test_namespace_demo_without_sudo(session: Session, demo: str) -> None:
    result = isodemo(demo, "--json")
    assert result.code == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    facts = result.json["facts"]
    if demo != "user":  # `user` is the user namespace itself, rootless by nature
        assert facts["rootless"] is True, facts


def test_doctor_as_this_user(session: Session) -> None:
    result = isodemo("doctor", "--json")
    assert result.code == 0, result.stdout + result.stderr
    facts = result.json["facts"]
    assert facts["cgroup_mode"]["detail"] == "v2"
    assert facts["root"]["ok"] is None  # not root: said, not counted as a problem
    assert facts["problems"] == 0, facts


def test_doctor_says_the_cgroup_demos_run_without_sudo_here(session: Session) -> None:
    result = isodemo("doctor", "--plain")
    said = result.stdout + result.stderr
    assert "cgroup-memory" in said and "Delegate=yes" in said, said
