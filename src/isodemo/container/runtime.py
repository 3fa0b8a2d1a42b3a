"""`isodemo run`: one container, assembled from the pieces the demos show one at a time.

    image      the store resolves IMAGE to read-only layers (images/)
    overlay    upper/work/merged for this container; overlayfs mounted on the host (container/overlay.py)
    cgroup     isodemo-<run>-ctr with the limits asked for (cgroups/)
    namespaces an Isolated child: mnt, uts, ipc, cgroup, pid, net (and user) (isolated.py)
    network    none: only lo; host: the host's; bridge: a veth to a bridge, -p as nftables DNAT (net/)
    rootfs     inside the child: /proc with masked paths, /dev, /sys, /etc files, volumes, pivot_root
               (inside/container.py)
    process    capabilities, seccomp, no_new_privs, user, env, cwd; execve: the child becomes the command
               (inside/security.py, inside/container.py)
    wait       signals forwarded to the container's PID 1, SIGKILL after --stop-timeout (container/waiting.py)

Every object is owned by the run's ExitStack from the moment it exists, so a finished, failed or interrupted
run leaves nothing; `isodemo cleanup` finds the rest of a SIGKILLed run by the run's record.
"""

from __future__ import annotations

import os
import time

from isodemo import testpoints
from isodemo.container import config
from isodemo.container.overlay import ROLE, ContainerDirs, OverlayMount
from isodemo.container.spec import root_propagation
from isodemo.errors import NeedsRoot, RunError
from isodemo.i18n import _
from isodemo.inside import launch
from isodemo.kernel import namespaces as kns
from isodemo.kernel import openat2, procfs
from isodemo.narrate.runlog import RunLog

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

    from isodemo.container.spec import RunSpec

# The child's side (inside/container.py: mounts, pivot_root, capabilities, seccomp, execve) is called through
# inside/launch.py with plain dicts: this process never imports it, the child (or its helper) does, after the
# fork (Isolated's preload), while this process goes on with build().

# --userns as root: container uids 0..65535 are host uids 100000..165535, the first range `useradd` gives
# in /etc/subuid (Docker's userns-remap takes it from there for its `dockremap` user).
USERNS_BASE = 100000
USERNS_SIZE = 65536


class Started:
    """A container ready to start: the child waits in its namespaces, its root filesystem in place."""

    def __init__(self, box: Any, cgroup: Any, pty: Any, process: Any, *, timings: dict[str, float], t0: float) -> None:
        self.box = box
        self.cgroup = cgroup
        self.pty = pty
        self.process = process
        self.timings = timings
        self.t0 = t0

    def lap(self, stage: str) -> None:
        """Milliseconds since build() started, into the `timings` fact (after the execve too: the wait, the
        teardown)."""
        self.timings[stage] = round((time.perf_counter() - self.t0) * 1000, 2)


def namespaces_for(spec: RunSpec, rootless: bool, joined: Collection[str] = (), *, cgroup_v2: bool = True) -> list[str]:
    """The namespaces the container gets new. `joined`: those it enters instead (a pod's container: the
    sandbox's net, ipc, uts); such a container gets a cgroup namespace only on cgroup v2, as containerd's
    CRI gives one ("cgroupns is used for hiding /sys/fs/cgroup", internal/cri/server/container_create.go)."""
    names = ["mnt", "uts", "ipc"]
    if "cgroup" in kns.available_types() and (cgroup_v2 or not joined):
        names.append("cgroup")
    if not spec.pid_host:
        names.append("pid")
    if spec.network != "host":
        names.append("net")
    if spec.userns or rootless:
        names.insert(0, "user")
    return [name for name in names if name not in joined]


