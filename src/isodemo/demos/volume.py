"""volume: a Pod's volumes made from mounts, seen from the host and from inside its containers.

What you will see: an emptyDir, a directory of the kubelet's bound into two containers, that both see and that
goes with the Pod; an emptyDir on a tmpfs (medium: Memory) whose pages are charged to the writing container's
memory cgroup, until the OOM killer ends it (137); a hostPath mounted read-only (EROFS); mountPropagation
None / HostToContainer / Bidirectional as rprivate / rslave / rshared mounts, proven by the shared:N and
master:N tags of /proc/PID/mountinfo; a subPath that shows only its subdirectory.
Kubernetes: volumes (emptyDir, hostPath, subPath) and volumeMounts.mountPropagation.

Each container is an `isodemo run` container (container/runtime.py) with the volumes a kubelet would give it;
the namespaces a Pod's containers share are `isodemo pod`'s subject, not this demo's.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from isodemo.container.spec import Volume
from isodemo.context import DemoContext
from isodemo.i18n import _
from isodemo.inside import volumes as probes
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes
from isodemo.volumes import containers, node, tree
from isodemo.volumes.kubelet import EMPTY_DIR, Kubelet, memory_size, node_allocatable

LIMIT = 32 << 20  # each container's resources.limits.memory
CHARGE = 8 << 20  # what the writer puts on the memory-backed emptyDir before it is started
OOM_TIMEOUT = 20.0
MODES = (("None", "rprivate"), ("HostToContainer", "rslave"), ("Bidirectional", "rshared"))

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: writer
    image: busybox
    resources: {limits: {memory: 32Mi}}
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: scratch, mountPath: /scratch}
  - name: reader
    image: busybox
    resources: {limits: {memory: 32Mi}}
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: cache, mountPath: /logs, subPath: logs}
    - {name: config, mountPath: /config/app.conf, readOnly: true}
    - {name: data, mountPath: /data, readOnly: true}
  volumes:
  - {name: cache, emptyDir: {}}
  - {name: scratch, emptyDir: {medium: Memory}}
  - {name: config, hostPath: {path: <node>/app.conf, type: File}}
  - {name: data, hostPath: {path: <node>/data, type: DirectoryOrCreate}}"""


def run(narrator: Narrator, ctx: DemoContext) -> None:
    kubelet = ctx.enter(Kubelet(ctx.run))
    nodedir = ctx.enter(node.Node(ctx.run))
    uid = str(uuid.uuid4())
    pod_ctx, pod_stack = containers.pod_context(ctx)
    pod_ctx.on_exit(tree.remove, kubelet.pod_dir(uid))  # the Pod's directory goes after its containers
    paths = _kubelet_volumes(narrator, kubelet, nodedir, uid)
    writer, reader = _web_pod(narrator, pod_ctx, paths)
    _empty_dir_shared(narrator, writer, reader, paths)
    _subpath(narrator, reader, paths)
    _hostpath_readonly(narrator, reader, paths)
    _memory_charged(narrator, writer, paths)
    boxes = _propagation(narrator, ctx, nodedir)
    _memory_oom(narrator, writer)
    ctx.hold_here(
        narrator,
        {"reader": reader.pid, **{f"propagation-{mode}": c.pid for mode, c in boxes.items()}},
        [
            f"findmnt -R -o TARGET,PROPAGATION,FSTYPE {kubelet.root}",
            f"findmnt -R -o TARGET,PROPAGATION {nodedir.root}",
            f"grep /cache /proc/{reader.pid}/mountinfo",
        ],
        paths={"kubelet": kubelet.root, "node": nodedir.root},
    )
    _delete_pod(narrator, pod_stack, kubelet.pod_dir(uid), paths["cache"])
    narrator.kubernetes(
        _(
            "A volume is a mount the kubelet prepares on the node and the runtime binds into the container's "
            "mount namespace (containerd: rbind plus rprivate, rslave or rshared; runc applies them). emptyDir "
            "lives under /var/lib/kubelet/pods/<uid> and dies with the Pod; medium: Memory is a tmpfs whose "
            "pages count against the container's memory limit; hostPath is the node's own directory; subPath "
            "binds one subdirectory; mountPropagation decides which later mounts cross between the node and "
            "the container."
        )
    )


