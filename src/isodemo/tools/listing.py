"""`isodemo list`: the demos in learning order, one line each, with what they need."""

from __future__ import annotations

from isodemo import catalog
from isodemo.demos.context import DemoContext
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    rows = []
    for number, entry in enumerate(catalog.demos(), start=1):
        needs = ", ".join(part for part in ("root" if entry.needs_root else "", entry.needs) if part) or "-"
        rows.append([str(number), entry.name, entry.summary, needs, entry.kubernetes])
    narrator.table("isodemo demos, in learning order", ["#", "demo", "what you will see", "needs", "Kubernetes"], rows)
    narrator.fact("demos", [row[1] for row in rows], show=False)
    narrator.note("Run one with `sudo isodemo NAME`; `isodemo doctor` tells what this machine can run.")
