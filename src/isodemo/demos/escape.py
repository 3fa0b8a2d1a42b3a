"""escape: why each defence of a container exists, shown by trying the classic breakouts with and without it.

What you will see: a root process escapes a plain chroot and reads a host file, and the same walk in a
pivot_root container ends at the container's own /; a --privileged container mounts a disk (a loop device on
a file isodemo made) and writes to it, while the default capabilities make mount(2) fail with EPERM, and
--cap-add SYS_ADMIN alone brings mounts back but not the device; /proc/sys is writable only when privileged
(EROFS otherwise); a host process of isodemo's is invisible and unsignalable from the container's pid
namespace (ESRCH) and visible with --pid host; root of a --userns container owns nothing on the host; a
setuid-root binary gives a uid 1000 process a raw socket, but not under no_new_privs; the default seccomp
filter refuses `unshare -U` and keyctl(2) with EPERM.
Kubernetes: the Pod's securityContext (privileged, capabilities, procMount, hostPID, hostUsers,
allowPrivilegeEscalation, seccompProfile).

Every attempt is really made by a container of `isodemo run`'s own runtime (its command is a busybox sh
script; before it starts, a probe in its child observes the errnos a shell cannot report), and every target
is an object isodemo made: files in /tmp/isodemo-<run>-escape (/var/tmp when /tmp is nosuid), a loop device
on a file there, a process of its own. The host's disks, hostname and processes are only read, to check they
did not change.
"""

from __future__ import annotations

import os
from typing import Any

from isodemo import host as hostinfo
from isodemo.container.runtime import USERNS_BASE
from isodemo.container.spec import Volume
from isodemo.context import DemoContext
from isodemo.escape import containers, disk, policy
from isodemo.escape.attempts import Attempt, learner_line
from isodemo.escape.containers import Outcome
from isodemo.escape.workspace import MARKER_TEXT, OWNED_TEXT, Workspace
from isodemo.i18n import _
from isodemo.inside import chroot_escape as chroot
from isodemo.inside import escape_probes as probes
from isodemo.kernel.loop import LoopDevice
from isodemo.narrate.base import Narrator

WRITTEN = "written from a container"
CHANGED = "changed by the container"
UID = 1000
SYSRQ = "/proc/sysrq-trigger"
JAIL = "/tmp/escape-jail"  # inside the container: the probe makes it in the container's own /tmp


class Targets:
    """What isodemo made to be attacked, and the host values to check afterwards."""

    def __init__(self, space: Workspace, image: str, loop: LoopDevice, sleeper: Any) -> None:
        self.space = space
        self.image = image
        self.loop = loop
        self.sleeper = sleeper
        self.hostname = os.uname().nodename
        self.sysrq = os.path.exists(SYSRQ)

    @property
    def pid(self) -> int:
        return int(self.sleeper.pid)

    @property
    def device(self) -> tuple[int, int]:
        rdev = os.stat(self.loop.path).st_rdev
        return os.major(rdev), os.minor(rdev)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    busybox = hostinfo.require_static_busybox()
    targets = _targets(narrator, ctx, busybox)
    default = _chroot_versus_pivot_root(narrator, ctx, targets)
    privileged = _capabilities(narrator, ctx, targets, default)
    _proc(narrator, targets, default, privileged)
    _pid_namespace(narrator, ctx, targets, default)
    _user_namespace(narrator, ctx, targets, default)
    _no_new_privs_and_seccomp(narrator, ctx, targets, default)
    ctx.hold_here(
        narrator,
        {"target": targets.pid},
        [f"ls -l {targets.space.root}", f"sudo debugfs -R 'ls -l /' {targets.image}"],
        paths={"workspace": targets.space.root},
    )
    narrator.kubernetes(
        _(
            "Each defence is a field of the Pod's securityContext: privileged: true turns off all of them at "
            "once; capabilities.add (SYS_ADMIN) brings back mounts; procMount: Default keeps /proc/sys and "
            "/proc/sysrq-trigger read-only; hostPID: true shares the node's pid namespace; hostUsers: false "
            "gives the Pod a user namespace; allowPrivilegeEscalation: false sets no_new_privs; "
            "seccompProfile: RuntimeDefault is the filter that refused unshare and keyctl. Pod Security "
            "Standards (restricted) forbid the dangerous values."
        )
    )


