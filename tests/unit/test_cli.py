"""The command line as a user meets it: help, list, unknown commands, bad values, global options."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from isodemo import catalog, cli, commands
from isodemo.usage import top_help

REPO = Path(__file__).resolve().parents[2]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_fast_help_is_the_click_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"], capsys) == (0, top_help(), "")
    code, via_click, _ = run(["--plain", "--help"], capsys)
    assert code == 0
    assert via_click == top_help()


def test_help_imports_neither_rich_nor_pyroute2_nor_click() -> None:
    probe = (
        "import sys, io, contextlib\nfrom isodemo.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
        "print(sorted(m for m in ('rich', 'pyroute2', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_list_in_plain_and_json_without_rich(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["facts"]["demos"] == [e.name for e in catalog.demos()]
    probe = (
        "import sys\nfrom isodemo.cli import main\nmain(['list', '--plain'])\n"
        "print('rich' in sys.modules, 'pyroute2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"
    assert re.search(r"^1 +pid ", out, re.MULTILINE)


def test_unknown_command_exits_2_with_the_closest_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["pdi"], capsys)
    assert code == 2
    assert "no such command 'pdi'" in err and "Did you mean" in err and "pid" in err.split("Did you mean")[1]
    assert "Traceback" not in err


def test_usage_error_with_json_still_prints_the_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--json", "nosuchdemo"], capsys)
    assert code == 2
    report = json.loads(out)
    assert report["ok"] is False and report["error"]["exit_code"] == 2


def test_bad_option_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["uts", "--hostname", "-bad-"], capsys)
    assert code == 2
    assert "invalid hostname" in err and "web-0" in err


def test_global_options_before_or_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    before = json.loads(run(["--json", "list"], capsys)[1])
    after = json.loads(run(["list", "--json"], capsys)[1])
    assert before["facts"] == after["facts"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("isodemo, version ")


def test_every_command_has_help_and_a_catalog_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(commands.COMMANDS) == set(catalog.names())
    for name in catalog.names():
        code, out, _ = run([name, "--help"], capsys)
        assert code == 0 and f"Usage: isodemo {name}" in out and "--json" in out


def test_python_dash_m() -> None:
    proc = subprocess.run([sys.executable, "-m", "isodemo", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout == top_help()


def test_list_in_korean(capsys: pytest.CaptureFixture[str]) -> None:
    """The language choice itself is tested in test_translations.py; here, that the command line applies it."""
    code, out, _ = run(["list", "--plain", "--lang", "ko"], capsys)
    assert code == 0 and re.search("[\uac00-\ud7a3]", out) and re.search(r"^1 +pid ", out, re.MULTILINE)


def test_no_demo_but_net_imports_pyroute2() -> None:
    """pyroute2 costs ~300 ms: only the network demo may load it. Here: importing every other demo module (as
    its command does) and running the tools that need no root. tests/unit/test_layers.py checks the imports
    statically; tests/root/test_imports.py runs each demo for real."""
    demos = [f"isodemo.demos.{entry.name.replace('-', '_')}" for entry in catalog.demos() if entry.name != "net"]
    probe = (
        "import importlib, io, contextlib, sys\nfrom isodemo.cli import main\n"
        "for name in sys.argv[1:]:\n    importlib.import_module(name)\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    main(['doctor', '--json'])\n    main(['cleanup', '--dry-run', '--json'])\n    main(['list', '--json'])\n"
        "print(sorted(set(sys.modules) & set(sys.argv[1:])), 'pyroute2' in sys.modules)"
    )
    run_probe = [sys.executable, "-c", probe, *demos]
    out = subprocess.run(run_probe, capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{sorted(demos)} False"  # every demo module was loaded, and pyroute2 was not
