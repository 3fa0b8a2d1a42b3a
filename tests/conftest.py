"""Shared test helpers: run isodemo as a user does, as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The VM stage runs under software emulation, 10-20x slower: no deadlines, no "too slow" health check.
settings.register_profile("isodemo", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("isodemo")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return parsed


def isodemo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "isodemo", *args]


def run_isodemo(*args: str, timeout: float = 120, **kwargs: Any) -> Result:
    """`env`: variables to add to this process's environment; a value of None removes that variable."""
    merged = {**os.environ, **kwargs.pop("env", {})}
    env = {name: value for name, value in merged.items() if value is not None}
    proc = subprocess.run(
        isodemo_argv(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        **kwargs,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def isodemo() -> Any:
    return run_isodemo


@pytest.fixture
def any_user_env() -> Any:
    """Environment for running isodemo as another user: the checkout may sit where only root can read (/root),
    so PYTHONPATH points at a world-readable copy of src/, which Python searches before the editable install."""
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="any-user-src-")
    shutil.copytree(os.path.join(REPO, "src", "isodemo"), os.path.join(root, "isodemo"))
    for directory, _, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
    yield {**os.environ, "PYTHONPATH": root}
    shutil.rmtree(root)
