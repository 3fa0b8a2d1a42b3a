"""container: one container built step by step, in runc's order, each step seen from the host and from inside.

What you will see: `isodemo run`'s runtime (container/runtime.py) building a busybox container with a memory
and a pids limit, a bridge network and no_new_privileges; after each step of build() the demo looks: the
overlay from the host (findmnt), the cgroup files read back, the namespace inodes (lsns), the interfaces
inside, the hostname, `ls /` before and after pivot_root, the masked and read-only paths, then the lock-down
in three parts, each seen in the child's /proc/self/status: no_new_privs, the capabilities, seccomp. Last the
execve, with the command's own output, and the same container as a `docker run` line, a runc config.json
(generated from the values used: container/equivalents.py) and a Pod's securityContext.
Kubernetes: what kubelet, containerd and runc do for every container; securityContext.

runc's order is libcontainer/standard_init_linux.go's Init(): network, mounts and pivot_root (prepareRootfs),
hostname, read-only paths, masked paths, no_new_privs, [seccomp when no_new_privs is off], the capabilities
and the user (finalizeNamespace), [seccomp when no_new_privs is on], execve. Where isodemo's order differs,
the narration says so. The observer (_Watch) is the RunLog build() reports each step to; the probes below run
in the container's PID 1 before its execve (runc's "created" state): the child is a fork of this process, so
they are already imported there, after pivot_root too.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import stat
from typing import Any, TypeVar

from isodemo.container import equivalents, equivalents_k8s, runtime, security, short_run
from isodemo.container.spec import RunSpec
from isodemo.context import DemoContext
from isodemo.i18n import _
from isodemo.inside import net as inside_net
from isodemo.inside import observe
from isodemo.inside import security as inside_security
from isodemo.isolated import Isolated
from isodemo.kernel import fdpass, procfs
from isodemo.kernel import namespaces as kns
from isodemo.narrate.base import Narrator
from isodemo.narrate.runlog import RunLog
from isodemo.values import format_bytes

T = TypeVar("T")

MEMORY = 64 << 20
PIDS = 64
RUN_TIMEOUT = 10.0
OUTPUT_LIMIT = 64 << 10
SHOWN_LINES = 4  # shell lines shown of a step that is told in passing (the device rules, the helper's moves)
SCRIPT = (
    'grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" /proc/self/status; '
    "echo ls /: $(ls /); "
    "ip -o -4 addr show dev eth0 | awk '{print \"eth0\", $4}'; "
    "hostname"
)
COMMAND = ("sh", "-c", SCRIPT)
TRIED = "/proc/sys/kernel/hostname"  # opened for writing (nothing written): read-only /proc/sys says EROFS


def spec_for(options: dict[str, Any]) -> RunSpec:
    return RunSpec(
        "busybox",
        command=COMMAND,
        memory=MEMORY,
        pids_limit=PIDS,
        network="bridge",
        no_new_privileges=True,
    )


# -- the observer ------------------------------------------------------------------------------------------


class _Context(DemoContext):
    """The demo's context for build(): it keeps the Isolated child build() owns, to look inside it."""

    box: Isolated | None = None

    def own(self, resource: contextlib.AbstractContextManager[T]) -> T:
        owned = super().own(resource)
        if isinstance(owned, Isolated):
            self.box = owned
        return owned


class _Watch(RunLog):
    """The RunLog build() reports to: each step is told and observed as soon as it is done."""

    def __init__(self, demo: _Demo) -> None:
        super().__init__()
        self.demo = demo

    def step(self, title: str, syscalls: list[str], shell: list[str] | None = None, **facts: Any) -> None:
        super().step(title, syscalls, shell, **facts)
        self.demo.after(title, list(syscalls), list(shell or []), facts)


