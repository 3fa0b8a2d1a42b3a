"""The narrators: one story rendered as plain text, as rich terminal output, and as one JSON object."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from isodemo.errors import ExitCode, NeedsRoot
from isodemo.narrate import choose_style
from isodemo.narrate.base import MAX_VIEW_LINES, Narrator, view_lines
from isodemo.narrate.jsonout import JsonNarrator
from isodemo.narrate.plain import PlainNarrator
from isodemo.narrate.report import SCHEMA_VERSION
from isodemo.narrate.terminal import TerminalNarrator, make_console

HOST = {"kernel": "6.8.0", "cgroup": "v2", "root": True, "python": "3.12.3"}


def tell(narrator: Narrator, *, holds: bool = True) -> None:
    narrator.begin("pid", HOST)
    narrator.step("A new pid namespace", syscalls=["unshare(CLONE_NEWPID)"], shell=["unshare --pid --fork sh"])
    narrator.explain("The child is PID 1 inside.")
    narrator.compare("getpid()", "4242", "1")
    narrator.fact("host_pid", 4242)
    narrator.fact("inside_pid", 1)
    narrator.claim("the child is PID 1 inside", holds)
    narrator.step("Second step")
    narrator.fact("nspid", [4242, 1])
    narrator.kubernetes("Pods and PID 1.")


def test_plain_renders_every_part() -> None:
    out = io.StringIO()
    narrator = PlainNarrator(out=out)
    tell(narrator)
    narrator.finish()
    text = out.getvalue()
    for expected in (
        "[1] A new pid namespace",
        "syscall: unshare(CLONE_NEWPID)",
        "shell:   unshare --pid",
        "host:",
        "inside:",
        "fact host_pid = 4242",
        "fact nspid = [4242, 1]",
        "✓ the child is PID 1 inside",
        "Kubernetes:",
        "1 claim observed.",
    ):
        assert expected in text
    assert "\x1b[" not in text


def test_terminal_renders_side_by_side_without_a_terminal() -> None:
    out = io.StringIO()
    narrator = TerminalNarrator(console=make_console(out), err_console=make_console(io.StringIO()))
    tell(narrator)
    narrator.finish()
    text = out.getvalue()
    assert "1. A new pid namespace" in text
    header = next(line for line in text.splitlines() if "host" in line and "inside" in line)
    assert header.index("host") < header.index("inside")
    assert "unshare(CLONE_NEWPID)" in text and "Kubernetes" in text and "✓" in text
    assert "\x1b[" not in text


def test_json_is_one_object_with_the_schema() -> None:
    out = io.StringIO()
    narrator = JsonNarrator(out=out)
    tell(narrator)
    narrator.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert set(report) >= {"schema", "demo", "ok", "error", "host", "steps", "facts", "leftovers"}
    assert report["schema"] == SCHEMA_VERSION and report["demo"] == "pid" and report["ok"] is True
    assert report["facts"] == {"host_pid": 4242, "inside_pid": 1, "nspid": [4242, 1]}
    first = report["steps"][0]
    assert first["syscalls"] == ["unshare(CLONE_NEWPID)"]
    assert first["facts"] == {"host_pid": 4242, "inside_pid": 1}
    assert first["claims"] == [{"text": "the child is PID 1 inside", "holds": True}]


def test_a_claim_that_does_not_hold_makes_the_report_not_ok() -> None:
    out = io.StringIO()
    narrator = PlainNarrator(out=out)
    tell(narrator, holds=False)
    report = narrator.finish()
    assert not report.ok
    assert "1 claim did not hold" in out.getvalue()


def test_errors_and_leftovers_reach_the_json() -> None:
    out = io.StringIO()
    narrator = JsonNarrator(out=out)
    narrator.begin("pid", HOST)
    narrator.fail(NeedsRoot("pid needs root", "run: sudo isodemo pid"), ExitCode.NEEDS_ROOT)
    narrator.finish(["directory /tmp/isodemo-abc123-rootfs"])
    report = json.loads(out.getvalue())
    assert report["ok"] is False
    assert report["error"] == {
        "kind": "NeedsRoot",
        "message": "pid needs root",
        "hint": "run: sudo isodemo pid",
        "exit_code": 77,
    }
    assert report["leftovers"] == ["directory /tmp/isodemo-abc123-rootfs"]


def test_plain_errors_go_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    narrator = PlainNarrator(out=out, err=err)
    narrator.fail(NeedsRoot("pid needs root", "run: sudo isodemo pid"), 77)
    assert err.getvalue() == "isodemo: pid needs root\nhint: run: sudo isodemo pid\n"
    assert out.getvalue() == ""


def test_hold_prints_a_json_line_then_waits_for_enter() -> None:
    out = io.StringIO()
    narrator = PlainNarrator(out=out, stdin=io.StringIO("\n"))
    narrator.hold({"pids": {"pid1": 42}, "cgroups": [], "netns": []}, ["sudo lsns -p 42"])
    first = out.getvalue().splitlines()[0]
    assert first.startswith("holding: ")
    assert json.loads(first.removeprefix("holding: ")) == {"pids": {"pid1": 42}, "cgroups": [], "netns": []}
    assert "sudo lsns -p 42" in out.getvalue()


def test_step_mode_pauses_between_steps() -> None:
    out = io.StringIO()
    stdin = io.StringIO("\n\n")
    narrator = PlainNarrator(out=out, stdin=stdin, step_mode=True)
    narrator.step("one")
    narrator.step("two")
    assert "press Enter" in out.getvalue()
    assert stdin.read() == "\n"  # exactly one Enter consumed


def test_style_choice() -> None:
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert choose_style(json_=True, plain=False, color=True, out=tty) == "json"
    assert choose_style(json_=False, plain=False, color=False, out=io.StringIO()) == "plain"
    assert choose_style(json_=False, plain=False, color=True, out=io.StringIO()) == "terminal"
    assert choose_style(json_=False, plain=True, color=False, out=tty) == "plain"


@given(st.lists(st.text(alphabet="abc ", max_size=5), max_size=40))
def test_views_are_cut_to_a_readable_length(lines: list[str]) -> None:
    shown = view_lines(lines)
    assert 1 <= len(shown) <= MAX_VIEW_LINES
    if len(lines) > MAX_VIEW_LINES:
        assert shown[-1] == f"... and {len(lines) - MAX_VIEW_LINES + 1} more"
    elif lines:
        assert shown == lines