# -- what isodemo made ------------------------------------------------------------------------------------


def _targets(narrator: Narrator, ctx: DemoContext, busybox: str) -> Targets:
    narrator.step(
        _("The targets: files, a disk and a process, all isodemo's own"),
        syscalls=[
            "mkdir(2)",
            "openat(O_CREAT|O_EXCL)",
            "chmod(4755)",
            "ioctl(LOOP_CTL_GET_FREE)",
            "ioctl(LOOP_CONFIGURE)",
        ],
    )
    space = ctx.enter(Workspace(ctx.run))
    space.make_targets(busybox)
    image = space.path(ctx.run.object_name("disk.img"))
    shell = disk.make_image(image)
    loop = ctx.enter(LoopDevice(image))
    sleeper = ctx.isolated([])  # a process of isodemo's on the host: the pid namespace attempt aims at it
    targets = Targets(space, image, loop, sleeper)
    narrator.shell(
        f"mkdir {space.root}",
        f"echo ... > {space.marker}",
        f"echo ... > {space.owned}",
        f"cp {busybox} {space.path('suid', 'busybox')} && chmod 4755 {space.path('suid', 'busybox')}",
        *shell,
        f"losetup --find --show {image}",
    )
    narrator.table(
        _("what the attacks aim at"),
        [_("object"), _("where"), _("why")],
        [
            [_("a host file"), space.marker, _("reading it from a chroot is escaping it")],
            [_("a root-owned file"), space.owned, _("bound into containers: who may change it?")],
            [_("a setuid-root busybox"), space.path("suid", "busybox"), _("does a uid 1000 process gain root?")],
            [_("a disk"), f"{loop.path} ({image})", _("ext4 on a loop device: what --privileged can mount")],
            [_("a host process"), f"pid {targets.pid}", _("can a container see or signal it?")],
        ],
    )
    narrator.fact("workspace", space.root, show=False)
    narrator.fact("loop_device", loop.path, show=False)
    narrator.fact("target_pid", targets.pid, show=False)
    return targets


# -- 1. chroot versus pivot_root ------------------------------------------------------------------------


def _default_attempts(targets: Targets) -> list[Attempt]:
    found = [
        Attempt("mount", "mkdir -p /mnt && mount -t tmpfs none /mnt"),
        Attempt("loop", f"ls -l {targets.loop.path}"),
        Attempt("hostname", "echo escaped > /proc/sys/kernel/hostname"),
        Attempt("kill", f"kill -0 {targets.pid}"),
        Attempt("proc", f"cat /proc/{targets.pid}/comm"),
        Attempt("owned", f"echo {CHANGED} > /owned/file"),
        Attempt("unshare", "unshare -U true"),
    ]
    if targets.sysrq:
        found.append(Attempt("sysrq", f"dd if=/dev/null of={SYSRQ} conv=notrunc count=0"))
    return found