class _Demo:
    def __init__(self, narrator: Narrator, ctx: _Context, spec: RunSpec) -> None:
        self.narrator = narrator
        self.ctx = ctx
        self.spec = spec
        self.image = ""
        self.layers = 0
        self.merged = ""
        self.pid = 0
        self.names: list[str] = []
        self.new_types: list[str] = []  # the namespace types whose inode differs from the host's (lsns)
        self.hostname_asked = ""
        self.etc_files: dict[str, str] = {}
        self.cgroup_paths: list[str] = []

    @property
    def box(self) -> Isolated:
        assert self.ctx.box is not None  # build() made it before the namespaces step
        return self.ctx.box

    # -- build()'s steps, as they happen

    def after(self, title: str, syscalls: list[str], shell: list[str], facts: dict[str, Any]) -> None:
        """Dispatched on the facts build() logs with each step, never on its (translated) words."""
        if "image" in facts:
            self.image = str(facts["image"])
            self.layers = int(facts["layers"])
        elif "overlay" in facts:
            self.overlay(syscalls, shell, facts["overlay"])
        elif "cgroup_writes" in facts:
            self.cgroup(title, syscalls, shell, facts["cgroup_paths"], facts["cgroup_writes"])
        elif "namespaces" in facts:
            self.namespaces(title, syscalls, shell, facts)
        elif "ip_address" in facts:
            self.network(title, syscalls, shell, facts)
        elif "hostname" in facts:
            self.hostname(syscalls, str(facts["hostname"]))
        elif "root" in facts:
            self.rootfs(syscalls, str(facts["root"]), facts["etc_files"])
        elif "start_ms" in facts:
            pass  # runtime.start's execve: the demo tells it itself (_execve)
        else:  # the device rules, the helper's moves: part of the step told last
            self.narrator.explain(title)
            shown = shell[:SHOWN_LINES]
            if len(shell) > SHOWN_LINES:
                shown.append(_("# ... and {n} more", n=len(shell) - SHOWN_LINES))
            self.narrator.shell(*shown)

    def overlay(self, syscalls: list[str], shell: list[str], overlay: dict[str, Any]) -> None:
        n = self.narrator
        self.merged = str(overlay["merged"])
        n.step(
            _("The image's layers, stacked with overlayfs on the host (runc gets a ready root)"),
            syscalls=syscalls,
            shell=shell,
        )
        entry = next((e for e in procfs.mountinfo() if e.mount_point == self.merged), None)
        fstype = entry.fstype if entry is not None else _("not mounted")
        lower = overlay["lower"]
        n.compare(
            f"findmnt {self.merged}",
            [
                f"TARGET {self.merged}",
                f"FSTYPE {fstype}",
                f"lowerdir: {len(lower)} {_('layer(s), read-only')}",
                f"upperdir: {overlay['upper']}",
            ],
            [_("(no process yet: nothing is inside)"), f"ls merged: {' '.join(sorted(os.listdir(self.merged)))}"],
            host_title=_("host"),
            inside_title=_("the container's future /"),
        )
        n.fact("overlay", {"fstype": fstype, "lower": list(lower), "upper": overlay["upper"], "merged": self.merged})
        n.claim(_("{merged} is an overlay mount on the host", merged=self.merged), fstype == "overlay")
        n.explain(
            _(
                "Image {image}. Docker (containerd's snapshotter) mounts the overlay before it calls runc; "
                "config.json's root.path names the merged directory.",
                image=self.image,
            )
        )

    def cgroup(
        self, title: str, syscalls: list[str], shell: list[str], paths: list[str], writes: dict[str, str]
    ) -> None:
        n = self.narrator
        self.cgroup_paths = list(paths)
        n.step(_("A cgroup with the limits, before any process is in it"), syscalls=syscalls, shell=shell)
        written = list(writes.items())  # build()'s {file: value}, in the order it wrote them
        read = {path: _read(path).strip() for path, _value in written}
        n.compare(
            title,
            [f"{os.path.basename(path)} <- {value}" for path, value in written],
            [f"{os.path.basename(path)}: {read[path]}" for path, _value in written],
            host_title=_("written"),
            inside_title=_("read back (cat)"),
        )
        n.fact("cgroup_paths", list(paths))
        n.fact("cgroup_limits", {os.path.basename(path): read[path] for path, _value in written}, show=False)
        limits_held = all(read[path] == value for path, value in written)
        n.claim(
            _(
                "the kernel holds what was written: memory {memory}, at most {pids} processes",
                memory=format_bytes(MEMORY),
                pids=PIDS,
            ),
            limits_held and bool(written),
        )
        n.explain(
            _(
                "runc makes the cgroup and sets its limits before the container's process runs (the runc init "
                "process is moved in first, so everything it forks is counted)."
            )
        )

    def namespaces(self, title: str, syscalls: list[str], shell: list[str], facts: dict[str, Any]) -> None:
        n = self.narrator
        self.pid = int(facts["pid"])
        self.names = list(facts["namespaces"])
        n.step(_("New namespaces: unshare, then fork PID 1"), syscalls=syscalls, shell=[*shell, f"lsns -p {self.pid}"])
        rows = []
        observed: dict[str, int] = {}
        for name in kns.available_types():
            host, inside = kns.ns_inode("self", name), kns.ns_inode(self.pid, name)
            observed[name] = inside
            rows.append([name, str(host), str(inside), _("new") if host != inside else _("the host's")])
        n.table(f"lsns -p {self.pid}  ({title})", [_("type"), _("host"), _("container"), _("namespace")], rows)
        self.new_types = [name for name in observed if observed[name] != kns.ns_inode("self", name)]
        n.fact("namespaces", {name: observed[name] for name in self.names})
        n.fact("pid", self.pid, show=False)
        new = all(observed[name] != kns.ns_inode("self", name) for name in self.names)
        n.claim(_("each of {names} is a new namespace", names=", ".join(self.names)), new)
        inside_root = self.box.call(observe.root_listing)
        n.compare(
            "ls /",
            " ".join(observe.root_listing()),
            " ".join(inside_root),
            host_title=_("host"),
            inside_title=_("inside PID 1 (host pid {pid})", pid=self.pid),
        )
        n.claim(
            _("inside, / is still the host's: a new mount namespace starts as a copy of its parent's"),
            inside_root == observe.root_listing(),
        )
        n.explain(
            _(
                "runc's nsexec (shared/design/k8s-reference.md section 1) unshares CLONE_NEWUSER first, when "
                "there is one, so that its parent can write uid_map; then every other namespace but cgroup in "
                "one unshare(2); then it clones PID 1, which unshares CLONE_NEWCGROUP last, once it is in the "
                "container's cgroup. Here, with no user namespace, isodemo unshares CLONE_NEWPID itself and forks "
                "PID 1 straight into it; PID 1 joins the cgroup, then makes every other namespace in one "
                "unshare(2): one fork where runc has two. With a user namespace a helper follows runc's order "
                "(PID 1 unshares CLONE_NEWCGROUP itself) and then moves out to its -shim cgroup, which a process "
                "inside the new cgroup namespace could not do where cgroup2 is mounted with nsdelegate, as "
                "systemd mounts it."
            )
        )

    def network(self, title: str, syscalls: list[str], shell: list[str], facts: dict[str, Any]) -> None:
        n = self.narrator
        n.step(_("The network: a veth pair into the new network namespace"), syscalls=syscalls, shell=shell)
        links = self.box.call(inside_net.link_table)
        bridge = str(facts["bridge"])
        ports = sorted(os.listdir(f"/sys/class/net/{bridge}/brif")) if _is_bridge(bridge) else []
        pinned = f"/run/netns/{self.ctx.run.name}"
        pinned_inode = _inode(pinned)
        n.compare(
            title,
            [
                f"ls /sys/class/net/{bridge}/brif: {' '.join(ports) or _('(none)')}",
                f"stat -L -c %i {pinned}: {pinned_inode or _('(none)')}",
            ],
            links,
            host_title=_("host"),
            inside_title="ip -brief addr",
        )
        address = str(facts["ip_address"])
        seen = any(line.startswith("eth0") and address in line for line in links)
        n.check("ip_address", address, _("eth0 inside has {address}", address=address), seen, show=True)
        n.claim(_("on the host, the bridge {bridge} has the veth's host end as its port", bridge=bridge), bool(ports))
        n.claim(
            _("{path} is the container's network namespace (the same inode), pinned by a bind mount", path=pinned),
            pinned_inode == kns.ns_inode(self.pid, "net"),
        )
        n.explain(
            _(
                "runc itself only makes an empty network namespace. Docker's daemon (libnetwork) or a Kubernetes "
                "CNI plugin wires it; containerd hands runc a network namespace already made and pinned, as "
                "isodemo does here."
            )
        )

    def hostname(self, syscalls: list[str], asked: str) -> None:
        n = self.narrator
        n.step(_("The hostname, in the new UTS namespace"), syscalls=syscalls)
        self.hostname_asked = asked
        inside = self.box.call(observe.hostname)
        host = observe.hostname()
        n.compare("hostname", host, inside, host_title=_("host"), inside_title=_("inside"))
        n.check("hostname", inside, _("the container has its own hostname"), inside == asked != host)
        n.explain(
            _(
                "Order: runc sets the hostname inside, after pivot_root; isodemo asks its child to do it just "
                "before. The UTS namespace is the same either way."
            )
        )

    def rootfs(self, syscalls: list[str], root: str, etc_files: dict[str, str]) -> None:
        n = self.narrator
        self.etc_files = dict(etc_files)
        n.step(
            _("/proc, /dev, /sys and /etc files mounted in the new root, pivot_root, then the masked paths"),
            syscalls=syscalls,
            shell=[f"mount -t proc proc {root}/proc", f"cd {root} && pivot_root . . && umount -l ."],
        )
        inside_root = self.box.call(observe.root_listing)
        table = self.box.call(observe.mount_table)
        image_root = sorted(name for name in os.listdir(root) if not name.startswith("."))
        n.compare(
            "ls /",
            " ".join(image_root),
            " ".join(inside_root),
            host_title=_("host: {merged}", merged=root),
            inside_title=_("inside"),
        )
        n.fact("root_listing", inside_root)
        n.claim(_("inside, / is now the image's tree, the host's / is out of reach"), inside_root == image_root)
        host_root = next(((e.major_minor, e.root) for e in procfs.mountinfo() if e.mount_point == "/"), None)
        on_root = [(fstype, majmin) for point, fstype, majmin, _r in table if point == "/"]
        old_root = [point for point, _t, majmin, fs_root in table if (majmin, fs_root) == host_root]
        n.compare(
            _("mount (inside: /proc/self/mountinfo)"),
            [
                _("{count} mounts in this mount namespace", count=len(table)),
                _("the host's /: {device} {root}", device=host_root[0], root=host_root[1]) if host_root else "",
            ],
            [f"{point} {fstype}" for point, fstype, _m, _r in table if not point.startswith(("/proc/", "/sys/"))],
            host_title=_("host"),
            inside_title=_("inside"),
        )
        n.fact("root_mounts", [fstype for fstype, _m in on_root], show=False)
        n.claim(
            _("exactly one mount on / inside, the overlay, and the host's root filesystem is mounted nowhere"),
            [fstype for fstype, _m in on_root] == ["overlay"] and host_root is not None and not old_root,
        )
        n.explain(
            _(
                "runc's prepareRootfs does the same: every mount is made under the new root first, then "
                "pivot_root(2) swaps the roots and umount2(MNT_DETACH) drops the old one, so no path leads back "
                "to the host's files (a chroot would leave them reachable). The last calls above are the next "
                "step's: the read-only and masked paths, made in the same call of the runtime."
            )
        )
        self.masked()

    def masked(self) -> None:
        n = self.narrator
        masked, readonly = security.paths_for(self.spec)
        n.step(_("Read-only and masked paths of /proc and /sys"))
        states = self.box.call(observe.mount_states, masked)
        words = {"mount": _("a mount"), "absent": _("absent"), "not a mount": _("not a mount")}
        present = [path for path, state in states.items() if state != "absent"]
        mounted = [path for path in present if states[path] == "mount"]
        tried = self.box.call(observe.try_write, TRIED)
        n.compare(
            _("masked: /dev/null or an empty tmpfs over each"),
            [_("moby's list: {count} paths", count=len(masked)), *masked],
            [f"{path}: {words[states[path]]}" for path in masked],
            host_title=_("asked"),
            inside_title=_("inside: /proc/self/mountinfo"),
        )
        n.fact("masked_paths", states, show=False)
        n.check(
            "masked_paths_mounted",
            len(mounted),
            _(
                "each of the {present} masked paths this kernel has is a mount inside ({absent} absent: nothing "
                "to hide, runc skips those too)",
                present=len(present),
                absent=len(masked) - len(present),
            ),
            bool(mounted) and len(mounted) == len(present),
        )
        n.check(
            "readonly_write_errno",
            tried,
            _(
                "{path} cannot be opened for writing, even by root with every capability: {errno}",
                path=TRIED,
                errno=tried,
            ),
            tried == "EROFS",
        )
        n.fact("readonly_paths", list(readonly), show=False)
        n.explain(
            _(
                "runc applies readonlyPaths, then maskedPaths, after the hostname; isodemo right after "
                "pivot_root. Root inside still has every capability here: only the read-only mount stops the "
                "write."
            )
        )

    # -- the lock-down, in runc's order, one part at a time

    def lock_down(self, process: dict[str, Any]) -> tuple[str, ...]:
        n = self.narrator
        box = self.box
        sec = process["security"]
        kept = tuple(sec["capabilities"])
        n.step(_("no_new_privs"), syscalls=["prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)"])
        before = box.call(observe.status_fields)
        n.fact("cap_eff_before", before["CapEff"])
        call = box.call(inside_security.set_no_new_privs)
        after = box.call(observe.status_fields)
        self._status_compare(before, after, ("NoNewPrivs",))
        n.check(
            "no_new_privs",
            after["NoNewPrivs"] == "1",
            _(
                "NoNewPrivs {before} -> {after}: execve can no longer grant privileges",
                **_pair(before, after, "NoNewPrivs"),
            ),
            before["NoNewPrivs"] == "0" and after["NoNewPrivs"] == "1",
        )
        n.shell(f"# {call}   (docker run --security-opt no-new-privileges)")

        n.step(_("Capabilities: the bounding set, the user, then capset"))
        before = after
        calls = box.call(
            inside_security.drop_capabilities, kept, process["uid"], process["gid"], tuple(process["groups"])
        )
        after = box.call(observe.status_fields)
        n.shell(*(f"# {c}" for c in calls))
        self._status_compare(before, after, ("CapBnd", "CapEff"))
        expected = _bits(kept)
        n.fact("cap_eff_after", after["CapEff"])
        n.fact("cap_bnd_after", after["CapBnd"], show=False)
        n.claim(
            _(
                "CapEff and CapBnd are now the {count} capabilities kept ({bits})",
                count=len(kept),
                bits=format(expected, "016x"),
            ),
            int(after["CapEff"], 16) == expected == int(after["CapBnd"], 16),
        )
        n.explain(
            _(
                "runc's finalizeNamespace: the bounding set first (prctl PR_CAPBSET_DROP needs CAP_SETPCAP), "
                "then setgroups, setresgid, setresuid, then capset for the permitted and effective sets. The "
                "dropped ones can never come back: not through execve, not through a setuid file."
            )
        )

        n.step(_("seccomp, last before execve"))
        before = after
        call = box.call(inside_security.load_seccomp, kept)
        after = box.call(observe.status_fields)
        n.shell(f"# {call}")
        self._status_compare(before, after, ("Seccomp",))
        n.check(
            "seccomp_mode",
            int(after["Seccomp"]),
            _("Seccomp {before} -> {after}: a filter checks every system call", **_pair(before, after, "Seccomp")),
            before["Seccomp"] == "0" and after["Seccomp"] == "2",
        )
        n.explain(
            _(
                "runc loads the filter as late as it can when no_new_privs is on (fewer of its own calls after "
                "it). Without no_new_privs the kernel lets only a process with CAP_SYS_ADMIN load one, so runc "
                "then loads it before the capabilities go. `isodemo run` always loads it first, while "
                "CAP_SYS_ADMIN is still held: one order whether no_new_privs is asked or not, and its deny "
                "list refuses none of the calls that follow (prctl, setresuid, capset)."
            )
        )
        return kept

    def _status_compare(self, before: dict[str, str], after: dict[str, str], changed: tuple[str, ...]) -> None:
        self.narrator.compare(
            "grep -E 'Cap|NoNewPrivs|Seccomp' /proc/self/status",
            [f"{key}:\t{before[key]}" for key in observe.STATUS_FIELDS],
            [f"{key}:\t{after[key]}" + ("   <-" if key in changed else "") for key in observe.STATUS_FIELDS],
            host_title=_("inside, before"),
            inside_title=_("inside, after"),
        )