# -- the kubelet's part --------------------------------------------------------------------------------------


def _kubelet_volumes(narrator: Narrator, kubelet: Kubelet, nodedir: node.Node, uid: str) -> dict[str, str]:
    narrator.step(
        _("The Pod, and what the kubelet makes on the node for its volumes"),
        syscalls=["mkdir(2)", "chmod(2)", "mount(2)", "openat2(2)"],
    )
    narrator.compare(
        _("the Pod"),
        MANIFEST.replace("<node>", nodedir.root).splitlines(),
        [
            _("emptyDir cache: a directory under the kubelet's pods/<uid>/volumes/"),
            _("emptyDir scratch: the same, with a tmpfs mounted on it"),
            _("hostPath config, data: the node's own file and directory, checked by type"),
            _("subPath logs: cache/logs bound to pods/<uid>/volume-subpaths/"),
            _("each container: isodemo run -m 32m -v SRC:DST[:ro] busybox"),
        ],
        host_title="Kubernetes",
        inside_title="isodemo",
    )
    narrator.explain(
        _(
            "{kubelet} stands for /var/lib/kubelet (a directory of this run, removed at the end), {node} for the "
            "node's own files. Pod uid {uid}.",
            kubelet=kubelet.root,
            node=nodedir.root,
            uid=uid,
        )
    )
    cache, calls = kubelet.empty_dir(uid, "cache")
    scratch, more = kubelet.empty_dir(uid, "scratch")
    calls += more
    allocatable = node_allocatable()
    size = memory_size(allocatable, 2 * LIMIT, None)
    options, call = kubelet.memory_medium(scratch, size)
    calls.append(call)
    data = nodedir.path("data")
    calls.append(node.check_type(data, "DirectoryOrCreate"))
    conf = nodedir.path("app.conf")
    with open(conf, "w") as f:
        f.write("greeting=hello from the node\n")
    calls.append(node.check_type(conf, "File"))
    logs, sub_calls = kubelet.subpath(uid, ("cache", cache), "logs", "reader", 1)
    calls += sub_calls
    narrator.shell(
        f"mkdir -p -m 0777 {cache} {scratch}",
        f"mount -t tmpfs -o {options} tmpfs {scratch}",
        f"mkdir -p {data}",
        f"test -f {conf}",
        f"mkdir {cache}/logs",
        f"mount --bind {cache}/logs {logs}",
    )
    narrator.table(
        _("what the kubelet made"),
        [_("volume"), _("on the node"), _("how")],
        [
            ["cache (emptyDir)", cache, _("a directory, mode {mode:o}", mode=os.stat(cache).st_mode & 0o777)],
            ["scratch (emptyDir, Memory)", scratch, f"tmpfs {options}"],
            ["config (hostPath, File)", conf, _("checked: a regular file")],
            ["data (hostPath, DirectoryOrCreate)", data, _("made 0755 when missing")],
            ["cache, subPath logs", logs, _("/proc/self/fd/N of cache/logs, bound")],
        ],
    )
    narrator.explain(
        _(
            "The tmpfs is sized as the kubelet sizes it: the smallest of the node's allocatable memory ({node}, "
            "MemTotal here: no reservations), the Pod's memory limit ({pod}, the sum of its containers' limits) "
            "and the volume's sizeLimit (none): {size}.",
            node=format_bytes(allocatable),
            pod=format_bytes(2 * LIMIT),
            size=format_bytes(size),
        )
    )
    narrator.fact("memory_medium_size_bytes", os.statvfs(scratch).f_blocks * os.statvfs(scratch).f_frsize)
    shown = f".../volumes/{EMPTY_DIR}/cache"
    narrator.claim(
        _("the emptyDir is {path}, mode 0777", path=shown),
        os.stat(cache).st_mode & 0o777 == 0o777,
    )
    return {"cache": cache, "scratch": scratch, "data": data, "conf": conf, "logs": logs}


