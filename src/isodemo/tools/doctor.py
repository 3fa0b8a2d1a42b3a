"""`isodemo doctor`: what this machine supports, with the command that fixes each missing piece."""

from __future__ import annotations

import os
from collections.abc import Callable

from isodemo import host as hostinfo
from isodemo import preflight, userns_policy
from isodemo.context import DemoContext
from isodemo.errors import MissingFeature
from isodemo.kernel import namespaces, timens
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    host = ctx.host
    problems = 0

    def status(label: str, ok: bool | None, detail: str, fix: str | None = None) -> None:
        nonlocal problems
        problems += ok is False
        narrator.status(label, ok, detail, fix if ok is False else None)
        narrator.fact(label.replace(" ", "_").replace("-", "_"), {"ok": ok, "detail": detail}, show=False)

    narrator.step("This machine")
    status("linux", host.linux, f"kernel {host.kernel}", hostinfo.VAGRANT_HINT)
    status(
        "root",
        host.root or None,
        "yes"
        if host.root
        else "no: user, and pid/uts/ipc/mnt/timens in a user namespace, run without sudo; the others need it",
    )
    status("python", True, host.python)

    narrator.step("Namespaces")
    present = namespaces.available_types()
    missing = [n for n in namespaces.NAMESPACE_TYPES if n not in present]
    status(
        "namespaces",
        not missing,
        " ".join(present) + (f"; missing: {' '.join(missing)}" if missing else ""),
        f"time namespaces need Linux {'.'.join(map(str, timens.MIN_KERNEL))} or newer"
        if "time" in missing
        else "a newer kernel",
    )
    if host.linux:
        _user_namespaces(narrator, host, status)

    narrator.step("cgroups")
    status(
        "cgroup mode",
        host.cgroup_mode != "none",
        host.cgroup_mode,
        "mount cgroup2 on /sys/fs/cgroup (systemd does this at boot)",
    )
    wanted = [c if host.cgroup_mode == "v2" else preflight.V1_NAMES.get(c, c) for c in ("memory", "cpu", "pids", "io")]
    absent = [c for c in wanted if c not in host.controllers]
    status(
        "controllers",
        not absent,
        " ".join(host.controllers) + (f"; missing {' '.join(absent)}" if absent else ""),
        "enable them in the parent's cgroup.subtree_control (v2) or mount the v1 hierarchy",
    )

    narrator.step("Tools")
    for tool, package in hostinfo.TOOL_PACKAGES.items():
        path = hostinfo.which(tool)
        detail = path or "not found"
        ok = path is not None
        if tool == "busybox" and path:
            ok = hostinfo.is_static_elf(os.path.realpath(path))
            detail += "" if ok else " (dynamically linked: useless after pivot_root)"
        status(tool, ok, detail, f"sudo apt install {package}")

    narrator.fact("problems", problems, show=False)
    narrator.note(f"{problems} problem(s) found." if problems else "Everything isodemo uses is here.")
    if not host.linux:
        raise MissingFeature("isodemo needs Linux", hostinfo.VAGRANT_HINT)


def _userns_detail(sysctls: dict[str, str | None]) -> str:
    shown = [f"{name}={value}" for name, value in sysctls.items() if value is not None]
    return ", ".join(shown) or "no restricting sysctl present"


def _user_namespaces(narrator: Narrator, host: hostinfo.Host, status: Callable[..., None]) -> None:
    """The policy as the sysctls state it, and what actually happens when an unprivileged user tries."""
    from isodemo import rootless

    narrator.fact("userns_restricted", userns_policy.apparmor_restricts(host.userns_sysctls))
    status("userns policy", None, _userns_detail(host.userns_sysctls))
    me = rootless.unprivileged_identity()
    blocker = rootless.check(me)
    tried = f"tried as uid {me.uid} ({me.name})"
    status(
        "user namespaces",
        blocker is None,
        f"unprivileged: work, {tried}; `isodemo user` and the rootless demos can run"
        if blocker is None
        else f"unprivileged: refused, {tried}: {blocker.explain()}",
        blocker.hint() if blocker else None,
    )