def _chroot_versus_pivot_root(narrator: Narrator, ctx: DemoContext, targets: Targets) -> Outcome:
    space = targets.space
    jail = space.path("jail")
    narrator.step(
        _("1. A plain chroot: root walks out of it"),
        syscalls=[step.replace("JAIL", jail).replace("MARKER", space.marker) for step in chroot.STEPS],
        shell=[_chroot_shell(jail, space.marker)],
    )
    plain = targets.sleeper.call(chroot.attempt, jail, space.marker)
    _probe_error(plain)
    narrator.compare(
        _("reading {path}", path=space.marker),
        [_("in the chroot: {result}", result=_result_text(plain["jailed"]))],
        [_("after the walk: {result}", result=_result_text(plain["escaped"]))],
        host_title=_("before the escape"),
        inside_title=_("after mkdir+chroot+chdir(..)"),
    )
    narrator.explain(
        _(
            "A child of isodemo's process {pid} (root, on the host) was chrooted into {jail}. chroot(2) changes "
            "only where `/` starts for path lookups: root can chroot again into a subdirectory, keep its working "
            "directory outside the new root, and climb with `..` to the real / (fchdir to a directory fd opened "
            "before the chroot does the same). A chroot is not a security boundary against root.",
            pid=targets.pid,
            jail=jail,
        )
    )
    narrator.check(
        "chroot_escaped",
        plain["escaped"]["content"] == MARKER_TEXT,
        _("the chrooted root process read the host file after the walk"),
        plain["escaped"]["content"] == MARKER_TEXT and plain["jailed"]["content"] is None,
    )

    attempts = _default_attempts(targets)
    owned = Volume(space.path("owned"), "/owned")
    narrator.step(
        _("1. The same walk in a pivot_root container (old root detached)"),
        syscalls=[
            "pivot_root(new_root, put_old)",
            "umount2(put_old, MNT_DETACH)",
            *(step.replace("JAIL", JAIL).replace("MARKER", space.marker) for step in chroot.STEPS),
        ],
        shell=[learner_line([f"-v {space.path('owned')}:/owned"], attempts)],
    )
    results = space.results("default")
    default = containers.run(
        ctx,
        "default",
        attempts,
        results,
        volumes=(owned,),
        probe=probes.locked_down,
        probe_args=(JAIL, space.marker),
    )
    probe = default.probe or {}
    _probe_error(probe)
    walk = probe.get("chroot", {})
    narrator.compare(
        _("where the walk ends"),
        [_("the host's /: {listing}", listing=" ".join(sorted(os.listdir("/"))[:10]))],
        [
            _("the container's /: {listing}", listing=" ".join(walk.get("root_listing", []))),
            _result_text(walk.get("escaped", {})),
        ],
        inside_title=_("inside, after the walk"),
    )
    narrator.explain(
        _(
            "The probe ran in the container's child as the container's command runs (root, its capabilities "
            "and seccomp filter applied: CapEff {cap}), CAP_SYS_CHROOT included. pivot_root(2) made the "
            "container's filesystem the root mount of its mount namespace and the old root was detached: the "
            "`..` walk stops at the container's /, and {path} does not exist there.",
            cap=probe.get("cap_eff", "?"),
            path=space.marker,
        )
    )
    escaped = (walk.get("escaped") or {}).get("content") == MARKER_TEXT
    narrator.check(
        "pivot_root_escaped",
        escaped,
        _("the same walk in the container did not reach the host file"),
        not escaped and bool(walk),
    )
    return default


# -- 2. capabilities --------------------------------------------------------------------------------------