def _web_pod(narrator: Narrator, ctx: DemoContext, paths: dict[str, str]) -> tuple[containers.Container, ...]:
    narrator.step(
        _("Two containers, made by isodemo run's code, with the volumes bound in"),
        syscalls=[
            "mount(SRC, DST, NULL, MS_BIND|MS_REC, NULL)",
            "mount(NULL, DST, NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)",
        ],
    )
    writer = containers.build(
        ctx,
        "writer",
        [Volume(paths["cache"], "/cache"), Volume(paths["scratch"], "/scratch")],
        memory=LIMIT,
        command=("sh", "-c", "exec dd if=/dev/zero of=/scratch/more bs=1M count=64 2>/dev/null"),
    )
    reader = containers.build(
        ctx,
        "reader",
        [
            Volume(paths["cache"], "/cache"),
            Volume(paths["logs"], "/logs"),
            Volume(paths["conf"], "/config/app.conf", readonly=True),
            Volume(paths["data"], "/data", readonly=True),
        ],
        memory=LIMIT,
    )
    narrator.shell(
        f"isodemo run -m 32m -v {paths['cache']}:/cache -v {paths['scratch']}:/scratch busybox ...",
        f"isodemo run -m 32m -v {paths['cache']}:/cache -v {paths['logs']}:/logs "
        f"-v {paths['conf']}:/config/app.conf:ro -v {paths['data']}:/data:ro busybox ...",
    )
    for container, targets in (
        (writer, ("/cache", "/scratch")),
        (reader, ("/cache", "/logs", "/config/app.conf", "/data")),
    ):
        binds = [
            call
            for call in container.syscalls
            if "MS_BIND" in call and "/merged/" in call and "/merged/etc/" not in call and "MS_REMOUNT" not in call
        ]
        seen = [f"{target}: {_mount_text(container.box.call(probes.mount_line, target))}" for target in targets]
        narrator.compare(
            _("container {name} (host pid {pid})", name=container.name, pid=container.pid),
            binds,
            seen,
            host_title=_("the runtime's mount(2) calls"),
            inside_title=_("/proc/self/mountinfo inside: root, propagation"),
        )
    narrator.explain(
        _(
            "Simplification: each container is an `isodemo run` container of its own; the net, ipc and uts "
            "namespaces a Pod's containers share are `isodemo pod`'s subject. Their PID 1 waits before its "
            "execve (runc's `created` state) and answers isodemo's questions from inside."
        )
    )
    return writer, reader


def _mount_text(line: tuple[str, tuple[str, ...]] | None) -> str:
    if line is None:
        return _("not a mount")
    root, optional = line
    tags = [tag for tag in optional if tag.split(":")[0] in ("shared", "master")]
    return f"root={root} {' '.join(tags) or 'private'}"


# -- emptyDir, subPath, hostPath ------------------------------------------------------------------------------


def _empty_dir_shared(
    narrator: Narrator, writer: containers.Container, reader: containers.Container, paths: dict[str, str]
) -> None:
    narrator.step(
        _("emptyDir: what one container writes, the other reads"),
        syscalls=[
            'openat(AT_FDCWD, "/cache/msg", O_WRONLY|O_CREAT)  (writer)',
            'openat(AT_FDCWD, "/cache/msg", O_RDONLY)  (reader)',
        ],
        shell=[
            f"sudo nsenter -t {writer.pid} -m sh -c 'echo hello from writer > /cache/msg'",
            f"sudo nsenter -t {reader.pid} -m cat /cache/msg",
        ],
    )
    text = f"hello from writer {writer.pid}\n"
    writer.box.call(probes.write_text, "/cache/msg", text)
    writer.box.call(probes.write_text, "/cache/logs/app.log", "started\n")
    read = reader.box.call(probes.read_text, "/cache/msg")
    on_node = probes.read_text(os.path.join(paths["cache"], "msg"))
    narrator.compare(
        "/cache/msg",
        [f"{paths['cache']}/msg: {on_node!r}"],
        [f"reader: {read!r}"],
        host_title=_("on the node"),
        inside_title=_("inside the reader"),
    )
    narrator.check(
        "emptydir_shared_ok",
        read == text == on_node,
        _("the reader reads what the writer wrote: one directory of the node, bound into both"),
        read == text == on_node,
    )