def _pair(before: dict[str, str], after: dict[str, str], key: str) -> dict[str, str]:
    return {"before": before[key], "after": after[key]}


def _is_bridge(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return 0


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, "?")


# -- the demo ---------------------------------------------------------------------------------------------


def run(narrator: Narrator, ctx: DemoContext) -> None:
    spec = spec_for(ctx.options)
    build_ctx = _Context(ctx.run, ctx.host, ctx.stack, ctx.hold, ctx.options)
    demo = _Demo(narrator, build_ctx, spec)
    narrator.step(
        _("The container to build, as `isodemo run` would"),
        shell=[
            "sudo isodemo run --memory 64m --pids-limit 64 --network bridge --security-opt no-new-privileges "
            + shlex.join(["busybox", *COMMAND])
        ],
    )
    narrator.explain(
        _(
            "One busybox container, built by isodemo run's own runtime. After each step the demo looks from the "
            "host and from inside. The steps follow runc's order (libcontainer/standard_init_linux.go); where "
            "isodemo's differs, it says so."
        )
    )
    log = _Watch(demo)
    started = runtime.build(spec, build_ctx, log)
    kept = demo.lock_down(started.process)
    ctx.hold_here(
        narrator,
        {"container": demo.pid},
        [f"sudo lsns -p {demo.pid}", f"grep -E 'Cap|NoNewPrivs|Seccomp' /proc/{demo.pid}/status"],
        cgroups=demo.cgroup_paths,
        netns=[ctx.run.name],
    )
    output, code = _execve(narrator, demo, started, log)
    _command_output(narrator, demo, output, code, kept)
    used = _used(demo, started, kept)
    _equivalents(narrator, demo, used, ctx)
    _security_context(narrator, spec, used)
    narrator.kubernetes(
        _(
            "For every container of a Pod, the kubelet asks containerd over CRI, containerd mounts the image's "
            "snapshot and writes a config.json like the one above, and runc does these steps in this order. The "
            "Pod's securityContext decides the lock-down: capabilities, allowPrivilegeEscalation "
            "(no_new_privs), seccompProfile, procMount, readOnlyRootFilesystem, privileged."
        )
    )


