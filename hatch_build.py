"""Build step: compile the translations (src/isodemo/locale/*/LC_MESSAGES/isodemo.po) into the .mo files
gettext reads, so every wheel and every editable install carries catalogs made from the .po sources.

Run by hatchling for every build (pyproject.toml, [tool.hatch.build.hooks.custom]); `python hatch_build.py`
does the same in a checkout (tests/run does, so a changed .po is what the tests see).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]

LOCALE = Path("src") / "isodemo" / "locale"


def compile_catalogs(root: Path) -> list[Path]:
    """Write each .po's .mo beside it; returns the .mo files. Fuzzy entries are left out, as msgfmt does."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    made = []
    for po in sorted((root / LOCALE).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        made.append(mo)
    return made


class CompileCatalogs(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        for mo in compile_catalogs(root):
            build_data["artifacts"].append(str(mo.relative_to(root)))  # shipped though git ignores it


if __name__ == "__main__":
    for made in compile_catalogs(Path(__file__).resolve().parent):
        sys.stdout.write(f"compiled {made}\n")