def refuse_rootless(spec: RunSpec) -> None:
    """What a user namespace cannot give: the host's network plumbing and cgroup limits."""
    wanted = []
    if spec.network == "bridge" or spec.publish:
        wanted.append("--network bridge / -p")
    if any(v is not None for v in (spec.memory, spec.memory_swap, spec.cpus, spec.cpu_shares, spec.pids_limit)):
        wanted.append("--memory/--cpus/--cpu-shares/--pids-limit")
    if spec.device_write_bps:
        wanted.append("--device-write-bps")
    if wanted:
        raise NeedsRoot(
            _(
                "without root, {options} cannot work: a bridge and NAT rules change the host's network, and "
                "cgroup limits need a cgroup this user may write",
                options=", ".join(wanted),
            ),
            _("run it with sudo, or without those options (rootless, as podman does it)"),
        )


def build(
    spec: RunSpec,
    ctx: Any,
    log: RunLog,
    *,
    role: str = ROLE,
    join: dict[str, str] | None = None,
    cgroup_parent: tuple[Any, str] | None = None,
) -> Started:
    """Everything up to the execve of the container's command; the ExitStack of `ctx` owns every object.

    `role` names the container's directories and cgroup (isodemo-<run>-<role>): a pod has more than one.
    `join`: existing namespaces the container enters instead of new ones, {type: /proc/PID/ns/type}, as a
    pod's containers join its sandbox's (isodemo pod): then the network and the hostname are the sandbox's,
    and this container sets neither. `cgroup_parent`: (a cgroup isodemo made, a name): the container's cgroup
    is made inside it under that name (a pod's: kubepods/<qos>/pod<uid>/<container id>), not as a cgroup of its
    own at isodemo's usual place."""
    from isodemo.images import Store

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        timings[stage] = round((time.perf_counter() - t0) * 1000, 2)
        testpoints.hit(f"run.{stage}")

    rootless = ctx.rootless
    if rootless:
        refuse_rootless(spec)
    store = Store()
    image = store.rootfs(spec.rootfs) if spec.rootfs else store.resolve(spec.image or "")
    store.claim(image, ctx.run.note)  # `isodemo rmi` refuses while this run lives (a rootless overlay is in no host
    # mount table where it could see the layers in use)
    log.step(
        _("image {name}: {count} read-only layer(s)", name=image.name, count=len(image.layers)),
        [],
        [],
        image=image.name,
        image_id=image.id,
        layers=len(image.layers),
    )
    lap("image")

    join = join or {}
    name = ctx.run.object_name(role)
    remapped = spec.userns and not rootless
    # Only root may enter the container directories (an image's setuid files are in upper/ and merged/); a
    # --userns container's root (uid 100000) passes through a directory of its own group, as Docker's
    # /var/lib/docker/100000.100000 for userns-remap.
    parent, owner_group = (
        (f"{store.containers_dir}-{USERNS_BASE}", USERNS_BASE) if remapped else (store.containers_dir, None)
    )
    ctx.run.note("container", os.path.join(parent, name))  # before it exists: `isodemo cleanup` finds it
    dirs = ctx.own(ContainerDirs(parent, name, group=owner_group))
    mapping = None
    if remapped:
        from isodemo.kernel.userns import IdMap, Mapping

        mapping = Mapping(IdMap(0, USERNS_BASE, USERNS_SIZE), IdMap(0, USERNS_BASE, USERNS_SIZE), "allow")
        os.chown(dirs.upper, USERNS_BASE, USERNS_BASE)  # root inside writes here: it must own it
    overlay = OverlayMount(image.layers, dirs.upper, dirs.work, dirs.merged)
    child_overlay = None
    if rootless:  # the host's mount namespace is not ours to mount in: the child mounts it in its own
        child_overlay = {"lower": overlay.lower, "upper": dirs.upper, "work": dirs.work}  # inside.Overlay
        log.step(_("overlay: mounted by the container itself, in its user namespace"), [overlay.syscall], [])
    else:
        ctx.own(overlay)
        log.step(
            _("overlay: image layers read-only, this container's writes in upper/"),
            [overlay.syscall],
            [overlay.shell, f"findmnt {overlay.merged}"],
            overlay={"lower": list(overlay.lower), "upper": dirs.upper, "merged": dirs.merged},
        )
    lap("overlay")

    cgroup = None if rootless else _cgroup(spec, ctx, log, role, cgroup_parent)
    if cgroup is None:
        log.fact("cgroup_paths", [])  # rootless: no cgroup of its own (the limits were refused above)
    log.fact("name", spec.name or ctx.run.name)
    lap("cgroup")

    names = namespaces_for(spec, rootless, join, cgroup_v2=ctx.host.cgroup_mode == "v2")
    # Without a user namespace or a joined one, isodemo forks PID 1 itself (Isolated's one_fork): no helper, no
    # shim cgroup for it. A user namespace is the helper's (made first, the parent writes its maps meanwhile),
    # and so are the namespaces joined (in runc's order, before the new ones).
    one_fork = "user" not in names and not join
    shim = _shim(spec, ctx, role) if cgroup is not None and not one_fork else None
    box = ctx.own(
        _isolated(
            ctx,
            names,
            mapping,
            cgroup,
            shim,
            join=join,
            propagation=root_propagation(spec.volumes),
            tty=spec.tty,
            one_fork=one_fork,
        )
    )  # forked; it goes on by itself meanwhile:

    # What needs no child, done while PID 1 (or the helper that forks it) joins the cgroup and unshares.
    from isodemo.container import security

    hostname = spec.hostname or ctx.run.name
    passwd, group = (
        _image_file(dirs.merged, image.layers, "etc/passwd"),
        _image_file(dirs.merged, image.layers, "etc/group"),
    )
    uid, gid, groups, home = config.user(spec.user, image.config.user, passwd, group)
    masked, readonly = security.paths_for(spec)
    process = {  # the fields of inside/container.py's Process
        "argv": config.command(image.config.entrypoint, image.config.cmd, spec.command),
        "env": config.environment(image.config.env, spec.env, hostname=hostname, home=home, tty=spec.tty),
        "cwd": spec.workdir or image.config.workdir or "/",
        "uid": uid,
        "gid": gid,
        "groups": () if rootless else groups,  # setgroups is denied in a user namespace an unprivileged user made
        "security": security.security_fields(spec),  # inside.security.Security's
        "init": spec.init,
        "stdin": spec.interactive,
        "tty": spec.tty,
    }
    resolv = config.resolv_conf(_read("/etc/resolv.conf"), host_network=spec.network == "host")
    # The container's /etc files, bound over the image's by prepare_root. /etc/hosts names the container's
    # address when a bridge network gives it one: rewritten then, once the network is made.
    etc = dirs.write_etc(
        {
            "/etc/hostname": hostname + "\n",
            "/etc/hosts": config.hosts_file(hostname, None),
            "/etc/resolv.conf": resolv,
        }
    )
    if remapped:  # root inside cannot write the image's root-owned /etc: the mount points are made here
        for target in ("etc/hostname", "etc/hosts", "etc/resolv.conf"):
            openat2.create_file(dirs.merged, target)

    box.finish()
    if cgroup is not None and shim is not None:
        joined, left = cgroup.self_join_files(), shim.self_join_files()
        log.step(
            _(
                "the helper (pid {pid}) joined the container's cgroup, unshared, forked PID 1, and left for {path}",
                pid=box.helper_pid,
                path=shim.path,
            ),
            [f'write({path}, "0")' for path in (*joined, *left)],
            [f"echo 0 > {path}" for path in (*joined, *left)],
        )
    elif cgroup is not None:
        joined = cgroup.self_join_files()
        log.step(
            _("PID 1 (pid {pid}) joined the container's cgroup itself, before it unshared", pid=box.pid),
            [f'write({path}, "0")' for path in joined],
            [f"echo 0 > {path}" for path in joined],
        )
    namespaces = {ns: kns.ns_inode(box.pid, ns) for ns in [*names, *join]}
    joined = box.join  # in runc's order
    log.step(
        _("namespaces: {names}", names=", ".join(names))
        if not joined
        else _(
            "namespaces: joined {joined}, new {names}",
            joined=", ".join(n for n, _path in joined),
            names=", ".join(names),
        ),
        [f"open({path})" for _n, path in joined]
        + [f"setns(fd, {kns.NAMESPACE_TYPES[n].flag_name})" for n, _path in joined]
        + _unshare_syscalls(names, one_fork, own_cgroupns=shim is not None),
        [
            " ".join(
                [
                    *(
                        ["nsenter", *(f"{kns.NAMESPACE_TYPES[n].unshare_option}={path}" for n, path in joined)]
                        if joined
                        else []
                    ),
                    "unshare --fork",
                    *(kns.NAMESPACE_TYPES[n].unshare_option for n in names),
                ]
            )
        ],
        pid=box.pid,
        namespaces=namespaces,
    )
    lap("namespaces")

    address = None
    if "net" in join:  # the sandbox's network namespace: its interfaces and address are already there
        log.step(_("network: the pod's, joined (its interfaces, its address)"), [], [])
    elif spec.network == "bridge":
        address = _network(spec, ctx, box, log)
    elif spec.network == "none":
        from isodemo.kernel import netdev

        log.step(_("network: none, only the loopback interface, up"), [box.call(netdev.set_up, "lo")], [])
    if address is not None:
        dirs.write_etc({"/etc/hosts": config.hosts_file(hostname, address)})
    lap("network")

    from isodemo.kernel import process as kprocess

    if "uts" not in join:  # runc too sets no hostname in a UTS namespace it joined: it is the sandbox's
        box.call(kprocess.sethostname, hostname)
        log.step(
            _("hostname {name}, in the container's UTS namespace", name=hostname),
            [f'sethostname("{hostname}")'],
            [],
            hostname=hostname,
        )
    mounts = {  # the fields of inside/container.py's Mounts
        "root": dirs.merged,
        "overlay": child_overlay,
        "etc_files": etc,
        "volumes": tuple((v.host, v.container, v.readonly, v.propagation) for v in spec.volumes),
        "root_propagation": root_propagation(spec.volumes),
        "masked_paths": masked,
        "readonly_paths": readonly,
        "privileged": spec.privileged,
        "mknod": not (rootless or spec.userns),
        "sysfs": "net" in names or "net" in join,
        "cgroup_version": 2 if ctx.host.cgroup_mode == "v2" else 1,
    }
    steps = box.call(launch.prepare_root, mounts)
    log.step(
        _("root filesystem: /proc, /dev, /sys, /etc files, then pivot_root"), steps, [], root=dirs.merged, etc_files=etc
    )
    pty = _console(spec, ctx, box, log) if spec.tty else None
    lap("rootfs")

    return Started(box, cgroup, pty, process, timings=timings, t0=t0)


