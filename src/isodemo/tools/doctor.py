"""`isodemo doctor`: what this machine supports, with the command that fixes each missing piece."""

from __future__ import annotations

import os
from collections.abc import Callable

from isodemo import host as hostinfo
from isodemo import preflight, userns_policy
from isodemo.context import DemoContext
from isodemo.errors import MissingFeature
from isodemo.i18n import N_, _, ngettext
from isodemo.kernel import namespaces, timens
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    host = ctx.host
    problems = 0

    def status(label: str, ok: bool | None, detail: str, fix: str | None = None) -> None:
        """`label` in English (marked with N_): it names the fact; the learner reads it translated."""
        nonlocal problems
        problems += ok is False
        narrator.status(_(label), ok, detail, fix if ok is False else None)
        narrator.fact(label.replace(" ", "_").replace("-", "_"), {"ok": ok, "detail": detail}, show=False)

    narrator.step(_("This machine"))
    status("linux", host.linux, _("kernel {kernel}", kernel=host.kernel), _(hostinfo.VAGRANT_HINT))
    status(
        "root",
        host.root or None,
        _("yes")
        if host.root
        else _("no: user, and pid/uts/ipc/mnt/timens in a user namespace, run without sudo; the others need it"),
    )
    status("python", True, host.python)

    narrator.step(_("Namespaces"))
    present = namespaces.available_types()
    missing = [n for n in namespaces.NAMESPACE_TYPES if n not in present]
    status(
        N_("namespaces"),
        not missing,
        _("{present}; missing: {missing}", present=" ".join(present), missing=" ".join(missing))
        if missing
        else " ".join(present),
        _("time namespaces need Linux {version} or newer", version=".".join(map(str, timens.MIN_KERNEL)))
        if "time" in missing
        else _("a newer kernel"),
    )
    if host.linux:
        _user_namespaces(narrator, host, status)

    narrator.step("cgroups")
    status(
        N_("cgroup mode"),
        host.cgroup_mode != "none",
        host.cgroup_mode,
        _("mount cgroup2 on /sys/fs/cgroup (systemd does this at boot)"),
    )
    wanted = [c if host.cgroup_mode == "v2" else preflight.V1_NAMES.get(c, c) for c in ("memory", "cpu", "pids", "io")]
    absent = [c for c in wanted if c not in host.controllers]
    status(
        N_("controllers"),
        not absent,
        _("{present}; missing {missing}", present=" ".join(host.controllers), missing=" ".join(absent))
        if absent
        else " ".join(host.controllers),
        _("enable them in the parent's cgroup.subtree_control (v2) or mount the v1 hierarchy"),
    )
    if host.cgroup_mode == "v2" and not host.root:
        _delegation(host, status)

    narrator.step(_("Tools"))
    for tool, package in hostinfo.TOOL_PACKAGES.items():
        path = hostinfo.which(tool)
        detail = path or _("not found")
        ok = path is not None
        if tool == "busybox" and path:
            ok = hostinfo.is_static_elf(os.path.realpath(path))
            if not ok:
                detail = _("{path} (dynamically linked: useless after pivot_root)", path=path)
        status(tool, ok, detail, f"sudo apt install {package}")

    narrator.fact("problems", problems, show=False)
    narrator.note(
        ngettext("{n} problem found.", "{n} problems found.", problems)
        if problems
        else _("Everything isodemo uses is here.")
    )
    if not host.linux:
        raise MissingFeature(_("isodemo needs Linux"), _(hostinfo.VAGRANT_HINT))


def _userns_detail(sysctls: dict[str, str | None]) -> str:
    shown = [f"{name}={value}" for name, value in sysctls.items() if value is not None]
    return ", ".join(shown) or _("no restricting sysctl present")


def _user_namespaces(narrator: Narrator, host: hostinfo.Host, status: Callable[..., None]) -> None:
    """The policy as the sysctls state it, and what actually happens when an unprivileged user tries."""
    from isodemo import rootless

    narrator.fact("userns_restricted", userns_policy.apparmor_restricts(host.userns_sysctls))
    status(N_("userns policy"), None, _userns_detail(host.userns_sysctls))
    me = rootless.unprivileged_identity()
    blocker = rootless.check(me)
    status(
        N_("user namespaces"),
        blocker is None,
        _(
            "unprivileged: work, tried as uid {uid} ({name}); `isodemo user` and the rootless demos can run",
            uid=me.uid,
            name=me.name,
        )
        if blocker is None
        else _(
            "unprivileged: refused, tried as uid {uid} ({name}): {why}", uid=me.uid, name=me.name, why=blocker.explain()
        ),
        blocker.hint() if blocker else None,
    )


def _delegation(host: hostinfo.Host, status: Callable[..., None]) -> None:
    """Not root, on v2: the controllers systemd delegates to this user (user@UID.service's cgroup.controllers),
    and which cgroup demos therefore run without sudo, in a scope isodemo asks the user manager for."""
    from isodemo import catalog
    from isodemo.cgroups import delegation

    holder = delegation.user_manager_cgroup(os.getuid())
    given = delegation.controllers_of(holder)
    demos = [e for e in catalog.ENTRIES if e.section == "cgroups" and e.controllers]
    if not delegation.user_manager_reachable() or not os.path.isdir(holder):
        status(
            N_("delegated controllers"),
            None,
            _(
                "no systemd user manager to ask for a delegated cgroup (no $XDG_RUNTIME_DIR/bus or no {holder}): "
                "the cgroup demos need sudo here; a login session (ssh, a console) has one",
                holder=holder,
            ),
        )
        return
    lacking = sorted(
        {c for e in demos if e.rootless_cgroups for c in e.controllers if c not in given} & set(host.controllers)
    )
    rootless = [e.name for e in demos if e.rootless_cgroups and all(c in given for c in e.controllers)]
    with_sudo = [e.name for e in demos if e.name not in rootless]
    status(
        N_("delegated controllers"),
        not lacking,
        _(
            "{holder} hands on: {given}. Without sudo: {rootless}, each in a scope of its own (isodemo "
            "re-executes itself under systemd-run --user --scope -p Delegate=yes and works in that scope's cgroup). "
            "Only with sudo: {with_sudo}",
            holder=holder,
            given=" ".join(given) or _("none"),
            rootless=", ".join(rootless) or _("none"),
            with_sudo=", ".join(with_sudo) or _("none"),
        ),
        _(
            "{controllers} not delegated: sudo isodemo ...; {fix}",
            controllers=" ".join(lacking),
            fix=delegation.delegate_fix(given, lacking),
        ),
    )
