"""The `isodemo` command as setup.sh installs it (src/isodemo/launcher.py), written for a test: the same text
for this interpreter and the isodemo tree under test, in a directory of the test's, run as a learner runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import isodemo
from isodemo import launcher

TREE = str(Path(isodemo.__file__).resolve().parents[1])  # the directory that holds the isodemo under test


def write(directory: Path) -> Path:
    """The launcher at `directory`/isodemo, executable."""
    path = directory / "isodemo"
    path.write_text(launcher.script(sys.executable, TREE))
    path.chmod(0o755)
    return path


def run(command: Path, *args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`command ARGS` with no PYTHONPATH (the launcher names its tree itself), and the modules the isodemo
    process imported, in order (`-X importtime`'s report, which PYTHONPROFILEIMPORTTIME asks for)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    proc = subprocess.run(
        [str(command), *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    report = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    imported = [line.rsplit("|", 1)[1].strip() for line in report if not line.endswith("imported package")]
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    return proc, imported