def start(started: Started, log: RunLog, *, locked: bool = False) -> None:
    """execve in the child: from here on it is the container's command. Called with the signals already
    forwarded (container/waiting.py), so none that arrives as it starts is lost or ends isodemo instead.
    `locked`: the caller already made the lock-down in the child, one part at a time (isodemo container)."""
    box, process = started.box, started.process
    box.exec(launch.exec_locked if locked else launch.exec_process, process)
    if started.pty is not None:
        started.pty.child_has_opened()
    started.lap("exec")
    testpoints.hit("run.exec")
    _observe(box.pid, log)
    log.step(
        _("execve: the container runs {argv}", argv=" ".join(process["argv"])),
        [f"execve({process['argv'][0]!r}, ...)"],
        [],
        start_ms=started.timings["exec"],
        timings=started.timings,
    )


def _unshare_syscalls(names: list[str], one_fork: bool, *, own_cgroupns: bool) -> list[str]:
    """How the new namespaces are made: by the helper, which then forks PID 1 (`unshare --fork`; with a shim to
    leave for, PID 1 unshares the cgroup namespace itself: isolated_child._own_cgroup_namespace says why, runc's
    order too), or with one_fork by isodemo (the pid namespace, for the child it forks) and by PID 1 itself
    (the others)."""
    flags = [kns.NAMESPACE_TYPES[n].flag_name for n in names]
    if not one_fork:
        late = ["CLONE_NEWCGROUP"] if own_cgroupns and "cgroup" in names else []
        first = "|".join(flag for flag in flags if flag not in late)
        return [f"unshare({first})", "clone(SIGCHLD)  (fork)"] + [f"unshare({flag})  (PID 1)" for flag in late]
    rest = "|".join(flag for flag in flags if flag != "CLONE_NEWPID")
    if "pid" not in names:
        return ["clone(SIGCHLD)  (fork)", f"unshare({rest})  (in the child)"]
    return [
        "unshare(CLONE_NEWPID)  (isodemo: its next child is PID 1 there)",
        "clone(SIGCHLD)  (fork: PID 1)",
        "setns(fd, CLONE_NEWPID)  (isodemo: its later children in its own pid namespace again)",
        f"unshare({rest})  (in PID 1)",
    ]