def _execve(narrator: Narrator, demo: _Demo, started: runtime.Started, log: RunLog) -> tuple[str, int | None]:
    """execve the command through `isodemo run`'s runtime.start (the lock-down is already made), its stdout
    and stderr into a pipe; wait for its end. (output, exit code)."""
    box = demo.box
    argv = started.process["argv"]
    narrator.step(
        _("execve: PID 1 becomes the image's command"),
        syscalls=["dup2(pipe, 1)", "dup2(pipe, 2)", f"execve({argv[0]!r}, {list(argv)!r}, ...)"],
    )
    read_end, write_end = os.pipe()
    try:
        box.call(observe.output_to, fdpass.Descriptor(write_end))  # the channel sends it and closes this copy
        code = short_run.run_to_end(started, log, RUN_TIMEOUT, locked=True)
        output = _read_all(read_end)
    finally:
        os.close(read_end)
    return output, code


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    size = 0
    with contextlib.suppress(BlockingIOError):
        while size < OUTPUT_LIMIT and (chunk := os.read(fd, 4096)):
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks).decode(errors="replace")


def _command_output(narrator: Narrator, demo: _Demo, output: str, code: int | None, kept: tuple[str, ...]) -> None:
    lines = output.splitlines()
    narrator.compare(
        shlex.join(["sh", "-c", "..."]),
        [_("exit status {code}", code=code if code is not None else _("none: killed after {s} s", s=RUN_TIMEOUT))],
        lines,
        host_title=_("host"),
        inside_title=_("its output (a pipe)"),
    )
    seen = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    narrator.fact("command_output", lines, show=False)
    narrator.check("exit_code", code, _("the command ran and exited 0"), code == 0)
    narrator.fact("command_status", seen, show=False)
    narrator.claim(
        _(
            "the command itself sees the lock-down: CapEff {eff}, NoNewPrivs {nnp}, Seccomp {mode}",
            eff=seen.get("CapEff", "?"),
            nnp=seen.get("NoNewPrivs", "?"),
            mode=seen.get("Seccomp", "?"),
        ),
        seen.get("NoNewPrivs") == "1"
        and seen.get("Seccomp") == "2"
        and seen.get("CapEff") == narrator.report.facts.get("cap_eff_after"),
    )
    narrator.explain(
        _(
            "`isodemo run` makes these last steps in one call before its execve; here each was a call of its "
            "own. The command's stdout and stderr were a pipe the demo handed to PID 1 (SCM_RIGHTS), where "
            "`isodemo run` leaves them the terminal's."
        )
    )