def _subpath(narrator: Narrator, reader: containers.Container, paths: dict[str, str]) -> None:
    narrator.step(
        _("subPath: only the subdirectory"),
        syscalls=[
            'openat2(cache, "logs", RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)',
            'mount("/proc/self/fd/N", ..., MS_BIND)',
        ],
        shell=[f"sudo nsenter -t {reader.pid} -m ls -a /logs", f"grep ' /logs ' /proc/{reader.pid}/mountinfo"],
    )
    listing = reader.box.call(probes.listdir, "/logs")
    whole = reader.box.call(probes.listdir, "/cache")
    line = reader.box.call(probes.mount_line, "/logs")
    root = line[0] if line else ""
    narrator.compare(
        _("the same emptyDir, twice in the reader"),
        [f"/cache: {' '.join(whole)}"],
        [f"/logs: {' '.join(listing)}", f"mountinfo root: {root}"],
        host_title=_("whole volume"),
        inside_title="subPath: logs",
    )
    narrator.explain(
        _(
            "The kubelet opened cache/logs without following any symlink (a container could have replaced "
            "it with a link to / of the node) and bound /proc/self/fd/N, the directory it had opened, not a path "
            "looked up again. The mount's root in mountinfo is that subdirectory."
        )
    )
    ok = listing == ["app.log"] and "msg" in whole and root.endswith("/cache/logs")
    narrator.check("subpath_only_ok", ok, _("/logs shows only cache/logs: app.log, not msg"), ok)


def _hostpath_readonly(narrator: Narrator, reader: containers.Container, paths: dict[str, str]) -> None:
    narrator.step(
        _("hostPath, readOnly: read yes, write EROFS"),
        syscalls=[
            'mount(NULL, "/data", NULL, MS_REMOUNT|MS_BIND|MS_RDONLY, NULL)',
            'openat(AT_FDCWD, "/data/new", O_WRONLY|O_CREAT) = -1 EROFS',
        ],
        shell=[
            f"sudo nsenter -t {reader.pid} -m cat /config/app.conf",
            f"sudo nsenter -t {reader.pid} -m touch /data/new",
        ],
    )
    conf = reader.box.call(probes.read_text, "/config/app.conf")
    errno_data = reader.box.call(probes.try_create, "/data/new")
    errno_conf = reader.box.call(probes.try_create, "/config/app.conf")
    narrator.compare(
        _("hostPath volumes"),
        [f"{paths['conf']}: {probes.read_text(paths['conf'])!r}", f"{paths['data']}: {probes.listdir(paths['data'])}"],
        [
            f"cat /config/app.conf: {conf!r}",
            f"touch /data/new: {errno_data or 'ok'}",
            f"> /config/app.conf: {errno_conf or 'ok'}",
        ],
        host_title=_("the node's files"),
        inside_title=_("inside the reader"),
    )
    narrator.claim(_("the reader reads the node's file"), conf == probes.read_text(paths["conf"]))
    narrator.check(
        "hostpath_readonly_errno",
        errno_data,
        _("a write to the read-only hostPath fails with {errno}", errno=errno_data or "no error"),
        errno_data == "EROFS" and errno_conf == "EROFS",
        show=True,
    )
    narrator.claim(_("nothing was written on the node"), not os.path.exists(os.path.join(paths["data"], "new")))


# -- medium: Memory ------------------------------------------------------------------------------------------


def _memory_charged(narrator: Narrator, writer: containers.Container, paths: dict[str, str]) -> None:
    cgroup = writer.started.cgroup
    usage = cgroup.memory_usage_file
    narrator.step(
        _("medium: Memory: a file on the tmpfs is memory of the container that wrote it"),
        syscalls=['write(fd of "/scratch/fill", ..., 1048576) x 8'],
        shell=[
            f"cat {usage}",
            f"sudo nsenter -t {writer.pid} -m dd if=/dev/zero of=/scratch/fill bs=1M count=8",
            f"cat {usage}",
        ],
    )
    before = cgroup.memory_current()
    writer.box.call(probes.fill, "/scratch/fill", CHARGE)
    after = cgroup.memory_current()
    charged = after - before
    fs = os.statvfs(paths["scratch"])
    narrator.compare(
        os.path.basename(usage),
        [_("before: {bytes}", bytes=format_bytes(before)), _("after: {bytes}", bytes=format_bytes(after))],
        [_("tmpfs used: {bytes}", bytes=format_bytes((fs.f_blocks - fs.f_bfree) * fs.f_frsize))],
        host_title=_("the writer's cgroup"),
        inside_title="df /scratch",
    )
    narrator.explain(
        _(
            "tmpfs pages are charged to the memory cgroup of the process that first touches them, and they stay "
            "charged while the file exists: no process holds them, so no RSS shows them."
        )
    )
    narrator.check(
        "memory_medium_charged_bytes",
        charged,
        _(
            "writing {size} raised the writer's cgroup usage by {charged}",
            size=format_bytes(CHARGE),
            charged=format_bytes(charged),
        ),
        charged >= CHARGE * 3 // 4,
        show=True,
    )


