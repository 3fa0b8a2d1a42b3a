"""The installed `isodemo` command (src/isodemo/launcher.py): Python without site, which the commands that
need the venv's packages run themselves. tests/root/test_launcher.py runs containers through it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from isodemo import launcher
from tests import launcher as installed

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

SITE = ("site", "sitecustomize", "_distutils_hack")  # what Python with site imports at its start


def test_the_launcher_starts_python_without_site_and_names_the_tree() -> None:
    text = launcher.script("/opt/isodemo/venv/bin/python", "/srv/isodemo's src")
    assert text.splitlines()[0] == "#!/opt/isodemo/venv/bin/python -S"
    assert 'sys.path.append("/srv/isodemo\'s src")' in text
    compile(text, "isodemo", "exec")


@pytest.mark.parametrize("python", ["python3", "/opt/my venv/bin/python"])
def test_no_launcher_for_an_interpreter_the_kernel_cannot_find(python: str) -> None:
    with pytest.raises(ValueError, match="absolute interpreter path without blanks"):
        launcher.script(python, "/src")


def test_setup_sh_writes_the_launcher_for_this_interpreter_and_tree(tmp_path: Path) -> None:
    """What `python -m isodemo.launcher` prints (setup.sh's /usr/local/bin/isodemo) is the launcher of the
    isodemo that interpreter imports."""
    env = {**os.environ, "PYTHONPATH": installed.TREE}
    out = subprocess.run(
        [sys.executable, "-m", "isodemo.launcher"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out == launcher.script(sys.executable, installed.TREE)


def test_help_needs_neither_site_nor_the_frameworks(tmp_path: Path) -> None:
    proc, imported = installed.run(installed.write(tmp_path), "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage: isodemo" in proc.stdout
    assert "isodemo.usage" in imported
    frameworks = ("click", "rich", "pyroute2", *SITE)
    assert [name for name in imported if name.split(".")[0] in frameworks] == []


@pytest.mark.parametrize("args", [["list"], ["--version"], ["--json", "list"], ["--color", "list"]])
def test_a_click_command_runs_site_first_and_says_what_the_console_script_says(tmp_path: Path, args: list[str]) -> None:
    proc, imported = installed.run(installed.write(tmp_path), *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert imported.index("site") < imported.index("click")
    if "--color" in args:
        assert "rich" in imported
    console = subprocess.run([sys.executable, "-m", "isodemo", *args], capture_output=True, text=True, check=True)
    assert proc.stdout == console.stdout


def test_a_usage_error_goes_through_click_too(tmp_path: Path) -> None:
    proc, imported = installed.run(installed.write(tmp_path), "no-such-demo")
    assert proc.returncode == 2
    assert "no such command 'no-such-demo'" in proc.stderr
    assert "click" in imported


def test_site_is_added_once_and_brings_the_venvs_packages() -> None:
    """In a process started as the launcher starts one: the venv's site-packages join sys.path after the
    standard library and isodemo's tree (site makes the script's directory, [0], absolute), click can be
    imported, and a second call changes nothing."""
    probe = (
        f"import sys\nsys.path.append({installed.TREE!r})\nfrom isodemo import launcher\n"
        "before = list(sys.path)\nlauncher.add_site_packages()\nafter = list(sys.path)\n"
        "launcher.add_site_packages()\nassert sys.path == after, 'twice'\nimport click\n"
        "assert after[1 : len(before)] == before[1:], after\nprint(*sorted(set(after) - set(before)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any(path.endswith("site-packages") for path in proc.stdout.split())


def test_with_site_already_run_adding_it_changes_nothing() -> None:
    before = list(sys.path)
    launcher.add_site_packages()
    assert sys.path == before
