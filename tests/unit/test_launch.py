"""`isodemo run` calls the child through inside/launch.py with plain dicts, so that its own process never
imports inside/container.py (benchmarks/RESULTS.md says what that saves). mypy cannot check the dicts' keys
against the classes they become in the child: this does, on container/runtime.py's source."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import isodemo
from isodemo.inside import container, launch
from isodemo.isolated import Isolated

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

RUNTIME = Path(__file__).resolve().parents[2] / "src" / "isodemo" / "container" / "runtime.py"


def _dict_keys(name: str) -> set[str]:
    """The keys of the dict literal that container/runtime.py assigns to `name`."""
    for node in ast.walk(ast.parse(RUNTIME.read_text())):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            return {
                key.value for key in node.value.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)
            }
    raise AssertionError(f"no `{name} = {{...}}` in {RUNTIME}")


@pytest.mark.parametrize(("name", "cls"), [("mounts", container.Mounts), ("process", container.Process)])
def test_what_runtime_sends_is_what_the_child_builds(name: str, cls: type) -> None:
    parameters = inspect.signature(cls).parameters.values()
    fields = {parameter.name for parameter in parameters}
    keys = _dict_keys(name)
    assert keys <= fields, f"{name}: {sorted(keys - fields)} are not fields of {cls.__name__}"
    required = {parameter.name for parameter in parameters if parameter.default is inspect.Parameter.empty}
    assert required <= keys


def test_the_modules_the_helper_preloads_exist() -> None:
    for module in launch.MODULES:
        importlib.import_module(module)


def test_a_helper_that_becomes_another_user_imports_nothing_after_the_fork() -> None:
    with pytest.raises(ValueError, match="preload"):
        Isolated(["uts"], as_user=(65534, 65534), preload=launch.MODULES)


# What the Isolated helper must not import with launch.MODULES: the preload is on the path of every container
# start (benchmarks/RESULTS.md: dataclasses with inspect, and typing, were ~9 of its 10-16 ms).
PRELOAD_NEVER_IMPORTS = (
    "dataclasses",
    "typing",
    "inspect",
    "socket",
    "selectors",
    "signal",
    "enum",
    "contextlib",  # isodemo.contexts: contextlib brings collections and functools
    "collections",  # kernel/devices.py's Device is a tuple class of its own
    "functools",
    "_pickle",  # the channel sends plain data in marshal's format
)


def test_the_preload_imports_neither_dataclasses_nor_typing() -> None:
    """In a fresh interpreter without site (-S: nothing but the interpreter's own modules is loaded before),
    so that a stdlib module importing one of them on the way is caught too."""
    probe = (
        "import sys\nfrom isodemo.inside import launch\nfor name in launch.MODULES:\n    __import__(name)\n"
        "print(*sorted(sys.modules))"
    )
    src = str(Path(isodemo.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = set(proc.stdout.split())
    assert set(launch.MODULES) <= loaded
    assert sorted(name for name in PRELOAD_NEVER_IMPORTS if name in loaded) == []
