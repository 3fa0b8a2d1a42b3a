"""`isodemo escape`'s pure parts: the errno read from a busybox message, the container's script, the results
read back (never through a symlink), and the fork that hands back a probe's answer."""

from __future__ import annotations

import os

import pytest

from isodemo.escape import attempts, disk, policy
from isodemo.escape.attempts import Attempt, errno_in
from isodemo.escape.containers import host_uid_of_root
from isodemo.inside.forked import in_child


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("sh: can't create /proc/sys/kernel/hostname: Read-only file system\n", "EROFS"),
        ("unshare: unshare(0x10000000): Operation not permitted", "EPERM"),
        ("sh: can't kill pid 5725: No such process", "ESRCH"),
        ("dd: can't open '/tmp/disk': Operation not permitted", "EPERM"),
        ("sh: can't create /owned/file: Permission denied", "EACCES"),
        ("0+0 records in\n0+0 records out\ndd: can't open '/x': Read-only file system", "EROFS"),
    ],
)
def test_errno_from_a_strerror_message(message: str, name: str) -> None:
    assert errno_in(message) == name


@pytest.mark.parametrize(
    "message",
    [
        "mount: permission denied (are you root?)",  # busybox's own text: EPERM or EACCES, not told apart
        "sh: can't create /proc/sysrq-trigger: nonexistent directory",  # ash's text for ENOENT or ENOTDIR
        "",
        "Read-only file system",  # not after ": "
        "a: Read-only file system\nb: Permission denied",  # two errnos: none
    ],
)
def test_no_errno_unless_exactly_one_matches(message: str) -> None:
    assert errno_in(message) is None


def test_script_saves_each_attempt_and_the_learner_line_has_none_of_it() -> None:
    tried = [Attempt("a", "kill -0 12"), Attempt("b", "echo x > /owned/file")]
    script = attempts.script(tried)
    assert "( kill -0 12 ) >/results/a.out 2>/results/a.err; echo $? >/results/a.rc" in script.splitlines()
    assert script.splitlines()[0] == "exec >/dev/null 2>&1"  # nothing of it on isodemo's stdout (--json)
    assert len(script.splitlines()) == 3
    line = attempts.learner_line(["--pid host"], tried)
    assert line == "sudo isodemo run --pid host busybox sh -c 'kill -0 12; echo x > /owned/file'"
    with pytest.raises(ValueError):
        Attempt("c", "echo 'quoted'")


def test_results_read_back(tmp_path: object) -> None:
    directory = str(tmp_path)
    for name, rc, out, err in (("ok", "0\n", "escaped\n", ""), ("no", "1\n", "", "sh: x: Read-only file system\n")):
        for suffix, text in (("rc", rc), ("out", out), ("err", err)):
            with open(os.path.join(directory, f"{name}.{suffix}"), "w") as f:
                f.write(text)
    os.symlink("/etc/hostname", os.path.join(directory, "link.out"))
    with open(os.path.join(directory, "link.rc"), "w") as f:
        f.write("0\n")
    tried = [Attempt("ok", "true"), Attempt("no", "false"), Attempt("link", "true"), Attempt("missing", "true")]
    found = attempts.read_results(directory, tried)
    assert found["ok"].ok and found["ok"].shown == "escaped" and found["ok"].errno is None
    assert not found["no"].ok and found["no"].errno == "EROFS"
    assert found["link"].out == ""  # a symlink the container left is never followed
    assert found["missing"].rc is None and found["missing"].shown == "(not run)"


def _answer(value: int) -> dict[str, int]:
    return {"pid_differs": int(os.getpid() != value), "value": value}


def _fails(path: str) -> dict[str, str]:
    open(path).close()
    return {}


def test_in_child_runs_in_another_process_and_returns_errors_as_data() -> None:
    assert in_child(_answer, os.getpid()) == {"pid_differs": 1, "value": os.getpid()}
    failed = in_child(_fails, "/nonexistent/isodemo")
    assert failed["errno"] == "ENOENT"


@pytest.mark.parametrize(
    ("uid_map", "root"),
    [
        ("0 100000 65536", 100000),
        ("0 0 4294967295", 0),
        ("1 200000 10\n0 1000 1", 1000),
        ("1 200000 10", None),  # uid 0 unmapped
        ("", None),
    ],
)
def test_host_uid_of_root_reads_the_uid_map(uid_map: str, root: int | None) -> None:
    assert host_uid_of_root(uid_map) == root


def test_debugfs_listing_names() -> None:
    listing = "/2/040755/0/0/.//\n/2/040755/0/0/..//\n/11/040700/0/0/lost+found//\n/12/100644/0/0/escaped/25/\n\n"
    assert disk.root_names(listing) == {".", "..", "lost+found", "escaped"}
    assert disk.root_names("debugfs 1.47.0 (5-Feb-2023)\n") == set()


@pytest.mark.parametrize(
    ("sysctls", "expected"),
    [
        ({"user.max_user_namespaces": "63000"}, None),
        ({"user.max_user_namespaces": "0"}, ("user.max_user_namespaces", "0", "ENOSPC")),
        ({"kernel.unprivileged_userns_clone": "0"}, ("kernel.unprivileged_userns_clone", "0", "EPERM")),
        ({"kernel.unprivileged_userns_clone": "1"}, None),
        ({"kernel.apparmor_restrict_unprivileged_userns": "1"}, None),  # the namespace is made; caps denied in it
    ],
)
def test_userns_policy_that_refuses_a_root_without_sys_admin(
    sysctls: dict[str, str | None], expected: tuple[str, str, str] | None
) -> None:
    assert policy.refusal(sysctls) == expected


def test_preflight_needs_user_namespaces_for_escape() -> None:
    """The --userns container needs one: user.max_user_namespaces=0 stops escape before it makes anything."""
    from isodemo import catalog, host, preflight

    def lacking(sysctls: dict[str, str | None]) -> list[str]:
        machine = host.Host(linux=True, root=True, kernel="6.8.0", python="3.12", cgroup_mode="v2", controllers=[])
        machine.userns_sysctls = sysctls
        return [item.what for item in preflight.missing(catalog.BY_NAME["escape"], machine)]

    assert any("user.max_user_namespaces is 0" in what for what in lacking({"user.max_user_namespaces": "0"}))
    assert not any("user namespace" in what for what in lacking({"kernel.unprivileged_userns_clone": "0"}))