def _used(demo: _Demo, started: runtime.Started, kept: tuple[str, ...]) -> equivalents.Used:
    process = started.process
    sec = process["security"]
    masked, readonly = security.paths_for(demo.spec)
    rules = inside_security.default_filter(kept) if sec["seccomp"] else None
    cgroup = started.cgroup
    return equivalents.Used(
        name=demo.ctx.run.name,
        hostname=demo.hostname_asked,
        argv=tuple(process["argv"]),
        env=tuple(process["env"]),
        cwd=process["cwd"],
        uid=process["uid"],
        gid=process["gid"],
        groups=tuple(process["groups"]),
        capabilities=kept,
        no_new_privs=sec["no_new_privs"],
        seccomp=rules,
        namespaces=tuple(demo.names),
        masked_paths=masked,
        readonly_paths=readonly,
        root=demo.merged,
        etc_files=dict(demo.etc_files),
        netns_path=f"/run/netns/{demo.ctx.run.name}" if demo.spec.network == "bridge" else None,
        cgroups_path=equivalents.cgroups_path(cgroup.path, cgroup.hierarchy_root, cgroup.version)
        if cgroup is not None
        else "",
    )


def _equivalents(narrator: Narrator, demo: _Demo, used: equivalents.Used, ctx: DemoContext) -> None:
    spec = demo.spec
    config = equivalents.oci_config(spec, used)
    cgroupns = equivalents.docker_cgroupns(used.namespaces, ctx.host.cgroup_mode == "v2")
    argv = equivalents.docker_run(spec, used.name, cgroupns=cgroupns)
    narrator.step(
        _("The same container for Docker and for runc"),
        shell=[shlex.join(argv), "runc run --bundle BUNDLE NAME   # BUNDLE/config.json as below"],
    )
    narrator.compare(
        _("generated from the options and the values used"),
        equivalents.docker_lines(spec, used.name, cgroupns=cgroupns),
        equivalents.summary_lines(config),
        host_title="docker run",
        inside_title="runc config.json",
    )
    facts = equivalents.key_facts(config)
    narrator.fact("docker_run", shlex.join(argv), show=False)
    narrator.fact("oci_config", facts, show=False)
    narrator.fact("cgroups_path", config["linux"].get("cgroupsPath", ""), show=False)
    if cgroupns is not None:
        narrator.explain(
            _(
                "--cgroupns private: on a cgroup v1 host Docker's default is the host's cgroup namespace; this "
                "container has one of its own."
            )
        )
    target = ctx.options.get("oci_config")
    if target:
        _write_config(target, config)
        narrator.explain(_("The whole config.json: {path}", path=target))
    rows = _config_against_observed(config, demo, narrator.report.facts)
    narrator.table(_("config.json against what the demo observed"), [_("field"), "config.json", _("observed")], rows)
    narrator.claim(
        _("the config names the namespaces, limits and lock-down observed above"),
        all(row[1] == row[2] for row in rows),
    )
    narrator.explain(
        _(
            "Named differences: the seccomp section is isodemo's deny list (Docker's profile is an allow list "
            "of about 440 calls); the network namespace is the path of the one isodemo wired, as containerd "
            "passes runc a pinned one; Docker's daemon would make and wire it itself."
        )
    )