def _capabilities(narrator: Narrator, ctx: DemoContext, targets: Targets, default: Outcome) -> Outcome:
    loop = targets.loop.path
    attempts = [
        Attempt("loop", f"ls -l {loop}"),
        Attempt("disk", f"mkdir -p /mnt && mount -t ext4 {loop} /mnt && echo {WRITTEN} > /mnt/escaped && umount /mnt"),
        Attempt("hostname", "echo escaped > /proc/sys/kernel/hostname && cat /proc/sys/kernel/hostname"),
    ]
    if targets.sysrq:
        attempts.append(Attempt("sysrq", f"dd if=/dev/null of={SYSRQ} conv=notrunc count=0"))
    narrator.step(
        _("2. Capabilities: --privileged mounts the disk"),
        syscalls=[f'mount("{loop}", "/mnt", "ext4", 0, NULL)', 'openat("/mnt/escaped", O_CREAT|O_WRONLY)'],
        shell=[learner_line(["--privileged"], attempts), f"sudo debugfs -R 'cat /escaped' {targets.image}"],
    )
    privileged = containers.run(ctx, "privileged", attempts, targets.space.results("privileged"), privileged=True)
    seen = disk.read_file(targets.image, "escaped")
    narrator.compare(
        _("the disk {loop}", loop=loop),
        [_("debugfs: /escaped = {text}", text=(seen or "").strip() or _("(none)"))],
        [
            privileged["loop"].shown,
            _("mount + write: exit {rc}", rc=privileged["disk"].rc),
            *privileged["disk"].err.strip().splitlines()[-1:],
        ],
        inside_title=_("inside, --privileged"),
    )
    mounted = privileged["disk"].ok and (seen or "").strip() == WRITTEN
    narrator.check(
        "privileged_mount_ok",
        mounted,
        _("the privileged container mounted the disk and the host finds its file on it"),
        mounted,
    )

    probe = default.probe or {}
    narrator.step(
        _("2. The default capabilities: mount fails"),
        syscalls=[
            "prctl(PR_CAPBSET_DROP) ...; capset(...)",
            'mount("none", "/mnt", "tmpfs", 0, NULL)',
            "seccomp(SECCOMP_SET_MODE_FILTER)",
            'mount("none", "/mnt", "tmpfs", 0, NULL)',
        ],
        shell=["sudo isodemo run busybox sh -c 'mkdir -p /mnt && mount -t tmpfs none /mnt'"],
    )
    capability_errno = probe.get("mount_errno_capabilities")
    filter_errno = probe.get("mount_errno_filter")
    narrator.compare(
        _("the same attempts, default settings"),
        [
            _("busybox mount: {text}", text=default["mount"].shown),
            _("{loop}: {text}", loop=loop, text=default["loop"].shown),
        ],
        [
            _("mount(2), capabilities dropped, no filter: {errno}", errno=capability_errno),
            _("mount(2), filter loaded, every capability held: {errno}", errno=filter_errno),
            _("mount(2), both, as the command runs: {errno}", errno=probe.get("mount_errno")),
        ],
        host_title=_("the container's command"),
        inside_title=_("the probe"),
    )
    narrator.explain(
        _(
            "Two defences refuse mount(2), each on its own. The probe's first process dropped the capabilities "
            "as the container's command has them (no CAP_SYS_ADMIN) and loaded no filter: EPERM, from the "
            "capability check alone. Its second loaded the seccomp filter while it still held every capability: "
            "EPERM again, from the filter, which refuses mount unless CAP_SYS_ADMIN is kept. busybox says it its "
            "own way. The device is not there either: /dev has only runc's short list, and the device cgroup "
            "refuses every other block device."
        )
    )
    narrator.check(
        "default_mount_errno",
        capability_errno,
        _("mount(2) without CAP_SYS_ADMIN, no filter loaded: EPERM; the filter alone refuses it too"),
        capability_errno == "EPERM"
        and filter_errno == "EPERM"
        and probe.get("mount_errno") == "EPERM"
        and not default["mount"].ok
        and not default["loop"].ok,
        show=True,
    )
    narrator.fact("seccomp_mount_errno", filter_errno)

    major, minor = targets.device
    attempts = [
        Attempt("tmpfs", "mkdir -p /mnt && mount -t tmpfs none /mnt && umount /mnt"),
        Attempt("loop", f"ls -l {loop}"),
        Attempt("device", f"mknod /tmp/disk b {major} {minor} && dd if=/tmp/disk of=/dev/null count=1"),
    ]
    narrator.step(
        _("2. --cap-add SYS_ADMIN alone: mounts, but not the disk"),
        syscalls=[
            'mount("none", "/mnt", "tmpfs", 0, NULL)',
            f'mknodat(AT_FDCWD, "/tmp/disk", S_IFBLK, makedev({major}, {minor}))',
            'openat("/tmp/disk")',
        ],
        shell=[learner_line(["--cap-add SYS_ADMIN"], attempts)],
    )
    admin = containers.run(ctx, "sysadmin", attempts, targets.space.results("sysadmin"), cap_add=("SYS_ADMIN",))
    narrator.table(
        _("--cap-add SYS_ADMIN"),
        [_("attempt"), _("exit"), _("result")],
        [[a.command, str(admin[a.name].rc), admin[a.name].shown] for a in attempts],
    )
    narrator.explain(
        _(
            "CAP_SYS_ADMIN brings back mount(2) (and lifts the filter's refusal of mount, unshare and setns): "
            "a tmpfs mounts. The disk stays out of reach: its node is not in the container's /dev, and a node "
            "made with mknod is refused on open by the device cgroup. --privileged lifts that too: it gives "
            "every capability, every device, no seccomp, no masked or read-only /proc paths."
        )
    )
    narrator.fact("sys_admin_tmpfs_mount_ok", admin["tmpfs"].ok)
    narrator.fact("sys_admin_device_errno", admin["device"].errno)
    narrator.claim(
        _("with SYS_ADMIN a tmpfs mounts, but the disk's node is absent and opening one made by mknod fails"),
        admin["tmpfs"].ok and not admin["loop"].ok and admin["device"].errno == "EPERM",
    )
    return privileged