def _memory_oom(narrator: Narrator, writer: containers.Container) -> None:
    cgroup = writer.started.cgroup
    narrator.step(
        _("medium: Memory: write past the container's limit"),
        syscalls=['execve("/bin/sh", ["sh", "-c", "exec dd if=/dev/zero of=/scratch/more bs=1M count=64"])'],
        shell=[f"cat {cgroup.path}/memory.events  # v2; memory.oom_control on v1"],
    )
    narrator.explain(
        _(
            "The writer is started now: dd writes 64 MiB to the tmpfs, which has room for it ({size}), but the "
            "container's limit is {limit}. The OOM killer ends it: the file is not freed by killing anyone.",
            size=format_bytes(2 * LIMIT),
            limit=format_bytes(LIMIT),
        )
    )
    status = containers.run_to_end(writer, OOM_TIMEOUT)
    kills, source = cgroup.oom_kills()
    narrator.fact("memory_medium_oom_kills", kills)
    narrator.compare(
        _("the writer's end"),
        [f"{source}: oom_kill {kills}"],
        [_("exit status {status}", status=status)],
        host_title=_("the kernel"),
        inside_title=_("the container"),
    )
    narrator.check(
        "memory_medium_oom_exit",
        status,
        _("a memory-backed volume counts against the limit: the writer was OOM-killed (exit {status})", status=status),
        status == 137 and kills >= 1,
        show=True,
    )


# -- mountPropagation ------------------------------------------------------------------------------------------


