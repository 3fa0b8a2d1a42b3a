"""How the Isolated modules depend on each other: checked on their source, so a regression names its line.

- userns_policy is a leaf: of isodemo it imports only errors and host.
- isolated (parent side) and isolated_child (helper and child) never import rootless, which builds on them.
- isolated_child imports everything at its top: after the fork a helper that dropped to nobody may not be
  able to read isodemo's source (tests/root/test_kernel.py checks the same for real).
- Channel messages are named by channel's constants, never spelled out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from isodemo import channel

SRC = Path(__file__).resolve().parents[2] / "src" / "isodemo"
MESSAGES = {channel.CALL, channel.OK, channel.ERROR, channel.PAUSED, channel.GO, channel.STARTED}
STAGES = {channel.PAUSE_BEFORE_UNSHARE, channel.PAUSE_USERNS}


def _tree(module: str) -> ast.Module:
    return ast.parse((SRC / f"{module}.py").read_text())


def _isodemo_imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("isodemo"):
            found |= {
                f"{node.module}.{alias.name}" if node.module == "isodemo" else node.module for alias in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("isodemo")}
    return found


def test_userns_policy_is_a_leaf() -> None:
    assert _isodemo_imports(_tree("userns_policy")) <= {"isodemo.errors", "isodemo.host", "isodemo.i18n"}


@pytest.mark.parametrize("module", ["isolated", "isolated_child"])
def test_isolated_never_imports_rootless(module: str) -> None:
    assert "isodemo.rootless" not in _isodemo_imports(_tree(module))


def test_the_child_side_imports_only_at_its_top() -> None:
    late = [
        f"line {node.lineno}"
        for function in ast.walk(_tree("isolated_child"))
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert late == []


@pytest.mark.parametrize("module", ["isolated", "isolated_child"])
def test_channel_messages_are_named(module: str) -> None:
    spelled = [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(_tree(module))
        if isinstance(node, ast.Constant) and node.value in MESSAGES | STAGES
    ]
    assert spelled == []


def test_message_names_are_distinct() -> None:
    assert len(MESSAGES) == 6 and len(STAGES) == 2
