"""Every option of every command, fuzzed: no traceback, only documented exit codes, --json always one object.

The command lines are generated from the click command objects themselves (isodemo.commands.COMMANDS), so
a new command or option is fuzzed without touching this file. The demo or tool behind a command never
runs: runner.execute is replaced by a stub that records what the parsers produced, so nothing is created
and no root is needed. A few real subprocess runs check the same at the process boundary.

`isodemo run` is not among them: its words are docker's, read by isodemo.container.argv rather than by click,
and its exit code for a bad one is docker's 125; tests/unit/test_run_argv.py fuzzes that parser.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from typing import Any
from unittest import mock

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isodemo import cli, commands, runner, values
from isodemo.errors import ExitCode

DOCUMENTED = {int(code) for code in ExitCode}
NOT_CLICK = {"run"}  # parsed by isodemo.container.argv (tests/unit/test_run_argv.py)


def clicked() -> list[str]:
    """The commands whose options click parses, by name."""
    return sorted(set(commands.COMMANDS) - NOT_CLICK)  # docs/exit-codes.md lists the same (tests/unit/test_docs.py)


# Values that broke a parser once, or that int() and float() take although the docs do not say so.
EDGES = [
    "",
    " ",
    "0",
    "-1",
    "+5",
    "1_000",
    "1e3",
    "0x10",
    "nan",
    "inf",
    "-inf",
    "9" * 400,
    "9" * 5000,
    "99999999999999999999g",
    "1t",
    "1p",
    "1.5g",
    "2 m",
    "64MiB",
    "١٢",
    "１２",
    "12\n",
    " 12",
    "\udcff",
    "a\udcffb",
    "web-0",
    "-web",
    "x" * 64,
    "x" * 65,
    "10.99.0.0/24",
    "10.99.0.1/24",
    "١٠.99.0.0/24",
    "--json",
    "--help",
    "-",
    "--",
]


def numberlike() -> st.SearchStrategy[str]:
    """Text that looks like the numbers and sizes the options take, near their edges."""
    return st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.integers(min_value=0, max_value=70_000).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{0,12})? ?[bkmgtpBKMGTP]?[iI]?[bB]?\Z"),
        st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=6),
    )


def any_value() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(EDGES),
        numberlike(),
        st.text(max_size=70),
        # What a command-line argument that is not valid UTF-8 becomes in sys.argv.
        st.binary(max_size=20).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
        st.from_regex(r"\A[a-z0-9.-]{1,70}\Z"),
    )


def words_for(param: click.Parameter) -> st.SearchStrategy[list[str]]:
    """The words that give one parameter on a command line, in each form click accepts."""
    if isinstance(param, click.Argument):
        return any_value().map(lambda value: [value])
    assert isinstance(param, click.Option)
    flag = max(param.opts, key=len)
    if param.is_flag:
        return st.just([flag])
    choices = st.sampled_from(list(param.type.choices)) if isinstance(param.type, click.Choice) else st.nothing()
    value = st.one_of(any_value(), choices)
    return st.one_of(
        value.map(lambda v: [flag, v]),
        value.map(lambda v: [f"{flag}={v}"]),
        st.just([flag]),  # the value is missing
    )


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    name = draw(st.sampled_from(clicked()))
    params = [p for p in commands.COMMANDS[name].params if p.name != "help"]
    chosen = draw(st.lists(st.sampled_from(params), max_size=len(params) + 1)) if params else []
    groups = [draw(words_for(param)) for param in chosen]
    groups = draw(st.permutations(groups))
    before = draw(st.lists(st.sampled_from(["--json", "--plain", "--color", "--lang", "ko"]), max_size=2))
    if draw(st.booleans()):
        groups.append(["--json"])
    return [*before, name, *(word for group in groups for word in group)]


class Stub:
    """Stands in for runner.execute: records what the parsers produced, creates nothing."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, name: str, opts: Any, body: Any, **kwargs: Any) -> int:
        self.calls.append({"name": name, "options": kwargs.get("options") or {}})
        return 0


def run_in_process(args: list[str]) -> tuple[int, str, str, Stub]:
    stub = Stub()
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(runner, "execute", stub), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue(), stub


PARSED_TYPES = (int, float, str, bool, type(None), values.subnet("10.99.0.0/24").__class__)


@settings(max_examples=400)
@given(command_lines())
def test_every_option_of_every_command(args: list[str]) -> None:
    code, out, err, stub = run_in_process(args)
    assert code in DOCUMENTED, (args, code)
    assert "Traceback" not in err
    assert code in (0, 2), (args, code, err)  # the body is a stub: only parsing can fail
    if code == 2 and "--json" in args:
        report = json.loads(out)  # exactly one object, nothing before or after it
        assert report["ok"] is False and report["error"]["exit_code"] == 2
        assert report["error"]["kind"] == "UsageError"
    if code == 2 and "--json" not in args:
        assert err.strip() and ("Error" in err or "오류" in err)
    for call in stub.calls:
        for value in call["options"].values():
            assert isinstance(value, PARSED_TYPES), (args, value)