def _isolated(
    ctx: Any,
    names: list[str],
    mapping: Any,
    cgroup: Any,
    shim: Any,
    *,
    join: dict[str, str],
    propagation: str,
    tty: bool,
    one_fork: bool,
) -> Any:
    """The container's namespaces. The helper moves itself into the container's cgroup before it unshares
    and forks PID 1, and out to the shim's once PID 1 is forked; PID 1 unshares the cgroup namespace itself
    (its cgroup, the container's, becomes the namespace's root); meanwhile it imports inside/ for the child,
    termios too with -t (inside/launch.py says why). With `one_fork` PID 1 does all that itself, and stays (no
    shim). `propagation`: what / of its mount namespace becomes (spec.root_propagation: rprivate unless a
    volume needs rslave or rshared)."""
    from isodemo.isolated import Isolated

    return Isolated(
        names,
        comm=ctx.run.name,
        mapping=mapping,
        deferred=True,  # build() works on while the child (or helper) prepares; box.finish() waits for PID 1
        preload=launch.MODULES + (launch.TTY_MODULES if tty else ()),
        join_cgroup=cgroup.self_join_files() if cgroup is not None else (),
        leave_cgroup=shim.self_join_files() if shim is not None else (),
        join=join,
        root_propagation=propagation,
        one_fork=one_fork,
    )


