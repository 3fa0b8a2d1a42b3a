"""`isodemo list`: the demos in learning order, one line each, with what they need."""

from __future__ import annotations

from isodemo import catalog
from isodemo.context import DemoContext
from isodemo.i18n import _
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    rows = []
    for number, entry in enumerate(catalog.demos(), start=1):
        needs = ", ".join(part for part in (_privilege(entry), entry.needs) if part) or "-"
        rows.append([str(number), entry.name, _(entry.summary), needs, _(entry.kubernetes)])
    narrator.table(
        _("isodemo demos, in learning order"),
        ["#", _("demo"), _("what you will see"), _("needs"), _("Kubernetes")],
        rows,
    )
    narrator.fact("demos", [row[1] for row in rows], show=False)
    narrator.note(
        _(
            "Run one with `sudo isodemo NAME`, or `isodemo NAME` for those that need no root or can use a user "
            "namespace; `isodemo doctor` tells what this machine can run."
        )
    )


def _privilege(entry: catalog.Entry) -> str:
    if not entry.needs_root:
        return ""
    if entry.rootless_namespaces:
        return _("root or a user namespace")
    if entry.rootless_cgroups:
        return _("root or a delegated cgroup")
    return _("root")
