"""The house plan of docs/architecture.md, checked: who may import what, and where child-side functions live.

Every module of src/isodemo is parsed with `ast` (nothing is imported), including imports inside functions.
Each rule is a function from the parsed tree to a list of violations, so the same rules also run on a small
planted tree (the last tests) to show that each of them can fail.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Modules that talk to the terminal or parse the command line: the only ones that may import rich or click.
FRONT = ("isodemo.cli", "isodemo.commands", "isodemo.runner", "isodemo.usage", "isodemo.__main__", "isodemo.narrate")
HEAVY = ("rich", "click", "pyroute2")
# Where pyroute2 (netlink, ~300 ms to import) may be imported: the network resources and the network side of
# the child. Everything else reaches it through them, and only the net demo does.
NETLINK = ("isodemo.net", "isodemo.inside.net")

# Known departures from the plan, each with who removes it. The test fails when one is no longer needed.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (for `from pkg import name`, pkg.name when that is a module)
    line: int
    at_import_time: bool  # runs when the module is imported: not in a function, not under TYPE_CHECKING
    type_only: bool  # under `if TYPE_CHECKING:`


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: list[Import] = field(default_factory=list)
    bound: dict[str, str] = field(default_factory=dict)  # local name -> "module" or "module:attribute"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


class _Collector(ast.NodeVisitor):
    def __init__(self, module: Module, known: set[str]) -> None:
        self.module = module
        self.known = known
        self.in_function = 0
        self.type_only = 0

    def _add(self, target: str, node: ast.stmt) -> None:
        self.module.imports.append(
            Import(target, node.lineno, not self.in_function and not self.type_only, bool(self.type_only))
        )

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.in_function += 1
        self.generic_visit(node)
        self.in_function -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_only += 1
            for child in node.body:
                self.visit(child)
            self.type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)
            if alias.asname:
                self.module.bound.setdefault(alias.asname, alias.name)
            else:
                self.module.bound.setdefault(alias.name.split(".")[0], alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module.name, self.module.path.name == "__init__.py", node)
        if base == "__future__":
            return
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            target = submodule if submodule in self.known else base
            self._add(target, node)
            local = alias.asname or alias.name
            self.module.bound.setdefault(local, submodule if submodule in self.known else f"{base}:{alias.name}")


def load(src: Path) -> dict[str, Module]:
    """Every module under src/isodemo, with its imports (all of them, also inside functions)."""
    paths = sorted((src / "isodemo").rglob("*.py"))
    names = {}
    for path in paths:
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[path] = ".".join(parts)
    known = set(names.values())
    modules = {}
    for path, name in names.items():
        module = Module(name, path, ast.parse(path.read_text(), str(path)))
        _Collector(module, known).visit(module.tree)
        modules[name] = module
    return modules


def within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


Violation = str


def _where(module: Module, imp: Import) -> str:
    return f"{module.name} (line {imp.line}) imports {imp.target}"


def kernel_imports_nothing_above(modules: dict[str, Module]) -> list[Violation]:
    """kernel/ wraps the kernel: of isodemo it may use only itself, errors and i18n (the words of its errors)."""
    return [
        _where(m, imp) + ": kernel/ may import only kernel/, errors and i18n"
        for m in modules.values()
        if within(m.name, "isodemo.kernel")
        for imp in m.imports
        if within(imp.target, "isodemo") and not within(imp.target, "isodemo.kernel", "isodemo.errors", "isodemo.i18n")
    ]


def inside_imports_only_kernel(modules: dict[str, Module]) -> list[Violation]:
    """inside/ runs in the child: of isodemo it may use only kernel/, errors, i18n, contexts, channel (the wire
    format the child already speaks; --init's PID 1 sends its command's exec error with it) and inside/ itself
    (no resources, no narration)."""
    return [
        _where(m, imp) + ": inside/ may import only kernel/, errors, i18n, contexts, channel and inside/"
        for m in modules.values()
        if within(m.name, "isodemo.inside")
        for imp in m.imports
        if within(imp.target, "isodemo")
        and not within(
            imp.target,
            "isodemo.kernel",
            "isodemo.errors",
            "isodemo.i18n",
            "isodemo.contexts",
            "isodemo.channel",
            "isodemo.inside",
        )
    ]


# The modules every layer may use: they import nothing of isodemo but each other and kernel/.
EVERYWHERE = (
    "isodemo.errors",
    "isodemo.values",
    "isodemo.host",
    "isodemo.userns_policy",
    "isodemo.channel",
    "isodemo.channel_pickle",
    "isodemo.contexts",
    "isodemo.testpoints",
    "isodemo.signals",
    "isodemo.owned",
    "isodemo.i18n",
)


def everywhere_modules_stay_low(modules: dict[str, Module]) -> list[Violation]:
    """What every layer may import must import nothing above kernel/ itself, or the layers would close a loop."""
    return [
        _where(m, imp) + ": a module every layer uses may import only its kind and kernel/"
        for m in modules.values()
        if m.name in EVERYWHERE
        for imp in m.imports
        if within(imp.target, "isodemo")
        and imp.target != "isodemo"
        and not within(imp.target, "isodemo.kernel", *EVERYWHERE)
    ]


def demos_import_no_frameworks(modules: dict[str, Module]) -> list[Violation]:
    """A demo tells a narrator and uses resources: it never imports pyroute2, click or rich itself."""
    return [
        _where(m, imp) + ": a demo must not import " + top(imp.target)
        for m in modules.values()
        if within(m.name, "isodemo.demos", "isodemo.tools")
        for imp in m.imports
        if top(imp.target) in HEAVY
    ]


def only_the_front_imports_rich_or_click(modules: dict[str, Module]) -> list[Violation]:
    """Below narrate/ (resources, inside/, kernel/, demos) nothing imports rich or click."""
    return [
        _where(m, imp) + ": only narrate/ and the command line may import " + top(imp.target)
        for m in modules.values()
        if not within(m.name, *FRONT)
        for imp in m.imports
        if top(imp.target) in ("rich", "click")
    ]


def only_net_imports_pyroute2(modules: dict[str, Module]) -> list[Violation]:
    return [
        _where(m, imp) + ": only net/ and inside/net.py may import pyroute2"
        for m in modules.values()
        if not within(m.name, *NETLINK)
        for imp in m.imports
        if top(imp.target) == "pyroute2"
    ]


def _import_time_closure(modules: dict[str, Module], start: str) -> dict[str, str]:
    """Every module importing `start` loads, with the isodemo module that first imports it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts)):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            parent = ".".join(parts[:depth])
            if parent in modules and parent not in seen:
                seen[parent] = name
                todo.append(parent)
        for imp in modules[name].imports if name in modules else []:
            if imp.at_import_time and imp.target not in seen:
                seen[imp.target] = name
                if imp.target in modules:
                    todo.append(imp.target)
    return seen


