"""Every demo that builds no network (all but net and pod), run for real as root, never loads pyroute2
(netlink: ~300 ms of import, and threads).

tests/unit/test_layers.py checks the imports statically; this catches what only a run reaches: an import
inside a function, or one made with importlib (which `python -X importtime` does not list: the demo modules
themselves are loaded that way). The run reports the modules it ended with, as the command line runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from isodemo import catalog
from isodemo.errors import ExitCode
from tests import launcher as installed
from tests.conftest import run_isodemo

# Runs `isodemo ARGS` in this process, then reports which of the watched packages it loaded.
PROBE = (
    "import sys\nfrom isodemo.cli import main\ncode = main(sys.argv[1:])\n"
    "watched = ('isodemo', 'pyroute2', 'rich', 'click')\n"
    "loaded = sorted(m for m in sys.modules if m.split('.')[0] in watched)\n"
    "print('loaded:', *loaded, file=sys.stderr)\nsys.exit(code)"
)
# They wire veths and bridges (pod: the CNI bridge plugin's job; container: run's --network bridge) through
# net/, which speaks netlink.
NETLINK_DEMOS = {"net", "pod", "container"}
# Their claims are measured rates: under load they may not hold (exit 1), and the run still went to its end.
MEASURED = {"cgroup-cpu", "cgroup-io", "autoscale", "healing"}  # autoscale: CPU use; healing: back-off timing


@pytest.mark.host_only
@pytest.mark.parametrize("name", [entry.name for entry in catalog.demos() if entry.name not in NETLINK_DEMOS])
def test_a_demo_run_never_loads_pyroute2(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "--json", name],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode == ExitCode.MISSING_FEATURE:
        pytest.skip(f"this machine cannot run {name}: {proc.stderr.strip()[-200:]}")
    accepted = {ExitCode.OK, ExitCode.OBSERVATION_FAILED} if name in MEASURED else {ExitCode.OK}
    assert proc.returncode in accepted, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("loaded: ")]
    assert lines, proc.stderr[-2000:]
    loaded = lines[-1].split()[1:]
    assert f"isodemo.demos.{name.replace('-', '_')}" in loaded  # the demo itself ran in this process
    assert not [m for m in loaded if m.split(".")[0] == "pyroute2"]


# What `isodemo run busybox true` must never import in the isodemo process: the frameworks (click, rich,
# pyroute2, psutil), what only other commands need (tarfile: importing an image; argparse), and what was
# taken off its start-up path to make a container start fast (benchmarks/RESULTS.md says what each costs).
# The child side (inside/) is imported by the Isolated helper, never by the isodemo process (inside/launch.py).
RUN_NEVER_IMPORTS = (
    "click",
    "rich",
    "pyroute2",
    "psutil",
    "tarfile",
    "argparse",
    "dataclasses",
    "typing",
    "inspect",
    "pathlib",
    "secrets",
    "hashlib",
    "platform",
    "shlex",
    "tempfile",
    "json",  # the image record is read with _json's scanner (isodemo/json_read.py)
    "re",
    "pickle",  # pickle.py would bring re
    "_pickle",  # the channel sends plain data in marshal's format (channel.py); _pickle brings functools
    "contextlib",  # isodemo.contexts: contextlib brings collections and functools (~1.5 ms)
    "functools",
    "collections",
    "socket",  # _socket itself: socket.py brings selectors and four enums
    "selectors",
    "signal",  # _signal itself: signal.py makes three IntEnums at import (isodemo/signals.py)
    "enum",  # ExitCode is plain ints: enum costs ~1.5 ms
    "encodings.ascii",  # an image's ref is decoded by bytes.decode, which needs no codec module
    "isodemo.inside.container",
    "isodemo.inside.rootfs",
    "isodemo.inside.security",
    "isodemo.kernel.seccomp",
    "isodemo.narrate.base",
    "isodemo.leftovers",
    "site",  # the installed command starts Python without site (isodemo/launcher.py), as RUN_PROBE does
    "sitecustomize",
    "_distutils_hack",  # setuptools' distutils-precedence.pth in the venv
    "isodemo.launcher",  # only a command that needs the venv's packages imports it
)
# As the installed command runs it (isodemo/launcher.py): no site, the tree of isodemo on sys.path.
RUN_PROBE = (
    f"import sys\nsys.path.append({installed.TREE!r})\nfrom isodemo.cli import main\ncode = main(sys.argv[1:])\n"
    "print('loaded:', *sorted(sys.modules), file=sys.stderr)\nsys.exit(code)"
)


@pytest.mark.host_only
def test_isodemo_run_imports_only_what_a_container_needs() -> None:
    """The lean start-up path of `isodemo run` (container/main.py): none of RUN_NEVER_IMPORTS is loaded by
    a whole run, start to end (`-X importtime` lists only what the parent imports at its top; this is
    everything). The busybox image is built first: building it is another path (tarfile, hashlib)."""
    assert run_isodemo("run", "busybox", "true").code == 0
    proc = subprocess.run(
        [sys.executable, "-S", "-c", RUN_PROBE, "run", "busybox", "true"],
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("loaded: ")]
    assert lines, proc.stderr[-2000:]
    loaded = set(lines[-1].split()[1:])
    assert "isodemo.container.runtime" in loaded  # the run went through the container runtime, in this process
    assert sorted(name for name in RUN_NEVER_IMPORTS if name in loaded) == []