@settings(max_examples=300)
@given(st.sampled_from(clicked()), any_value())
def test_accepted_values_are_ascii(name: str, value: str) -> None:
    """What the docs promise: numbers in digits 0-9, names in ASCII. Anything else is exit 2, never taken."""
    for param in commands.COMMANDS[name].params:
        if isinstance(param, click.Option) and (param.is_flag or isinstance(param.type, click.Choice)):
            continue
        args = [name, value] if isinstance(param, click.Argument) else [name, f"{max(param.opts, key=len)}={value}"]
        code, _, _, stub = run_in_process(args)
        assert code in (0, 2)
        if code == 0 and stub.calls:
            assert value.isascii() and value == value.strip(), (args, stub.calls)


def value_options() -> list[tuple[str, str]]:
    return [
        (name, max(param.opts, key=len))
        for name, command in sorted(commands.COMMANDS.items())
        if name not in NOT_CLICK
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not isinstance(param.type, click.Choice)
    ]


@pytest.mark.parametrize(("name", "flag"), value_options())
@pytest.mark.parametrize("value", ["9" * 400, "١٢", "１２", "1_000", "\udcff"])
def test_known_bad_values_exit_2_with_one_json_object(name: str, flag: str, value: str) -> None:
    code, out, _, stub = run_in_process([name, flag, value, "--json"])
    assert code == 2 and not stub.calls
    report = json.loads(out)
    assert report["error"]["exit_code"] == 2 and flag in report["error"]["message"]


def test_every_value_option_is_checked_by_a_parser() -> None:
    """A new option without a parser would take any text: every value option must run one of values'."""
    for name, flag in value_options():
        option = next(p for p in commands.COMMANDS[name].params if flag in p.opts)
        assert option.callback is not None, f"isodemo {name} {flag} has no parser"
        assert option.metavar, f"isodemo {name} {flag}: give a metavar that names the form (SIZE, N, ...)"


def test_defaults_are_accepted() -> None:
    for name, flag in value_options():
        option = next(p for p in commands.COMMANDS[name].params if flag in p.opts)
        if option.default is not None and option.default is not getattr(click.core, "UNSET", None):  # click 8.3+
            code, _, err, stub = run_in_process([name, flag, str(option.default)])
            assert code == 0 and stub.calls, (name, flag, err)


# -- a few real processes: what a user's shell passes, bytes that are not UTF-8 included ---------------------


def isodemo(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "isodemo", *args],
        capture_output=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["cgroup-memory", "--limit", "9" * 400],
        ["cgroup-memory", "--limit", "99999999999999999999g"],
        ["cgroup-memory", "--limit", "1t"],
        ["cgroup-io", "--limit", "9" * 400],
        ["uts", "--hostname", b"a\xffb"],
        ["net", "--rate", "١٢"],
        ["cgroup-pids", "--limit=１２"],
        ["inspect", "1_0"],
    ],
    ids=lambda args: " ".join(a if isinstance(a, str) else repr(a) for a in args)[:40],
)
def test_edge_values_in_a_real_process(args: list[str | bytes]) -> None:
    plain = isodemo(*args)
    assert plain.returncode == 2, plain.stderr
    assert b"Traceback" not in plain.stderr and b"Error: Invalid value for" in plain.stderr
    with_json = isodemo(*args, "--json")
    assert with_json.returncode == 2 and b"Traceback" not in with_json.stderr
    report = json.loads(with_json.stdout)  # one object, and nothing else on stdout
    assert report["ok"] is False and report["error"]["kind"] == "UsageError"


def test_a_memory_limit_the_machine_cannot_spare_is_refused_with_memavailable() -> None:
    available = values.memory_available()
    if available is None:
        pytest.skip("no MemAvailable in /proc/meminfo here")
    too_much = f"{available // (1 << 20)}m"  # all of it: more than half
    done = isodemo("cgroup-memory", "--limit", too_much, "--json")
    assert done.returncode == 2
    message = json.loads(done.stdout)["error"]["message"]
    assert "MemAvailable" in message and too_much in message


def test_a_parser_bug_is_exit_70_with_its_traceback() -> None:
    """Not a user error: the documented code for isodemo's own bugs, never 1 (which means a claim failed)."""
    with mock.patch.object(values, "port", lambda text: 1 // 0):
        code, _, err, stub = run_in_process(["net", "--port", "8080"])
    assert code == int(ExitCode.INTERNAL) and not stub.calls
    assert "Traceback" in err and "a bug in isodemo: ZeroDivisionError" in err
