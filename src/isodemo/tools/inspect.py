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
        raise UsageError(f"there is no process with pid {pid}", "list processes with `ps -e`") from None
    except PermissionError as error:
        raise NeedsRoot(
            f"reading /proc/{pid}/ns needs the right to ptrace that process ({error.strerror})",
            f"run: sudo isodemo inspect {pid}",
        ) from None
    except OSError as error:
        if error.errno == errno.ESRCH:
            raise UsageError(f"pid {pid} exited while being inspected") from None
        raise
    reference_name, reference = _reference()
    narrator.step(
        f"Namespaces of pid {pid} ({name}) and of {reference_name}",
        shell=[f"sudo lsns -p {pid}", f"sudo ls -l /proc/{pid}/ns"],
    )
    if reference_name != "PID 1":
        narrator.note(f"PID 1's namespaces cannot be read here, so {reference_name} is the reference.")
    narrator.fact("reference", reference_name, show=False)
    rows, differs = [], []
    for ns, link in links.items():
        same = link == reference[ns]
        if not same:
            differs.append(ns)
        rows.append([ns, link, reference[ns], "same" if same else "DIFFERENT"])
        narrator.fact(f"ns_{ns}", {"pid": link, "reference": reference[ns], "same": same}, show=False)
    narrator.table("", ["namespace", f"pid {pid}", reference_name, ""], rows)
    narrator.fact("different_namespaces", differs, show=False)
    nspid = procfs.nspid(pid)
    narrator.fact("nspid", nspid, show=False)
    narrator.note(
        f"NSpid: {' '.join(map(str, nspid))}"
        + ("  (in a nested pid namespace: outermost pid first, innermost last)" if len(nspid) > 1 else "")
    )

    narrator.step(f"cgroups of pid {pid}", shell=[f"cat /proc/{pid}/cgroup"])
    paths = procfs.cgroup(pid)
    narrator.table("", ["controller", "cgroup"], [[c or "(v2 unified)", p] for c, p in paths.items()])
    narrator.fact("cgroups", paths, show=False)