def _propagation(narrator: Narrator, ctx: DemoContext, nodedir: node.Node) -> dict[str, Any]:
    shared = nodedir.path("shared")
    node.check_type(shared, "DirectoryOrCreate")
    bind = node.SharedBind(shared)
    narrator.step(
        _("mountPropagation: the hostPath source must be a shared mount"),
        syscalls=bind.calls,
        shell=[*bind.shell, f"findmnt -o TARGET,PROPAGATION {shared}"],
    )
    ctx.enter(bind)
    host_tags = node.tags("self", shared)
    narrator.explain(
        _(
            "containerd refuses HostToContainer unless the source is a shared or slave mount, and Bidirectional "
            "unless it is shared. {path} was a plain directory: isodemo binds it onto itself and makes it shared, "
            "a peer group of its own (shared:N in mountinfo).",
            path=shared,
        )
    )
    narrator.claim(
        _("{path} is a shared mount on the host: {tags}", path=shared, tags=host_tags), host_tags.startswith("shared:")
    )

    narrator.step(
        _("Three containers, one per mountPropagation"),
        syscalls=[
            'mount(NULL, "/", NULL, MS_REC|MS_SLAVE or MS_SHARED, NULL)  (runc prepareRoot: rootfsPropagation)',
            "mount(NULL, ROOTFS, NULL, MS_PRIVATE, NULL)  (rootfsParentMountPrivate)",
            "mount(SRC, DST, NULL, MS_BIND|MS_REC, NULL)",
            "mount(NULL, DST, NULL, MS_REC|MS_PRIVATE or MS_SLAVE or MS_SHARED, NULL)",
        ],
    )
    pod_ctx, _stack = containers.pod_context(ctx)
    boxes = {
        mode: containers.build(pod_ctx, f"prop-{flag[1:]}", [Volume(shared, "/mnt/shared", propagation=flag)])
        for mode, flag in MODES
    }
    narrator.shell(*(f"isodemo run -v {shared}:/mnt/shared:{flag} busybox ..." for _mode, flag in MODES))
    rows = []
    for mode, flag in MODES:
        box = boxes[mode]
        rows.append([mode, flag, node.tags(box.pid, "/mnt/shared") or "-", node.tags(box.pid, "/") or "-"])
    rows.append([_("the host"), "", host_tags, node.tags("self", "/")])
    narrator.table(
        _("propagation, from /proc/PID/mountinfo (the proof)"),
        ["mountPropagation", _("bind option"), "/mnt/shared", "/"],
        rows,
    )
    narrator.explain(
        _(
            "shared:N: a member of peer group N, mount events go both ways; master:N: a slave of group N, events "
            "only come in; no tag: private. Simplification: isodemo's / stays rprivate when no volume asks for "
            "more (runc's default is rslave); Kubernetes allows Bidirectional only in privileged containers, and "
            "here PID 1 makes its mount before its execve, as root with every capability."
        )
    )
    narrator.fact(
        "propagation_tags", {mode: node.tags(boxes[mode].pid, "/mnt/shared") for mode, _flag in MODES}, show=False
    )

    from_host = os.path.join(shared, "from-host")
    host_mount = node.HostTmpfs(from_host)
    narrator.step(
        _("A mount made on the host after the containers started"),
        syscalls=[host_mount.call],
        shell=[
            f"mount -t tmpfs -o size=1m tmpfs {from_host}",
            *(f"grep from-host /proc/{b.pid}/mountinfo" for b in boxes.values()),
        ],
    )
    ctx.enter(host_mount)
    seen = {mode: bool(boxes[mode].box.call(probes.is_mount, "/mnt/shared/from-host")) for mode, _flag in MODES}
    narrator.compare(
        "/mnt/shared/from-host",
        [f"{from_host}: {_('mounted')}"],
        [f"{mode}: {_('mounted') if seen[mode] else _('not there')}" for mode, _flag in MODES],
        host_title=_("the host"),
        inside_title=_("each container"),
    )
    expected = {"None": False, "HostToContainer": True, "Bidirectional": True}
    narrator.check(
        "propagation_seen",
        seen,
        _("the host's mount appears in HostToContainer and Bidirectional only"),
        seen == expected,
        show=True,
    )

    from_ctr = os.path.join(shared, "from-ctr")
    bidi = boxes["Bidirectional"]
    narrator.step(
        _("A mount made inside the Bidirectional container"),
        syscalls=['mount("tmpfs", "/mnt/shared/from-ctr", "tmpfs", 0, "size=1m")  (inside)'],
        shell=[f"sudo nsenter -t {bidi.pid} -m mount -t tmpfs tmpfs /mnt/shared/from-ctr", f"findmnt {from_ctr}"],
    )
    ctx.enter(node.HostTmpfs(from_ctr, made_elsewhere=True))  # isodemo removes it from the host
    bidi.box.call(probes.mount_tmpfs, "/mnt/shared/from-ctr")
    reached = os.path.ismount(from_ctr)
    others = {mode: bool(boxes[mode].box.call(probes.is_mount, "/mnt/shared/from-ctr")) for mode, _flag in MODES}
    narrator.compare(
        from_ctr,
        [f"{_('mounted') if reached else _('not there')}  {node.tags('self', from_ctr)}"],
        [f"{mode}: {_('mounted') if others[mode] else _('not there')}" for mode, _flag in MODES],
        host_title=_("the host"),
        inside_title=_("each container"),
    )
    narrator.check(
        "bidirectional_reaches_host",
        reached,
        _("the container's mount appears on the host (isodemo unmounts it at the end)"),
        reached,
        show=True,
    )
    return boxes


def _delete_pod(narrator: Narrator, pod_stack: Any, pod_dir: str, cache: str) -> None:
    narrator.step(
        _("Delete the Pod: its emptyDir goes with it"),
        syscalls=["pidfd_send_signal(pidfd of PID 1, SIGKILL)", 'umount2(".../scratch", MNT_DETACH)', "unlinkat(...)"],
        shell=[f"umount {pod_dir}/volumes/{EMPTY_DIR}/scratch", f"rm -rf {pod_dir}"],
    )
    pod_stack.close()
    narrator.check(
        "emptydir_removed_with_pod",
        not os.path.exists(pod_dir),
        _("{path} is gone with the Pod", path=cache),
        not os.path.exists(pod_dir),
    )