def _config_against_observed(config: dict[str, Any], demo: _Demo, observed: dict[str, Any]) -> list[list[str]]:
    """[field, what config.json says, what was observed] for each field the demo observed."""
    linux, process = config["linux"], config["process"]
    res = linux["resources"]
    limits: dict[str, str] = observed.get("cgroup_limits", {})
    memory_read = next((limits[f] for f in ("memory.max", "memory.limit_in_bytes") if f in limits), "?")
    kinds = sorted(n["type"] for n in linux["namespaces"])
    new = sorted(equivalents.OCI_NAMESPACES.get(name, name) for name in demo.new_types)
    caps = process["capabilities"]["effective"]
    return [
        ["linux.namespaces", " ".join(kinds), " ".join(new)],
        ["resources.memory.limit", str(res.get("memory", {}).get("limit")), memory_read],
        ["resources.pids.limit", str(res.get("pids", {}).get("limit")), limits.get("pids.max", "?")],
        ["capabilities.effective", format(_bits(tuple(caps)), "016x"), str(observed.get("cap_eff_after"))],
        ["noNewPrivileges", str(process["noNewPrivileges"]).lower(), str(observed.get("no_new_privs")).lower()],
        ["seccomp", "2" if "seccomp" in linux else "0", str(observed.get("seccomp_mode"))],
        ["hostname", config["hostname"], str(observed.get("hostname"))],
    ]