def _shim(spec: RunSpec, ctx: Any, role: str) -> Any:
    """Where isodemo's helper goes once PID 1 exists: the helper waits for PID 1 and reports its end
    (containerd-shim's job) and must not be in the container's cgroup, where it would count against
    --pids-limit and could be the OOM killer's victim. It had to be there when it made the cgroup namespace."""
    controllers = ["memory", "pids", "cpu", *(["io"] if spec.device_write_bps else [])]
    if not spec.privileged:
        controllers.append("devices")
    return ctx.cgroup("shim" if role == ROLE else f"{role}-shim", controllers)


def _console(spec: RunSpec, ctx: Any, box: Any, log: RunLog) -> Any:
    """-t: the container's own terminal, made in the child (inside/console.py); its master comes back over
    the channel (SCM_RIGHTS) and isodemo's relay (container/tty.py) owns it."""
    from isodemo.container.tty import Pty

    master, steps = box.call(launch.open_console)
    pty = ctx.enter(Pty(interactive=spec.interactive, master=master.fd))
    log.step(_("terminal: a pty of the container's own /dev/pts, its /dev/console and fds 0-2"), steps, [])
    return pty


def _observe(pid: int, log: RunLog) -> None:
    """What the kernel says about the container's PID 1 right after its execve. A command as short as
    /bin/true may already be gone: then the facts say null rather than guess."""
    try:
        status = procfs.status(pid)
    except OSError:
        status = {}
    log.fact("cap_eff", status.get("CapEff"))
    log.fact("cap_bnd", status.get("CapBnd"))
    log.fact("no_new_privs", status["NoNewPrivs"] == "1" if "NoNewPrivs" in status else None)
    log.fact("seccomp_mode", int(status["Seccomp"]) if "Seccomp" in status else None)