# -- 3. /proc ----------------------------------------------------------------------------------------------


def _proc(narrator: Narrator, targets: Targets, default: Outcome, privileged: Outcome) -> None:
    narrator.step(
        _("3. /proc: writable when privileged, read-only (EROFS) by default"),
        syscalls=['openat("/proc/sys/kernel/hostname", O_WRONLY)', f'openat("{SYSRQ}", O_WRONLY|O_CREAT)  (no write)'],
        shell=["sudo isodemo run busybox sh -c 'echo escaped > /proc/sys/kernel/hostname'"],
    )
    host_now = os.uname().nodename
    inside = [_("hostname: {text}", text=default["hostname"].shown)]
    privileged_lines = [_("hostname: {text}", text=privileged["hostname"].shown)]
    if targets.sysrq:
        inside.append(_("sysrq-trigger: {text}", text=default["sysrq"].shown))
        privileged_lines.append(_("sysrq-trigger: opened for writing, exit {rc}", rc=privileged["sysrq"].rc))
    narrator.compare(
        _("writing /proc"),
        privileged_lines,
        inside,
        host_title=_("--privileged"),
        inside_title=_("default"),
    )
    if not targets.sysrq:
        narrator.explain(
            _("This kernel has no {path} (CONFIG_MAGIC_SYSRQ is off): only the hostname is tried.", path=SYSRQ)
        )
    narrator.explain(
        _(
            "The privileged container changed its own hostname through /proc/sys (the UTS namespace is its own: "
            "the host's is still {host}). Other files under /proc/sys are not namespaced: the same write access "
            "changes the whole machine (kernel.core_pattern is the classic escape), and opening {sysrq} for "
            "writing (done without writing a byte) is the power to crash or reboot the host. By default runc "
            "remounts them read-only: EROFS.",
            host=host_now,
            sysrq=SYSRQ,
        )
    )
    narrator.fact("host_hostname_unchanged", host_now == targets.hostname, show=False)
    wrote = privileged["hostname"].ok and privileged["hostname"].out.strip() == "escaped"
    sysrq_ok = privileged["sysrq"].ok if targets.sysrq else True
    narrator.fact("sysrq_trigger_present", targets.sysrq, show=False)
    narrator.check(
        "privileged_proc_write_ok",
        wrote and sysrq_ok,
        _("the privileged container wrote /proc/sys/kernel/hostname; the host's hostname did not change"),
        wrote and sysrq_ok and host_now == targets.hostname,
    )
    errnos = {default["hostname"].errno, *([default["sysrq"].errno] if targets.sysrq else [])}
    narrator.check(
        "default_proc_write_errno",
        default["hostname"].errno,
        _("the default container's writes to /proc failed with EROFS"),
        errnos == {"EROFS"},
        show=True,
    )


# -- 4. the pid namespace ----------------------------------------------------------------------------------


