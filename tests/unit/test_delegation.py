"""Delegation without root (issue 17): which cgroup is ours, what systemd-run line reruns isodemo, and what is
said when a controller is not delegated, on a fake cgroup v2 tree (no root, no systemd needed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from isodemo import host
from isodemo.cgroups import delegation
from isodemo.errors import ExitCode, NeedsRoot
from isodemo.tools import doctor

UID = os.getuid()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """/sys/fs/cgroup as a login session on Ubuntu 24.04 has it: the kernel has cpuset cpu io memory pids,
    user@UID.service is given pids memory (its Delegate= lacks cpu here), a scope of the user manager under it."""
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpuset cpu io memory pids\n")
    manager = root / "user.slice" / f"user-{UID}.slice" / f"user@{UID}.service"
    write(manager / "cgroup.controllers", "memory pids\n")
    scope = manager / "app.slice" / "run-r1.scope"
    write(scope / "cgroup.controllers", "memory pids\n")
    write(scope / "cgroup.procs", f"{os.getpid()}\n")
    write(scope / "cgroup.subtree_control", "")
    monkeypatch.setattr(delegation, "CGROUP_ROOT", str(root))
    monkeypatch.delenv(delegation.DELEGATED_ENV, raising=False)
    return root


def scope_of(tree: Path) -> str:
    return str(tree / "user.slice" / f"user-{UID}.slice" / f"user@{UID}.service" / "app.slice" / "run-r1.scope")


def test_a_scope_of_the_user_manager_is_not_delegated_because_it_is_writable(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user owns every cgroup its manager makes, and we are alone in it with nothing enabled: a Delegate=no
    scope looks like ours. Without systemd's marker and without the manager saying Delegate=yes, it is not."""
    monkeypatch.setattr(delegation, "own_cgroup", lambda: scope_of(tree))
    monkeypatch.setattr(delegation, "marked_delegated", lambda path: False)
    monkeypatch.setattr(delegation, "unit_delegated", lambda path: False)
    assert delegation.delegated_cgroup() is None
    monkeypatch.setattr(delegation, "unit_delegated", lambda path: True)  # systemctl --user show: Delegate=yes
    assert delegation.delegated_cgroup() == scope_of(tree)
    monkeypatch.setattr(delegation, "unit_delegated", lambda path: False)
    monkeypatch.setattr(delegation, "marked_delegated", lambda path: True)  # the user.delegate xattr
    assert delegation.delegated_cgroup() == scope_of(tree)


def test_the_scope_isodemo_reran_in_is_ours(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delegation, "own_cgroup", lambda: scope_of(tree))
    monkeypatch.setattr(delegation, "marked_delegated", lambda path: False)
    monkeypatch.setattr(delegation, "unit_delegated", lambda path: False)
    monkeypatch.setenv(delegation.DELEGATED_ENV, "1")
    assert delegation.delegated_cgroup() == scope_of(tree)


