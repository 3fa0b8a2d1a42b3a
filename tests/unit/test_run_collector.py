"""`isodemo run` starts a container with the cycle collector off (cli.main) and turns it back on once the
command runs (container/main.py's _collect_again): only in the `isodemo` process itself."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from isodemo import signals
from isodemo.container import main as run_main


@pytest.fixture
def collector_restored() -> object:
    was = gc.isenabled()
    yield None
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_back_once_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, collector_restored: object
) -> None:
    monkeypatch.setattr(signals._state, "own_process", True)
    gc.disable()
    run_main._collect_again()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what the start made is never scanned again


def test_a_caller_of_cli_main_keeps_its_own_collector(
    monkeypatch: pytest.MonkeyPatch, collector_restored: object
) -> None:
    monkeypatch.setattr(signals._state, "own_process", False)
    gc.disable()
    run_main._collect_again()
    assert not gc.isenabled()


@pytest.mark.parametrize(("args", "enabled"), [(["run", "--help"], False), (["--help"], True)])
def test_only_the_run_command_starts_without_the_collector(args: list[str], enabled: bool) -> None:
    probe = (
        "import gc, sys\nfrom isodemo import cli, signals\n"
        "signals.exit_process = lambda code: None  # stay, to tell\n"
        "cli.main()\nprint(gc.isenabled(), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.stderr.strip().splitlines()[-1] == str(enabled), proc.stderr