def cli_is_light(modules: dict[str, Module]) -> list[Violation]:
    """`isodemo --help` answers from cli.py alone: at import time it loads nothing but the standard library
    and light isodemo modules (no rich, click, pyroute2 or any other third-party package, no demo)."""
    loaded = _import_time_closure(modules, "isodemo.cli")
    return [
        f"importing isodemo.cli loads {name} (imported by {by} at module level)"
        for name, by in sorted(loaded.items())
        if (top(name) != "isodemo" and top(name) not in sys.stdlib_module_names)
        or within(name, "isodemo.demos", "isodemo.tools", "isodemo.narrate", "isodemo.runner")
    ]


def import_cycles(modules: dict[str, Module]) -> list[Violation]:
    """Module-level imports between isodemo modules form no cycle (Tarjan's strongly connected components)."""
    graph = {
        name: sorted({imp.target for imp in m.imports if imp.at_import_time and imp.target in modules} - {name})
        for name, m in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[Violation] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append("import cycle at module level: " + " <-> ".join(sorted(component)))

    for name in graph:
        if name not in index:
            connect(name)
    return cycles


def child_functions_live_inside(modules: dict[str, Module]) -> list[Violation]:
    """What a demo or tool sends into the child with `X.call(fn, ...)` is a function of inside/, a kernel/
    wrapper, or a standard-library call (`os.getpid`): never a resource's or the demo's own function."""
    found = []
    for m in modules.values():
        if not within(m.name, "isodemo.demos", "isodemo.tools", "isodemo.context"):
            continue
        for node in ast.walk(m.tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "call"
                and node.args
            ):
                continue
            fn = node.args[0]
            if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name):
                origin = m.bound.get(fn.value.id, f"{m.name}:{fn.value.id}")
                shown = f"{fn.value.id}.{fn.attr}"
            elif isinstance(fn, ast.Name):
                origin = m.bound.get(fn.id, f"{m.name}:{fn.id}")
                shown = fn.id
            else:
                found.append(f"{m.name} (line {node.lineno}) sends an expression into the child: name a function")
                continue
            home = origin.split(":")[0]
            if within(home, "isodemo.inside", "isodemo.kernel") or (
                top(home) in sys.stdlib_module_names and ":" not in origin
            ):
                continue
            found.append(
                f"{m.name} (line {node.lineno}) sends {shown} (from {home}) into the child: "
                "move it to isodemo/inside/ or call the kernel/ function"
            )
    return found


RULES = [
    kernel_imports_nothing_above,
    inside_imports_only_kernel,
    everywhere_modules_stay_low,
    demos_import_no_frameworks,
    only_the_front_imports_rich_or_click,
    only_net_imports_pyroute2,
    cli_is_light,
    import_cycles,
    child_functions_live_inside,
]


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return load(SRC)