def _pid_namespace(narrator: Narrator, ctx: DemoContext, targets: Targets, default: Outcome) -> None:
    pid = targets.pid
    attempts = [Attempt("kill", f"kill -0 {pid}"), Attempt("proc", f"cat /proc/{pid}/comm")]
    narrator.step(
        _("4. The pid namespace: a host process cannot be seen or signalled"),
        syscalls=[f"kill({pid}, 0)", f'openat("/proc/{pid}/comm")'],
        shell=[learner_line(["--pid host"], attempts)],
    )
    host_pid = containers.run(ctx, "hostpid", attempts, targets.space.results("hostpid"), pid_host=True)
    narrator.compare(
        _("isodemo's host process {pid}", pid=pid),
        [default["kill"].shown, default["proc"].shown],
        [_("kill -0: exit {rc}", rc=host_pid["kill"].rc), host_pid["proc"].shown],
        host_title=_("default (own pid namespace)"),
        inside_title="--pid host",
    )
    narrator.explain(
        _(
            "In its own pid namespace the container's kill({pid}, 0) means its own pid {pid}, which does not "
            "exist (ESRCH), and its /proc lists only its own processes. With the host's pid namespace it sees "
            "every process of the machine, and root in it may signal them (only signal 0 was sent here).",
            pid=pid,
        )
    )
    narrator.fact("default_kill_errno", default["kill"].errno)
    visible_default = default["kill"].ok or default["proc"].ok
    narrator.check(
        "host_pid_visible_default",
        visible_default,
        _("the default container could not signal or see pid {pid} (ESRCH)", pid=pid),
        not visible_default and default["kill"].errno == "ESRCH",
    )
    visible = host_pid["kill"].ok and host_pid["proc"].out.strip() == ctx.run.name
    narrator.check(
        "host_pid_visible_host_pidns",
        visible,
        _("with --pid host, kill -0 {pid} worked and /proc/{pid}/comm is isodemo's", pid=pid),
        visible,
    )


# -- 5. user namespaces ------------------------------------------------------------------------------------


def _user_namespace(narrator: Narrator, ctx: DemoContext, targets: Targets, default: Outcome) -> None:
    space = targets.space
    attempts = [Attempt("owner", "stat -c %u /owned/file"), Attempt("owned", f"echo {CHANGED} > /owned/file")]
    before = space.read_owned()
    userns = containers.run(
        ctx,
        "userns",
        attempts,
        space.results("userns", USERNS_BASE),
        userns=True,
        volumes=(Volume(space.path("owned"), "/owned"),),
    )
    after = space.read_owned()
    root_at = containers.host_uid_of_root(userns.uid_map)
    narrator.step(
        _("5. User namespaces: root inside owns nothing outside"),
        syscalls=[
            "clone(CLONE_NEWUSER)",
            f'write(/proc/PID/uid_map, "{userns.uid_map}")',
            'openat("/owned/file", O_WRONLY)',
        ],
        shell=[learner_line(["--userns", f"-v {space.path('owned')}:/owned"], attempts)],
    )
    owner = userns["owner"].out.strip() or "?"
    overflow = (hostinfo.read_text("/proc/sys/kernel/overflowuid") or "?").strip()
    narrator.compare(
        space.owned,
        [
            _("owner uid {uid}", uid=os.stat(space.owned).st_uid),
            _("content: {text}", text=after.strip()),
        ],
        [
            _("--userns: uid_map {map}", map=userns.uid_map),
            _("--userns: owner {uid}", uid=owner),
            _("write: {text}", text=userns["owned"].shown),
            _("no user namespace: uid_map {map}; write exit {rc}", map=default.uid_map, rc=default["owned"].rc),
        ],
    )
    narrator.explain(
        _(
            "The container's uid_map, read from the host in /proc/PID/uid_map, maps its uid 0 to host uid {uid}. "
            "The host's root (uid 0) has no name inside and shows as the overflow uid {overflow} (nobody, "
            "/proc/sys/kernel/overflowuid), and the write is checked against host uid {uid}, so it is refused "
            "(EACCES). The default container's uid_map maps uid 0 to uid 0: its root is the host's root, and its "
            'write (step 1) changed the file on the host to "{text}".',
            uid=root_at,
            overflow=overflow,
            text=CHANGED,
        )
    )
    narrator.fact("userns_owner_seen", owner)
    narrator.fact("userns_uid_map", userns.uid_map, show=False)
    changed = userns["owned"].ok or after != before
    narrator.check(
        "userns_host_file_writable",
        changed,
        _("root of the --userns container could not change the host's root-owned file"),
        not changed and root_at not in (None, 0) and owner == overflow and userns["owned"].errno == "EACCES",
    )
    default_wrote = default["owned"].ok and before.strip() == CHANGED and before != OWNED_TEXT
    narrator.check(
        "no_userns_host_file_writable",
        default_wrote,
        _("root of the container without a user namespace changed it (seen on the host)"),
        default_wrote and containers.host_uid_of_root(default.uid_map) == 0,
    )


