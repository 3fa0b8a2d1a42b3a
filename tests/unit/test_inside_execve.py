"""The parts of `isodemo run`'s child side that need no namespace: argv[0] lookup as runc does it, execve's
errors as docker's exit codes, the environment, symlinks resolved inside a root, mount(2) as strace prints it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from isodemo.errors import CannotExecute, CommandNotFound, RunError
from isodemo.inside import execve, rootfs
from isodemo.kernel import mount

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only


@pytest.fixture
def path_dirs(tmp_path: Path) -> Path:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    (tmp_path / "a" / "tool").write_text("not executable\n")  # skipped: no x bit, as Go's LookPath does
    (tmp_path / "b" / "tool").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "b" / "tool", 0o755)
    (tmp_path / "a" / "dir").mkdir(mode=0o755)
    return tmp_path


def test_lookup_takes_the_first_executable_file_on_path(path_dirs: Path) -> None:
    path = f"{path_dirs / 'a'}:{path_dirs / 'b'}"
    assert execve.lookup("tool", path) == str(path_dirs / "b" / "tool")
    with pytest.raises(CommandNotFound) as caught:
        execve.lookup("dir", path)
    assert str(caught.value) == 'exec: "dir": executable file not found in $PATH'
    assert caught.value.exit_code == 127
    with pytest.raises(CommandNotFound):
        execve.lookup("tool", None)  # no PATH: only the working directory, where there is none


def test_lookup_of_a_path_checks_the_file_itself(path_dirs: Path) -> None:
    assert execve.lookup(str(path_dirs / "b" / "tool"), "") == str(path_dirs / "b" / "tool")
    cases = [
        (path_dirs / "nosuch", CommandNotFound, "stat {p}: no such file or directory"),
        (path_dirs / "a" / "tool" / "x", CommandNotFound, "stat {p}: no such file or directory"),
        (path_dirs / "a" / "tool", CannotExecute, "permission denied"),
        (path_dirs / "a" / "dir", CannotExecute, "is a directory"),
    ]
    for path, error, says in cases:
        with pytest.raises(error) as caught:
            execve.lookup(str(path), "/bin")
        assert str(caught.value) == f'exec: "{path}": ' + says.format(p=path)


@pytest.mark.parametrize(
    ("code", "error", "exit_code"),
    [
        (errno.ENOENT, CommandNotFound, 127),
        (errno.ENOEXEC, CannotExecute, 126),
        (errno.EACCES, CannotExecute, 126),
        (errno.ETXTBSY, CannotExecute, 126),
        (errno.E2BIG, RunError, 125),
    ],
)
def test_execve_errors_are_dockers_exit_codes(code: int, error: type[RunError], exit_code: int) -> None:
    found = execve.exec_error("/bin/x", OSError(code, os.strerror(code)))
    assert type(found) is error
    assert found.exit_code == exit_code
    assert str(found).startswith("exec /bin/x: ")


def test_the_environment_is_exactly_the_entries_the_last_one_winning() -> None:
    assert execve.environment(("A=1", "B=x=y", "A=2", "NOVALUE", "=bad", "E=")) == {"A": "2", "B": "x=y", "E": ""}


def test_resolve_in_root_follows_links_as_the_container_would(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    os.symlink("/a", root / "abs")
    os.symlink("../../../..", root / "a" / "up")
    os.symlink("loop", root / "loop")
    os.symlink(str(tmp_path), root / "host")  # a host path: read as a path inside the root
    assert rootfs.resolve_in_root(str(root), "/abs/b/new") == str(root / "a" / "b" / "new")
    assert rootfs.resolve_in_root(str(root), "/a/up/etc") == str(root / "etc")
    assert rootfs.resolve_in_root(str(root), "../../x") == str(root / "x")
    assert rootfs.resolve_in_root(str(root), "/host/x") == str(root) + str(tmp_path / "x")
    with pytest.raises(OSError) as caught:
        rootfs.resolve_in_root(str(root), "/loop/x")
    assert caught.value.errno == errno.ELOOP


def test_mount_calls_read_as_strace_prints_them() -> None:
    flags = mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC
    assert (
        mount.call_text("proc", "/proc", "proc", flags)
        == 'mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)'
    )
    assert (
        mount.call_text(None, ".", None, mount.MS_REC | mount.MS_SLAVE)
        == 'mount(NULL, ".", NULL, MS_REC|MS_SLAVE, NULL)'
    )
    assert mount.flag_names(0) == "0"