def _known(violations: list[Violation]) -> set[tuple[str, str]]:
    return {key for key in EXCEPTIONS if any(key[0] in v and key[1] in v for v in violations)}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_house_plan(rule: Callable[[dict[str, Module]], list[Violation]], modules: dict[str, Module]) -> None:
    violations = rule(modules)
    known = _known(violations)
    unexpected = [v for v in violations if not any(a in v and b in v for a, b in known)]
    assert unexpected == [], "\n".join(unexpected)


def test_every_exception_is_still_needed(modules: dict[str, Module]) -> None:
    everything = [v for rule in RULES for v in rule(modules)]
    stale = set(EXCEPTIONS) - _known(everything)
    assert not stale, f"these exceptions no longer happen: remove them from EXCEPTIONS: {sorted(stale)}"


def test_the_parser_sees_every_kind_of_import(modules: dict[str, Module]) -> None:
    """Function-level imports are found (cli.py imports click only inside a function)."""
    cli = [imp for imp in modules["isodemo.cli"].imports if imp.target == "click"]
    assert cli and not any(imp.at_import_time for imp in cli)
    assert len(modules) > 60


# -- each rule can fail: the same rules on a planted tree -----------------------------------------------


PLANTED = {
    "isodemo/__init__.py": "",
    "isodemo/errors.py": (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from isodemo.kernel import mount\n"
        "from . import kernel\n"
    ),
    "isodemo/cli.py": "import sys\nfrom isodemo import usage\n",
    "isodemo/signals.py": "from isodemo import errors\n\n\ndef f():\n    from isodemo.demos import uts\n",
    "isodemo/usage.py": "from isodemo.demos import uts\n",
    "isodemo/kernel/__init__.py": "",
    "isodemo/kernel/mount.py": "from isodemo import errors\n\n\ndef f():\n    from isodemo.net import links\n",
    "isodemo/net/__init__.py": "",
    "isodemo/net/links.py": "import pyroute2\nfrom isodemo.inside import files\n",
    "isodemo/inside/__init__.py": "",
    "isodemo/inside/files.py": "from isodemo.kernel import mount\nfrom isodemo.net import links\nimport rich\n",
    "isodemo/demos/__init__.py": "",
    "isodemo/demos/uts.py": (
        "from isodemo.net.links import up\nfrom isodemo.inside import files\nimport os\n\n\n"
        "def helper():\n    pass\n\n\ndef run(box):\n    import pyroute2\n"
        "    box.call(files.ok)\n    box.call(os.getpid)\n    box.call(up)\n    box.call(helper)\n"
    ),
}


def test_each_rule_fails_on_a_planted_violation(tmp_path: Path) -> None:
    for relative, text in PLANTED.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    planted = load(tmp_path)
    errors = planted["isodemo.errors"].imports
    assert [(i.target, i.at_import_time, i.type_only) for i in errors] == [
        ("typing", True, False),
        ("isodemo.kernel.mount", False, True),  # under TYPE_CHECKING: not an import-time edge
        ("isodemo.kernel", True, False),  # relative, resolved
    ]
    found = {rule.__name__: rule(planted) for rule in RULES}
    assert found["kernel_imports_nothing_above"] == [
        "isodemo.kernel.mount (line 5) imports isodemo.net.links: kernel/ may import only kernel/, errors and i18n"
    ]
    assert [v.split(":")[0] for v in found["everywhere_modules_stay_low"]] == [
        "isodemo.signals (line 5) imports isodemo.demos.uts"
    ]
    assert [v.split(":")[0] for v in found["inside_imports_only_kernel"]] == [
        "isodemo.inside.files (line 2) imports isodemo.net.links"
    ]
    assert found["demos_import_no_frameworks"] == [
        "isodemo.demos.uts (line 11) imports pyroute2: a demo must not import pyroute2"
    ]
    assert [v.split(":")[0] for v in found["only_the_front_imports_rich_or_click"]] == [
        "isodemo.inside.files (line 3) imports rich"
    ]
    assert [v.split(":")[0] for v in found["only_net_imports_pyroute2"]] == [
        "isodemo.demos.uts (line 11) imports pyroute2"
    ]
    assert any("loads isodemo.demos.uts" in v for v in found["cli_is_light"])
    assert any("loads pyroute2" in v for v in found["cli_is_light"])
    assert found["import_cycles"] == ["import cycle at module level: isodemo.inside.files <-> isodemo.net.links"]
    assert [v.split(" into")[0] for v in found["child_functions_live_inside"]] == [
        "isodemo.demos.uts (line 14) sends up (from isodemo.net.links)",
        "isodemo.demos.uts (line 15) sends helper (from isodemo.demos.uts)",
    ]
