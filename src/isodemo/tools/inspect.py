"""`isodemo inspect PID`: a process's namespaces compared with PID 1's, and its cgroups.

Like `lsns -p PID` and `cat /proc/PID/cgroup` together.

PID 1 is the reference because it lives in the host's initial namespaces. Where PID 1's links cannot be
read (isodemo itself runs in a container without CAP_SYS_PTRACE over PID 1), isodemo compares with its
own namespaces instead, and says so.
"""

from __future__ import annotations

import errno
import os

from isodemo.context import DemoContext
from isodemo.errors import NeedsRoot, UsageError
from isodemo.i18n import _
from isodemo.kernel import namespaces, procfs
from isodemo.kernel import process as kprocess
from isodemo.narrate.base import Narrator


def _links(pid: int | str) -> dict[str, str]:
    return {ns: namespaces.ns_link(pid, ns) for ns in namespaces.available_types()}


def _reference() -> tuple[str, dict[str, str]]:
    try:
        return "PID 1", _links(1)
    except PermissionError:
        return f"isodemo (pid {os.getpid()})", _links("self")


def run(narrator: Narrator, ctx: DemoContext) -> None:
    pid = int(ctx.options["pid"])
    try:
        name = kprocess.comm(pid)
        links = _links(pid)
    except FileNotFoundError:
        raise UsageError(_("there is no process with pid {pid}", pid=pid), _("list processes with `ps -e`")) from None
    except PermissionError as error:
        raise NeedsRoot(
            _(
                "reading /proc/{pid}/ns needs the right to ptrace that process ({reason})",
                pid=pid,
                reason=error.strerror,
            ),
            _("run: sudo isodemo inspect {pid}", pid=pid),
        ) from None
    except OSError as error:
        if error.errno == errno.ESRCH:
            raise UsageError(_("pid {pid} exited while being inspected", pid=pid)) from None
        raise
    reference_name, reference = _reference()
    shown_reference = reference_name if reference_name == "PID 1" else _("isodemo (pid {pid})", pid=os.getpid())
    narrator.step(
        _("Namespaces of pid {pid} ({name}) and of {reference}", pid=pid, name=name, reference=shown_reference),
        shell=[f"sudo lsns -p {pid}", f"sudo ls -l /proc/{pid}/ns"],
    )
    if reference_name != "PID 1":
        narrator.note(
            _("PID 1's namespaces cannot be read here, so {reference} is the reference.", reference=shown_reference)
        )
    narrator.fact("reference", reference_name, show=False)
    rows, differs = [], []
    for ns, link in links.items():
        same = link == reference[ns]
        if not same:
            differs.append(ns)
        rows.append([ns, link, reference[ns], _("same") if same else _("DIFFERENT")])
        narrator.fact(f"ns_{ns}", {"pid": link, "reference": reference[ns], "same": same}, show=False)
    narrator.table("", [_("namespace"), f"pid {pid}", shown_reference, ""], rows)
    narrator.fact("different_namespaces", differs, show=False)
    nspid = procfs.nspid(pid)
    narrator.fact("nspid", nspid, show=False)
    pids = " ".join(map(str, nspid))
    narrator.note(
        _("NSpid: {pids}  (in a nested pid namespace: outermost pid first, innermost last)", pids=pids)
        if len(nspid) > 1
        else f"NSpid: {pids}"
    )

    narrator.step(_("cgroups of pid {pid}", pid=pid), shell=[f"cat /proc/{pid}/cgroup"])
    paths = procfs.cgroup(pid)
    narrator.table("", [_("controller"), "cgroup"], [[c or _("(v2 unified)"), p] for c, p in paths.items()])
    narrator.fact("cgroups", paths, show=False)
