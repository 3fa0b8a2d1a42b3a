"""openat2(RESOLVE_IN_ROOT): a container's files read from the host as the container resolves them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from isodemo.kernel import openat2

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (tmp_path / "secret").write_text("host secret\n")
    return root


def test_an_absolute_symlink_resolves_inside_the_root(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "data").mkdir()
    (root / "data" / "passwd").write_text("inside\n")
    (root / "etc" / "passwd").symlink_to("/data/passwd")
    assert openat2.read_regular(str(root), "etc/passwd") == "inside\n"


def test_a_symlink_or_dotdot_never_reaches_a_host_file(tmp_path: Path) -> None:
    root = _root(tmp_path)
    secret = tmp_path / "secret"
    (root / "etc" / "passwd").symlink_to(secret)  # absolute: root/<that path> does not exist
    (root / "etc" / "group").symlink_to("../../secret")  # `..` stops at the root
    assert openat2.read_regular(str(root), "etc/passwd") is None
    assert openat2.read_regular(str(root), "etc/group") is None
    assert openat2.read_regular(str(root), "../secret") is None


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    root = _root(tmp_path)
    os.mkfifo(root / "etc" / "passwd")  # opened for reading, a FIFO would block: it is never opened
    (root / "etc" / "group").mkdir()
    assert openat2.read_regular(str(root), "etc/passwd") is None
    assert openat2.read_regular(str(root), "etc/group") is None


def test_create_file_makes_a_mount_point_only_inside(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert openat2.create_file(str(root), "etc/hostname")
    assert (root / "etc" / "hostname").is_file()
    assert not openat2.create_file(str(root), "etc/hostname")  # there already
    (root / "etc" / "hosts").symlink_to(tmp_path / "made-on-the-host")
    assert not openat2.create_file(str(root), "etc/hosts")
    assert not (tmp_path / "made-on-the-host").exists()


def test_present_sees_what_is_not_a_regular_file(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "etc" / "passwd").symlink_to("/nowhere")  # a dangling link is there all the same
    os.mkfifo(root / "etc" / "group")
    assert openat2.present(str(root), "etc/passwd")
    assert openat2.present(str(root), "etc/group")
    assert not openat2.present(str(root), "etc/shadow")
