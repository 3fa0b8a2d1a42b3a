"""`isodemo inspect PID`: a process's namespaces compared with PID 1's, and its cgroups (lsns + /proc/PID/cgroup)."""

from __future__ import annotations

import errno
from typing import Any

from isodemo.errors import NeedsRoot, UsageError
from isodemo.kernel import namespaces, procfs
from isodemo.kernel import process as kprocess
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: Any) -> None:
    pid = int(ctx.options["pid"])
    try:
        name = kprocess.comm(pid)
    except FileNotFoundError:
        raise UsageError(f"there is no process with pid {pid}", "list processes with `ps -e`") from None
    narrator.step(f"Namespaces of pid {pid} ({name}) and of PID 1",
                  shell=[f"sudo lsns -p {pid}", f"sudo ls -l /proc/{pid}/ns /proc/1/ns"])
    rows = []
    differs = []
    for ns in namespaces.available_types():
        try:
            mine = namespaces.ns_link(pid, ns)
            init = namespaces.ns_link(1, ns)
        except PermissionError as error:
            raise NeedsRoot(f"reading /proc/{pid}/ns needs the right to ptrace it ({error.strerror})",
                            f"run: sudo isodemo inspect {pid}") from None
        except OSError as error:
            if error.errno == errno.ENOENT:
                raise UsageError(f"pid {pid} exited while being inspected") from None
            raise
        same = mine == init
        if not same:
            differs.append(ns)
        rows.append([ns, mine, init, "same" if same else "DIFFERENT"])
        narrator.fact(f"ns_{ns}", {"pid": mine, "pid1": init, "same": same}, show=False)
    narrator.table("", ["namespace", f"pid {pid}", "PID 1", ""], rows)
    narrator.fact("different_namespaces", differs, show=False)
    try:
        nspid = procfs.nspid(pid)
    except (OSError, KeyError):
        nspid = [pid]
    narrator.fact("nspid", nspid, show=False)
    narrator.note(f"NSpid: {' '.join(map(str, nspid))}" + (
        "  (nested pid namespace: host pid first, innermost last)" if len(nspid) > 1 else ""))

    narrator.step(f"cgroups of pid {pid}", shell=[f"cat /proc/{pid}/cgroup"])
    paths = procfs.cgroup(pid)
    narrator.table("", ["controller", "cgroup"], [[c or "(v2 unified)", p] for c, p in paths.items()])
    narrator.fact("cgroups", paths, show=False)