def _write_config(path: str, config: dict[str, Any]) -> None:
    """Write config.json as root without following a symlink someone put there (O_NOFOLLOW) and without
    truncating anything but a regular file; given to the user who ran sudo (SUDO_UID, SUDO_GID)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
    with os.fdopen(fd, "w") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        os.ftruncate(fd, 0)
        json.dump(config, f, indent=2)
        f.write("\n")
        uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
        if uid.isdigit() and gid.isdigit():
            os.fchown(fd, int(uid), int(gid))


def _security_context(narrator: Narrator, spec: RunSpec, used: equivalents.Used) -> None:
    narrator.step(_("Kubernetes: the securityContext fields behind each step"))
    seccomp_rules = len(used.seccomp) if used.seccomp is not None else 0
    narrator.compare(
        _("the Pod's container"),
        equivalents_k8s.security_context(spec, used.capabilities, used.seccomp is not None),
        [
            _(
                "the runtime's {count} default capabilities: drop and add change that set",
                count=len(security.DEFAULT_CAPABILITIES),
            )
        ],
        host_title=_("Pod spec, containers[0]"),
        inside_title=_("note"),
    )
    narrator.table(
        "",
        [_("field"), _("value"), _("what isodemo did"), _("step")],
        equivalents_k8s.mapping_rows(
            spec,
            kept=used.capabilities,
            dropped_count=bin(_all_bits() & ~_bits(used.capabilities)).count("1"),
            seccomp_rules=seccomp_rules,
            masked=len(used.masked_paths),
            readonly=len(used.readonly_paths),
        ),
    )
    narrator.explain(
        _(
            "Simplifications, named: the kubelet's default seccompProfile is Unconfined unless seccompDefault is "
            "on; readOnlyRootFilesystem is not an isodemo run option; procMount Unmasked needs a user "
            "namespace (hostUsers: false)."
        )
    )


def _bits(names: tuple[str, ...]) -> int:
    from isodemo.kernel import capabilities

    value = 0
    for name in names:
        value |= 1 << capabilities.bit(name)
    return value


def _all_bits() -> int:
    from isodemo.kernel import capabilities

    return capabilities.bounding()
