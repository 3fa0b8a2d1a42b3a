"""`isodemo escape`'s pure parts: the errno read from a busybox message, the container's script, the results
read back (never through a symlink), and the fork that hands back a probe's answer."""

from __future__ import annotations

import os

import pytest

from isodemo.escape import attempts
from isodemo.escape.attempts import Attempt, errno_in
from isodemo.inside import chroot_escape as chroot


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
    assert len(script.splitlines()) == 2
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
    assert chroot.in_child(_answer, os.getpid()) == {"pid_differs": 1, "value": os.getpid()}
    failed = chroot.in_child(_fails, "/nonexistent/isodemo")
    assert failed["errno"] == "ENOENT"