# -- 6. no_new_privs and seccomp ---------------------------------------------------------------------------


def _no_new_privs_and_seccomp(narrator: Narrator, ctx: DemoContext, targets: Targets, default: Outcome) -> None:
    space = targets.space
    suid = Volume(space.path("suid"), "/suid")
    attempts = [
        Attempt("id", "/suid/busybox id -u"),
        Attempt("ping", "/suid/busybox ping -c 1 -W 1 127.0.0.1"),
        Attempt("nnp", "grep NoNewPrivs /proc/self/status"),
    ]
    narrator.step(
        _("6. A setuid-root binary, with and without no_new_privs"),
        syscalls=[
            "execve(/suid/busybox) (mode 4755, owner root)",
            "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)",
            "prctl(PR_SET_NO_NEW_PRIVS, 1)",
        ],
        shell=[
            learner_line([f"-u {UID}", f"-v {space.path('suid')}:/suid"], attempts),
            learner_line([f"-u {UID}", "--security-opt no-new-privileges", f"-v {space.path('suid')}:/suid"], attempts),
        ],
    )
    plain = containers.run(ctx, "setuid", attempts, space.results("setuid", UID), user=(UID, None), volumes=(suid,))
    nnp = containers.run(
        ctx, "nnp", attempts, space.results("nnp", UID), user=(UID, None), volumes=(suid,), no_new_privileges=True
    )
    narrator.compare(
        _("uid {uid} runs the setuid busybox's ping", uid=UID),
        [plain["nnp"].shown, _("ping: exit {rc}", rc=plain["ping"].rc), _("id -u: {text}", text=plain["id"].shown)],
        [nnp["nnp"].shown, _("ping: {text}", text=nnp["ping"].shown), _("id -u: {text}", text=nnp["id"].shown)],
        host_title=_("default"),
        inside_title="no-new-privileges",
    )
    narrator.explain(
        _(
            "ping needs a raw socket, which needs CAP_NET_RAW: uid {uid} has no capabilities, so it works only "
            "because execve of a setuid-root file made the process root (busybox keeps root for ping until its "
            "socket is open, and drops it at once for most applets: `id -u` says {uid} either way). Under "
            "no_new_privs execve ignores the setuid bit (and file capabilities): the same ping is refused.",
            uid=UID,
        )
    )
    narrator.fact("setuid_raw_socket_ok", plain["ping"].ok)
    narrator.check(
        "no_new_privs_raw_socket_ok",
        nnp["ping"].ok,
        _("the setuid bit gave uid {uid} a raw socket, and did not under no_new_privs", uid=UID),
        plain["ping"].ok and not nnp["ping"].ok and "1" in nnp["nnp"].out,
    )

    attempts = [Attempt("unshare", "unshare -U true")]
    narrator.step(
        _("6. The default seccomp filter: unshare -U and keyctl refused"),
        syscalls=["unshare(CLONE_NEWUSER)", "keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)"],
        shell=[
            "sudo isodemo run busybox unshare -U true",
            learner_line(["--security-opt seccomp=unconfined"], attempts),
        ],
    )
    unconfined = containers.run(ctx, "unconfined", attempts, space.results("unconfined"), seccomp=False)
    probe = default.probe or {}
    narrator.compare(
        _("unshare(CLONE_NEWUSER), keyctl(2)"),
        [default["unshare"].shown, _("keyctl (probe): {errno}", errno=probe.get("keyctl_errno"))],
        [_("unshare -U true: exit {rc}", rc=unconfined["unshare"].rc)],
        host_title=_("default filter"),
        inside_title="seccomp=unconfined",
    )
    narrator.explain(
        _(
            "A new user namespace needs no capability: it is the first step of many kernel exploits, as it "
            "gives a process root over new namespaces and the kernel code behind them. The kernel keyring is not "
            "namespaced: keys of the host would be shared. Docker's default profile refuses both with EPERM: it "
            "is an allow list (about 440 system calls allowed, every other one refused). isodemo's filter is a "
            "deny list made from it: it refuses the calls that profile refuses, with the same errno. The keyctl "
            "call was made by the probe, locked down as the container's command is: busybox has no keyctl applet."
        )
    )
    narrator.fact("seccomp_keyctl_errno", probe.get("keyctl_errno"))
    narrator.check(
        "seccomp_unshare_errno",
        default["unshare"].errno,
        _("unshare -U and keyctl failed with EPERM under the default filter"),
        default["unshare"].errno == "EPERM" and probe.get("keyctl_errno") == "EPERM",
        show=True,
    )
    _unconfined_control(narrator, unconfined)