def test_a_cgroup_outside_systemd_units_is_ours_when_we_are_alone_in_it(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tree / "lab" / "student"
    write(mine / "cgroup.procs", f"{os.getpid()}\n")
    write(mine / "cgroup.subtree_control", "")
    monkeypatch.setattr(delegation, "own_cgroup", lambda: str(mine))
    assert delegation.delegated_cgroup() == str(mine)
    write(mine / "cgroup.procs", f"{os.getpid()}\n1\n")  # a shell in it too
    assert delegation.delegated_cgroup() is None


def test_the_marker_is_systemds_xattr(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"user.delegate": b"1"}

    def getxattr(path: str, name: str) -> bytes:
        if name in values:
            return values[name]
        raise OSError(61, "No data available")

    monkeypatch.setattr(os, "getxattr", getxattr)
    assert delegation.marked_delegated("/x")
    values.clear()
    assert not delegation.marked_delegated("/x")


def test_unit_delegated_asks_nobody_outside_a_user_manager(tree: Path) -> None:
    assert delegation.manager_cgroup(str(tree / "system.slice" / "a.service")) is None
    assert not delegation.unit_delegated(str(tree / "system.slice" / "a.service"))


def test_the_scope_asks_oom_policy_continue_where_systemd_knows_it(tmp_path: Path) -> None:
    assert delegation.scope_properties(255) == ["-p", "Delegate=yes", "-p", "OOMPolicy=continue"]
    assert delegation.scope_properties(252) == ["-p", "Delegate=yes", "-p", "OOMPolicy=continue"]
    assert delegation.scope_properties(249) == ["-p", "Delegate=yes"]
    assert delegation.scope_properties(0) == ["-p", "Delegate=yes"]
    fake = tmp_path / "systemd-run"
    fake.write_text("#!/bin/sh\necho 'systemd 255 (255.4-1ubuntu8)'\necho '+PAM +AUDIT'\n")
    fake.chmod(stat.S_IRWXU)
    assert delegation.systemd_version(str(fake)) == 255
    fake.write_text("#!/bin/sh\necho nonsense\n")
    assert delegation.systemd_version(str(fake)) == 0
    assert delegation.systemd_version(str(tmp_path / "absent")) == 0


def test_cpu_not_delegated_says_so_and_gives_the_drop_in(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = scope_of(tree)
    assert delegation.undelegated(scope, ["cpu"]) == ["cpu"]
    assert delegation.undelegated(scope, ["memory", "pids"]) == []
    assert delegation.undelegated(scope, ["rdma"]) == []  # the kernel lacks it: preflight says that, not us
    monkeypatch.setattr(delegation, "delegated_cgroup", lambda: scope)
    with pytest.raises(NeedsRoot) as refused:
        delegation.rootless_base("v2", "isodemo cgroup-cpu", ["cpu"])
    error = refused.value
    assert error.exit_code == ExitCode.NEEDS_ROOT
    said = f"{error} {error.hint}"
    assert "cpu cgroup controller is not delegated to you" in said
    assert "no cpu controller" not in said
    assert f"user@{UID}.service" in said and "hands on only: memory pids" in said
    assert "sudo isodemo cgroup-cpu" in said
    assert "Delegate=memory pids cpu" in said
    assert "/etc/systemd/system/user@.service.d/" in said and "systemctl daemon-reload" in said
    assert delegation.rootless_base("v2", "isodemo cgroup-memory", ["memory"]) == scope


def test_cgroup_io_without_root_gives_the_real_reasons(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delegation, "LOOP_CONTROL", str(tree / "no-such-loop-control"))
    error = delegation.needs_root_for("cgroup-io", ("io",), ("loop-device",), "v2", "isodemo cgroup-io")
    said = f"{error} {error.hint}"
    assert error.exit_code == ExitCode.NEEDS_ROOT
    assert "io controller is not delegated to you" in said and "hands on only: memory pids" in said
    assert "loop device" in said
    assert "sudo isodemo cgroup-io" in said
    assert "CAP_SYS_ADMIN" not in said
    on_v1 = delegation.needs_root_for("cgroup-io", ("io",), (), "v1", "isodemo cgroup-io")
    assert "cgroup v1" in str(on_v1)


def a_host() -> host.Host:
    return host.Host(
        linux=True,
        root=False,
        kernel="6.8.0",
        python="3.12",
        cgroup_mode="v2",
        controllers=["cpu", "io", "memory", "pids"],
    )


def doctor_line(monkeypatch: pytest.MonkeyPatch, reachable: bool) -> tuple[str, bool | None, str, str | None]:
    monkeypatch.setattr(delegation, "user_manager_reachable", lambda: reachable)
    said: list[tuple[str, bool | None, str, str | None]] = []
    doctor._delegation(a_host(), lambda label, ok, detail, fix=None: said.append((label, ok, detail, fix)))
    assert len(said) == 1
    return said[0]


def test_doctor_names_what_runs_without_sudo_and_the_delegated_set(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label, ok, detail, fix = doctor_line(monkeypatch, reachable=True)
    assert label == "delegated controllers"
    assert ok is False  # cpu: the kernel has it, user@.service does not hand it on
    assert f"user@{UID}.service hands on: memory pids" in detail
    assert "Without sudo: cgroup-memory, cgroup-pids, each in a scope" in detail
    assert "systemd-run --user --scope -p Delegate=yes" in detail
    assert "Only with sudo: cgroup-cpu, cgroup-io" in detail
    assert fix and "Delegate=memory pids cpu" in fix
    write(tree / "user.slice" / f"user-{UID}.slice" / f"user@{UID}.service" / "cgroup.controllers", "cpu memory pids")
    label, ok, detail, fix = doctor_line(monkeypatch, reachable=True)
    assert ok is True and "sudo: cgroup-memory, cgroup-cpu, cgroup-pids, each" in detail
    assert detail.endswith("Only with sudo: cgroup-io")


def test_doctor_without_a_user_manager(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, ok, detail, _ = doctor_line(monkeypatch, reachable=False)
    assert ok is None and "need sudo" in detail
