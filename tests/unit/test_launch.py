"""`isodemo run` calls the child through inside/launch.py with plain dicts, so that its own process never
imports inside/container.py (benchmarks/RESULTS.md says what that saves). mypy cannot check the dicts' keys
against the classes they become in the child: this does, on container/runtime.py's source."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from isodemo.inside import container, launch
from isodemo.isolated import Isolated

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
    fields = {field.name for field in dataclasses.fields(cls)}
    keys = _dict_keys(name)
    assert keys <= fields, f"{name}: {sorted(keys - fields)} are not fields of {cls.__name__}"
    required = {f.name for f in dataclasses.fields(cls) if f.default is f.default_factory is dataclasses.MISSING}
    assert required <= keys


def test_the_modules_the_helper_preloads_exist() -> None:
    for module in launch.MODULES:
        importlib.import_module(module)


def test_a_helper_that_becomes_another_user_imports_nothing_after_the_fork() -> None:
    with pytest.raises(ValueError, match="preload"):
        Isolated(["uts"], as_user=(65534, 65534), preload=launch.MODULES)
