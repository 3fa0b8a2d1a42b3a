"""user: root inside a user namespace is an ordinary user outside.

What you will see: an unprivileged process creates a user namespace and is the overflow user there until
its parent writes uid_map, setgroups and gid_map; then it is uid 0 with every capability. Those
capabilities are good for what the new namespace owns (a UTS namespace it makes: its own hostname) and
for nothing of the host's: the host's hostname, a root-only file, root's processes. Files of unmapped
users show as nobody.
Kubernetes: Pods with `hostUsers: false` run their containers' root as an unprivileged range of host ids.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from isodemo import rootless, runs, userns_policy
from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.i18n import _
from isodemo.inside import identity
from isodemo.isolated import Isolated
from isodemo.kernel import capabilities, procfs, userns
from isodemo.kernel import process as kprocess
from isodemo.narrate.base import Narrator

HOSTNAME_INSIDE = "isodemo-userns"
OWNED_BY_ROOT = "/etc/passwd"
ROOT_ONLY_CANDIDATES = ("/etc/shadow", "/etc/gshadow", "/root", "/etc/sudoers")


def run(narrator: Narrator, ctx: DemoContext) -> None:
    me = rootless.unprivileged_identity()
    as_user = (me.uid, me.gid) if me.drop_from_root else None
    policy = ctx.host.userns_sysctls
    narrator.fact("userns_restricted", userns_policy.apparmor_restricts(policy))
    narrator.fact("userns_sysctls", policy, show=False)

    outside, creds_outside = _outside(narrator, ctx, me, as_user)
    uid_outside = creds_outside["uid"]

    narrator.step(
        _("unshare(CLONE_NEWUSER): every capability, and nobody"),
        syscalls=["unshare(CLONE_NEWUSER)"],
        shell=["unshare --user --keep-caps sh -c 'id; grep CapEff /proc/self/status'"],
    )
    narrator.explain(
        _(
            "Any user may create a user namespace (unless a policy forbids it: see the end). The creator gets a "
            "full set of capabilities in it at once, but no identity: until a uid_map is written, its uid is the "
            "overflow uid, /proc/sys/kernel/overflowuid, and a file it creates could belong to no one. (A program "
            "it then execve()s as a non-root uid loses those capabilities; unshare's --keep-caps keeps them.)"
        )
    )
    box = ctx.isolated(["user"], as_user=as_user)
    before = box.user_report
    overflow = userns.overflow_uid()
    narrator.compare(
        _("in the new user namespace, before any map is written"),
        [f"uid {uid_outside}", f"CapEff {creds_outside['capeff']}"],
        [f"uid {before['uid_before_map']}", f"CapEff {before['capeff_before_map']:016x}"],
        host_title=_("outside (uid {uid})", uid=uid_outside),
    )
    narrator.check(
        "uid_before_map",
        before["uid_before_map"],
        _("before the map, the process is the overflow uid {uid}", uid=overflow),
        before["uid_before_map"] == overflow,
        show=True,
    )
    narrator.claim(
        _("it already holds every capability this kernel has (0 to {last})", last=capabilities.last_cap()),
        before["capeff_before_map"] == (1 << (capabilities.last_cap() + 1)) - 1,
    )

    narrator.step(
        _("The parent writes the maps"),
        syscalls=[f"write(/proc/{box.helper_pid}/{name})" for name in ("uid_map", "setgroups", "gid_map")],
        shell=[f"echo '{content}' > {path}" for path, content in box.mapping_written],
    )
    narrator.explain(
        _(
            "A process in the parent user namespace (or the process itself, as `unshare -r` does) writes each "
            "file once. Without CAP_SETUID in the parent namespace, the only "
            "map allowed is one line mapping the writer's own uid: `0 {uid} 1` makes uid 0 inside be "
            "uid {uid} outside, for 1 id. gid_map needs `deny` in setgroups first: otherwise root inside "
            "could drop a supplementary group that a file's permissions deny, and gain access by losing a group. "
            "The maps belong to the namespace: isodemo writes them through pid {helper}, which called "
            "unshare(), and its child, pid {pid}, which answers the questions below, shows the same.",
            uid=uid_outside,
            helper=box.helper_pid,
            pid=box.pid,
        )
    )
    uid_map = narrator.fact("uid_map", userns.read_map(box.pid, "uid_map"))
    narrator.fact("gid_map", userns.read_map(box.pid, "gid_map"))
    narrator.fact("setgroups", userns.read_setgroups(box.pid))
    creds_inside = box.call(identity.credentials)
    narrator.compare(f"cat /proc/{box.pid}/uid_map  |  cat /proc/self/uid_map", [uid_map], [creds_inside["uid_map"]])
    narrator.claim(
        _("uid_map maps uid 0 inside to uid {uid} outside, one id", uid=uid_outside),
        uid_map == f"0 {uid_outside} 1" and creds_inside["uid_map"] == uid_map,
    )
    show_namespace_identity(narrator, box, "user")

    narrator.step(
        _("uid 0 inside, an ordinary user outside"), syscalls=["getuid()"], shell=["id -u", "grep Uid /proc/PID/status"]
    )
    uid_inside = creds_inside["uid"]
    seen_from_host = int(procfs.status(box.pid)["Uid"].split()[0])
    narrator.fact("capabilities_inside", len(creds_inside["capabilities"]))
    narrator.compare(
        _("who the child is"),
        [
            f"/proc/{box.pid}/status Uid: {seen_from_host}",
            _("CapEff {capeff} (as uid {uid})", capeff=creds_outside["capeff"], uid=uid_outside),
        ],
        [f"getuid() = {uid_inside}", f"CapEff {creds_inside['capeff']}: {_caps(creds_inside['capabilities'])}"],
    )
    narrator.check("uid_inside", uid_inside, _("inside, the child is uid 0"), uid_inside == 0, show=True)
    narrator.check(
        "uid_seen_from_host",
        seen_from_host,
        _("the host sees the same process as uid {uid}", uid=uid_outside),
        seen_from_host == uid_outside,
        show=True,
    )
    narrator.claim(_("inside, it has CAP_SYS_ADMIN"), "CAP_SYS_ADMIN" in creds_inside["capabilities"])

    _hostname(narrator, box)
    _files(narrator, ctx, outside, box, uid_outside)
    _limits(narrator, outside, box, me)

    ctx.hold_here(
        narrator,
        {"user": box.pid},
        [
            f"cat /proc/{box.pid}/uid_map /proc/{box.pid}/gid_map",
            f"nsenter -t {box.pid} --user --preserve-credentials id   # as uid {uid_outside}",
        ],
    )
    narrator.kubernetes(
        _(
            "A Pod with `spec.hostUsers: false` gets its own user namespace (stable since Kubernetes 1.36): the "
            "kubelet maps the Pod's ids 0-65535 to a range of 65536 unprivileged host "
            "ids that no other Pod uses. Root in such a container that escapes to the host is a nobody there, as "
            "you just saw. Rootless podman, and rootless Kubernetes (usernetes), start the same way isodemo does "
            "without sudo: a user namespace first, every other namespace owned by it."
        )
    )


def _outside(
    narrator: Narrator, ctx: DemoContext, me: rootless.Identity, as_user: tuple[int, int] | None
) -> tuple[Isolated, dict[str, Any]]:
    policy = ctx.host.userns_sysctls
    narrator.step(_("Who you are outside"), syscalls=["getuid()"], shell=["id", "grep CapEff /proc/self/status"])
    if me.drop_from_root:
        narrator.note(
            _(
                "isodemo runs as root, and root needs no user namespace to be root. The unprivileged part runs "
                "as uid {uid} ({name}; chosen as {why}): isodemo forks, and the child calls "
                "setgroups([]), setgid() and setuid() before anything else.",
                uid=me.uid,
                name=me.name,
                why=_(me.why),
            )
        )
    if me.uid == userns.overflow_uid():
        narrator.note(
            _(
                "nobody's uid, {uid}, is also the overflow uid that unmapped ids show as, so below {uid} can "
                "mean either. To tell them apart, run `isodemo user` as yourself, without sudo.",
                uid=me.uid,
            )
        )
    outside = ctx.isolated([], as_user=as_user)
    creds_outside = outside.call(identity.credentials)
    uid_outside = narrator.fact("uid_outside", creds_outside["uid"])
    narrator.fact("capeff_outside", creds_outside["capeff"])
    narrator.fact("capabilities_outside", creds_outside["capabilities"], show=False)
    narrator.claim(_("outside, uid {uid} has no capabilities", uid=uid_outside), not creds_outside["capabilities"])
    narrator.table(
        _("user-namespace policy (sysctl)"),
        ["sysctl", _("value")],
        [[k, _("(absent)") if v is None else v] for k, v in policy.items()],
    )
    return outside, creds_outside


def _hostname(narrator: Narrator, box: Isolated) -> None:
    narrator.step(
        _("Capabilities count only for what the user namespace owns"),
        syscalls=[
            "sethostname() on the host's UTS namespace",
            "unshare(CLONE_NEWUTS)",
            f'sethostname("{HOSTNAME_INSIDE}")',
        ],
        shell=[
            "unshare --user --map-root-user sh -c 'hostname $(hostname)'",
            f"unshare --user --map-root-user --uts hostname {HOSTNAME_INSIDE}",
        ],
    )
    narrator.explain(
        _(
            "Every namespace is owned by the user namespace that was current when it was made. CAP_SYS_ADMIN "
            "inside counts for namespaces owned by the new user namespace, not for the host's UTS namespace, "
            "which the initial user namespace owns. isodemo asks the host's by setting the hostname to the name it "
            "already has: permission is checked, nothing can change."
        )
    )
    before = kprocess.gethostname()
    on_host_uts = narrator.fact("sethostname_host_uts_inside", box.call(identity.try_sethostname_unchanged))
    narrator.claim(_("in the host's UTS namespace, sethostname() fails with EPERM"), on_host_uts == "EPERM")
    try:
        inside = box.call(identity.own_uts_namespace_hostname, HOSTNAME_INSIDE)
    except PermissionError:  # created, mapped, and still no capabilities: AppArmor's restriction
        raise userns_policy.blocked_at(userns_policy.STEP_CAPABILITIES, errno.EPERM) from None
    after = kprocess.gethostname()
    narrator.compare(_("hostname"), after, inside)
    narrator.fact("hostname_inside", inside)
    narrator.fact("can_sethostname_inside", inside == HOSTNAME_INSIDE)
    narrator.claim(
        _("in a UTS namespace of its own, the hostname is now {name}", name=HOSTNAME_INSIDE),
        inside == HOSTNAME_INSIDE,
    )
    narrator.claim(_("the host's hostname is still {name}", name=before), after == before)


def _files(narrator: Narrator, ctx: DemoContext, outside: Isolated, box: Isolated, uid_outside: int) -> None:
    narrator.step(
        _("Files: unmapped owners are nobody, and root's new files are yours"),
        syscalls=[
            f'newfstatat(AT_FDCWD, "{OWNED_BY_ROOT}", ...)  (stat)',
            "openat(AT_FDCWD, PATH, O_WRONLY|O_CREAT|O_EXCL, 0644)",
        ],
        shell=[f"ls -ln {OWNED_BY_ROOT}", "touch /tmp/FILE; ls -ln /tmp/FILE"],
    )
    narrator.explain(
        _(
            "The kernel stores host uids on disk. Inside, stat() translates them through uid_map; a uid with no "
            "mapping, root's 0 among them, shows as the overflow uid, which /etc/passwd calls nobody."
        )
    )
    owner_outside = outside.call(identity.file_owner, OWNED_BY_ROOT)
    owner_inside = box.call(identity.file_owner, OWNED_BY_ROOT)
    narrator.compare(
        _("owner of {path}", path=OWNED_BY_ROOT),
        f"{owner_outside['uid']} ({owner_outside['name']})",
        f"{owner_inside['uid']} ({owner_inside['name']})",
    )
    seen = narrator.fact("host_file_owner_seen_inside", owner_inside["name"])
    narrator.claim(
        _("root's file shows as uid {uid} ({name}) inside", uid=userns.overflow_uid(), name=seen),
        owner_outside["uid"] == 0 and owner_inside["uid"] == userns.overflow_uid(),
    )
    path = os.path.join(runs.SHARED_TMP, ctx.run.object_name("userns-file"))
    ctx.on_exit(_remove, path)
    created_as = box.call(identity.create_file, path)
    on_disk = os.stat(path).st_uid
    narrator.compare(
        _("owner of {path}", path=path),
        _("{uid} (as stored)", uid=on_disk),
        _("{uid} (root made it)", uid=created_as),
    )
    narrator.check(
        "new_file_owner_on_host",
        on_disk,
        _("a file root creates inside belongs to uid {uid} on the host", uid=uid_outside),
        on_disk == uid_outside,
        show=True,
    )


def _remove(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def _limits(narrator: Narrator, outside: Isolated, box: Isolated, me: rootless.Identity) -> None:
    narrator.step(
        _("What root inside cannot do to the host"),
        syscalls=["openat(AT_FDCWD, ROOT_ONLY_FILE, O_RDONLY)", "kill(1, 0)", f"kill({outside.pid}, 0)"],
        shell=["cat /etc/shadow", "kill -0 1"],
    )
    narrator.explain(
        _(
            "CAP_DAC_OVERRIDE and CAP_KILL inside are checked against the user namespace that owns the file's or "
            "the process's ids: for the host's, that is the initial one, where this process is just "
            "uid {uid}. kill(PID, 0) checks permission and sends nothing.",
            uid=me.uid,
        )
    )
    protected = _root_only_file(me)
    if protected is None:
        narrator.note(
            _(
                "none of {paths} is a root-only file here: that check is skipped",
                paths=", ".join(ROOT_ONLY_CANDIDATES),
            )
        )
    else:
        read_outside = outside.call(identity.try_open, protected)
        read_inside = narrator.fact("read_root_only_file_inside", box.call(identity.try_open, protected))
        narrator.fact("root_only_file", protected)
        narrator.compare(f"open({protected})", read_outside, read_inside)
        narrator.claim(
            _("root inside cannot open {path}: EACCES, as outside", path=protected),
            read_inside == read_outside == "EACCES",
        )
    kill_root = box.call(identity.try_signal, 1)
    kill_own = box.call(identity.try_signal, outside.pid)
    narrator.compare(
        _("kill(PID, 0) from inside"),
        [_("host PID 1 (uid 0): {result}", result=kill_root)],
        [_("pid {pid} (uid {uid}, the same user): {result}", pid=outside.pid, uid=me.uid, result=kill_own)],
        host_title=_("root's process"),
        inside_title=_("your own process"),
    )
    narrator.check(
        "signal_host_pid1_inside",
        kill_root,
        _("root inside may not signal root's process on the host (EPERM)"),
        kill_root == "EPERM",
        show=True,
    )
    narrator.check(
        "signal_own_process_inside",
        kill_own,
        _("it may signal a process of uid {uid}, its own user outside", uid=me.uid),
        kill_own == "ok",
        show=True,
    )


def _root_only_file(me: rootless.Identity) -> str | None:
    """A host file (or directory) owned by root that `me` may not read: no read bit for others, nor for a
    group `me` is in."""
    for path in ROOT_ONLY_CANDIDATES:
        try:
            st = os.stat(path)
        except OSError:
            continue
        groups = {me.gid} if me.drop_from_root else {me.gid, *os.getgroups()}
        group_may_read = st.st_mode & 0o040 and st.st_gid in groups
        if st.st_uid == 0 and not st.st_mode & 0o004 and not group_may_read:
            return path
    return None


def _caps(names: list[str]) -> str:
    if not names:
        return _("none")
    if len(names) > 4:
        return _(
            "{n} capabilities ({first}, ...)",
            n=len(names),
            first=", ".join(n.removeprefix("CAP_") for n in names[:3]),
        )
    return ", ".join(names)