def _unconfined_control(narrator: Narrator, unconfined: Outcome) -> None:
    """Without the filter, unshare -U works, unless the host's policy refuses user namespaces to a process
    without CAP_SYS_ADMIN (escape/policy.py): then it fails with the errno that policy gives."""
    refused = policy.refusal(hostinfo.userns_policy())
    worked = unconfined["unshare"].ok
    narrator.fact("unconfined_unshare_ok", worked)
    narrator.fact("userns_policy_refusal", f"{refused[0]}={refused[1]}" if refused else None, show=False)
    if refused is None:
        narrator.claim(_("without the filter unshare -U worked: the EPERM above is the filter's"), worked)
        return
    sysctl, value, errno_name = refused
    narrator.explain(
        _(
            "This host's {sysctl} is {value}: it refuses new user namespaces to a process without "
            "CAP_SYS_ADMIN, which the container's root is, filter or not. Without the filter the control "
            "cannot succeed here; keyctl's EPERM is the filter's alone.",
            sysctl=sysctl,
            value=value,
        )
    )
    narrator.claim(
        _(
            "without the filter unshare -U failed too, with {errno}, as {sysctl}={value} says",
            errno=errno_name,
            sysctl=sysctl,
            value=value,
        ),
        not worked and unconfined["unshare"].errno == errno_name,
    )


# -- helpers -----------------------------------------------------------------------------------------------


def _chroot_shell(jail: str, marker: str) -> str:
    """The escape as a one-line program (the chroot(8) command always does chdir("/") after chroot(2))."""
    calls = (
        f'os.chroot("{jail}"); os.chdir("/"); os.makedirs("esc", exist_ok=True); os.chroot("esc"); '
        f'[os.chdir("..") for _ in range(64)]; os.chroot("."); print(open("{marker}").read())'
    )
    return f"sudo python3 -c 'import os; {calls}'"


def _result_text(result: dict[str, Any]) -> str:
    if result.get("content") is not None:
        return _("read: {text}", text=str(result["content"]).strip())
    return _("refused: {errno}", errno=result.get("errno"))


def _probe_error(answer: dict[str, Any]) -> None:
    if "error" in answer:
        from isodemo.errors import IsodemoError

        raise IsodemoError(_("the probe failed: {reason}", reason=answer["error"]))