def _cgroup(spec: RunSpec, ctx: Any, log: RunLog, role: str, parent: tuple[Any, str] | None) -> Any:
    controllers = ["memory", "pids", "cpu"]
    if spec.device_write_bps:
        controllers.append("io")
    if not spec.privileged:  # the device cgroup (v1; on v2 a BPF program, no controller): see below
        controllers.append("devices")
    # Inside a parent, the run record names the top of its tree: cleanup removes that tree, children first.
    cgroup = ctx.cgroup(role, controllers) if parent is None else ctx.own(parent[0].child(parent[1], controllers))
    writes = []
    if spec.memory is not None:
        writes += cgroup.set_memory_limit(spec.memory)
        # Docker's default without --memory-swap: as much swap as memory (memory + swap = twice the limit)
        swap = cgroup.set_swap_limit(spec.memory, 2 * spec.memory if spec.memory_swap is None else spec.memory_swap)
        if swap is not None:
            writes.append(swap)
    if spec.cpus is not None:
        period = 100_000
        writes += cgroup.set_cpu_quota(round(spec.cpus * period), period)
    if spec.cpu_shares is not None:
        writes.append(cgroup.set_cpu_shares(spec.cpu_shares))
    if spec.pids_limit is not None:
        writes.append(cgroup.set_pids_max(spec.pids_limit))
    for device, rate in spec.device_write_bps:
        writes.append(cgroup.set_io_write_limit(_whole_disk(device), rate))
    log.step(
        _("cgroup {path}", path=cgroup.path),
        [f'mkdir("{path}", 0755)' for path in cgroup.paths] + [w.syscall for w in writes],
        [w.shell for w in writes],
        cgroup_paths=cgroup.paths,
        cgroup_writes={w.path: w.value for w in writes},
    )
    if not spec.privileged:  # only runc's allowed devices (container/devices.py); --privileged: all, as Docker
        from isodemo.container.devices import ALLOWED

        allowed = cgroup.allow_devices(ALLOWED)
        log.step(
            _("devices: every device is refused (EPERM) but runc's allow list of {count} rules", count=len(ALLOWED)),
            [w.syscall for w in allowed],
            [w.shell for w in allowed],
        )
    return cgroup


def _whole_disk(device: str) -> str:
    """MAJ:MIN of the whole disk a device (a node, or MAJ:MIN) is or is a partition of: io.max refuses a
    partition."""
    if device[:1].isdigit():
        majmin = device
    else:
        try:
            rdev = os.stat(device).st_rdev
        except OSError as error:
            raise RunError(_("--device-write-bps: {device}: {reason}", device=device, reason=error.strerror)) from None
        majmin = f"{os.major(rdev)}:{os.minor(rdev)}"
    if not os.path.exists(f"/sys/dev/block/{majmin}"):
        raise RunError(_("--device-write-bps: {device} is not a block device of this machine", device=device))
    partition = f"/sys/dev/block/{majmin}/partition"
    if os.path.exists(partition):
        parent = os.path.realpath(f"/sys/dev/block/{majmin}/..")
        majmin = _read(os.path.join(parent, "dev")).strip()
    return majmin


def _network(spec: RunSpec, ctx: Any, box: Any, log: RunLog) -> str:
    from isodemo.container.network import bridge_network

    return bridge_network(spec, ctx, box, log)


def _image_file(merged: str, layers: tuple[str, ...], relative: str) -> str:
    """A file of the image as the container will see it, read on the host: through the overlay when it is
    mounted here, else from the highest layer that has it (rootless: the child mounts the overlay). Resolved
    inside the root, and read only when it is a regular file (kernel/openat2.py): an image's
    `etc/passwd -> /etc/shadow` or device node never makes isodemo open a host file."""
    if os.path.ismount(merged):
        return openat2.read_regular(merged, relative) or ""
    for layer in reversed(layers):
        if openat2.present(layer, relative):  # the highest layer that names it decides, a whiteout too
            return openat2.read_regular(layer, relative) or ""
    return ""


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
