"""A container's root filesystem, built in its mount namespace the way runc builds it (libcontainer/
rootfs_linux.go): the image's overlay, /proc, /dev, /sys, /sys/fs/cgroup, bind mounts, device nodes, then
pivot_root into it; after the pivot, read-only and masked paths.

Each function takes `steps` (Steps), a list it appends each call to as strace would print it (`isodemo run
--verbose` shows them). Paths given for the inside of the container (a volume's target, /etc/hosts) are
resolved inside the new root, so a symlink in the image can never lead a mount out to the host.

Run in the Isolated child, after its helper made / private: no mount made here reaches the host.
Nothing here imports anything once it runs: after pivot_root isodemo's own files are out of reach.
"""

from __future__ import annotations

import errno
import os
import stat

from isodemo.errors import RunError
from isodemo.i18n import _
from isodemo.kernel import devices, mount, procfs

NOSUID_NODEV_NOEXEC = mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC
MAX_SYMLINKS = 40  # what the kernel follows in one path lookup before ELOOP (path_resolution(7))

# The OCI default devices (runtime-spec config-linux.md), all read-write for everyone, as runc makes them.
DEFAULT_DEVICES = (
    devices.Device("null", "c", 1, 3, 0o666),
    devices.Device("zero", "c", 1, 5, 0o666),
    devices.Device("full", "c", 1, 7, 0o666),
    devices.Device("random", "c", 1, 8, 0o666),
    devices.Device("urandom", "c", 1, 9, 0o666),
    devices.Device("tty", "c", 5, 0, 0o666),
)
DEV_LINKS = (
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
)


class Steps(list[str]):
    """The calls made, in order, as strace prints them."""

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
    ) -> None:
        mount.mount(source, target, fstype, flags, data)
        self.append(mount.call_text(source, target, fstype, flags, data))

    def remount_readonly(self, target: str, extra: int = 0) -> None:
        """A bind remount read-only (plus `extra` flags), keeping the flags the mount already has."""
        flags = mount.remount_bind(target, mount.MS_RDONLY | extra)
        self.append(mount.call_text(None, target, None, flags))


# -- paths inside the new root ------------------------------------------------------------------------------


def resolve_in_root(root: str, path: str) -> str:
    """The host path of the container's `path`, every symlink followed as the container would see it: an
    absolute link starts again at `root`, `..` stops at `root` (what runc's FollowSymlinkInScope does).
    Components that do not exist yet are kept as they are: the caller creates them."""
    resolved: list[str] = []
    pending = [part for part in reversed(path.split("/")) if part]
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            info = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(info.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.path.join("/", *resolved, part))
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extend(part for part in reversed(target.split("/")) if part)
    return os.path.join(root, *resolved)


def mount_target(root: str, path: str, *, directory: bool) -> str:
    """Resolve a bind mount's target inside `root` and create it (a directory, or an empty file); refuse
    what runc refuses: the root itself, and /proc and what is under it."""
    target = resolve_in_root(root, path)
    relative = os.path.relpath(target, root)
    inside = "/" if relative == "." else "/" + relative
    if inside in {"/", "/proc"} or inside.startswith("/proc/"):
        raise RunError(
            _("cannot mount over {path} in the container (it resolves to {inside})", path=path, inside=inside)
        )
    try:
        if directory:
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.lexists(target):
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    except OSError as error:
        raise RunError(
            _("cannot create the mount point {path} in the container: {reason}", path=path, reason=error.strerror)
        ) from None
    return target


# -- the mounts, in runc's order ----------------------------------------------------------------------------


def mount_overlay(steps: Steps, root: str, lower: tuple[str, ...], upper: str, work: str) -> None:
    """overlayfs at `root`, highest layer first in lowerdir. Not root of the initial user namespace, the
    kernel keeps overlay's own metadata in user.* xattrs (userxattr, Linux 5.11): trusted.* are root's."""
    options = f"lowerdir={':'.join(lower)},upperdir={upper},workdir={work}"
    if not _initial_user_namespace():
        options += ",userxattr"
    steps.mount("overlay", root, "overlay", 0, options)


def _initial_user_namespace() -> bool:
    with open("/proc/self/uid_map") as f:
        return f.read().split() == ["0", "0", "4294967295"]


def mount_proc(steps: Steps, root: str) -> None:
    target = os.path.join(root, "proc")
    os.makedirs(target, exist_ok=True)
    steps.mount("proc", target, "proc", NOSUID_NODEV_NOEXEC)


def mount_dev(steps: Steps, root: str) -> None:
    """/dev as a small tmpfs, then devpts (its own ptmx: ptys opened inside are numbered from 0), shm, mqueue."""
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    steps.mount("tmpfs", dev, "tmpfs", mount.MS_NOSUID | mount.MS_STRICTATIME, "mode=755,size=65536k")
    pts = os.path.join(dev, "pts")
    os.mkdir(pts, 0o755)
    options = "newinstance,ptmxmode=0666,mode=0620"
    try:
        steps.mount("devpts", pts, "devpts", mount.MS_NOSUID | mount.MS_NOEXEC, options + ",gid=5")
    except OSError as error:
        # In a user namespace gid 5 (tty) may have no mapping: EINVAL. runc drops the option then too.
        if error.errno != errno.EINVAL:
            raise
        steps.mount("devpts", pts, "devpts", mount.MS_NOSUID | mount.MS_NOEXEC, options)
    shm = os.path.join(dev, "shm")
    os.mkdir(shm, 0o755)
    steps.mount("shm", shm, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k")
    mqueue = os.path.join(dev, "mqueue")
    os.mkdir(mqueue, 0o755)
    steps.mount("mqueue", mqueue, "mqueue", NOSUID_NODEV_NOEXEC)


def mount_sys(steps: Steps, root: str, *, own_sysfs: bool, writable: bool) -> None:
    """A sysfs of the container's network namespace, read-only unless privileged. Without a network
    namespace of its own (or where the kernel refuses sysfs to this user namespace: EPERM) the host's /sys,
    bound recursively and made read-only mount by mount."""
    target = os.path.join(root, "sys")
    os.makedirs(target, exist_ok=True)
    flags = NOSUID_NODEV_NOEXEC | (0 if writable else mount.MS_RDONLY)
    if own_sysfs:
        try:
            steps.mount("sysfs", target, "sysfs", flags)
            return
        except PermissionError:
            pass
    steps.mount("/sys", target, None, mount.MS_BIND | mount.MS_REC)
    if not writable:
        readonly_tree(steps, target)


def readonly_tree(steps: Steps, top: str) -> None:
    """Remount `top` and every mount below it read-only: mount(2) has no recursive remount."""
    real = os.path.realpath(top)
    for entry in procfs.mountinfo():
        if entry.mount_point == real or entry.mount_point.startswith(real + "/"):
            steps.remount_readonly(entry.mount_point)


def mount_cgroup(steps: Steps, root: str, *, version: int, writable: bool) -> None:
    """/sys/fs/cgroup. Mounted from a cgroup namespace, a cgroup filesystem's root is the container's
    cgroup: it sees no other. v2: one cgroup2. v1: a tmpfs holding one mount per hierarchy the host has,
    named like the host's directory (cpu,cpuacct gets the links cpu and cpuacct), as runc lays it out."""
    target = os.path.join(root, "sys", "fs", "cgroup")
    os.makedirs(target, exist_ok=True)  # a bound host /sys has it; a fresh sysfs too, read-only or not
    flags = NOSUID_NODEV_NOEXEC | (0 if writable else mount.MS_RDONLY)
    if version == 2:
        try:
            steps.mount("cgroup", target, "cgroup2", flags)
        except OSError as error:
            # A user namespace without a cgroup namespace of its own may not mount cgroup2: runc binds the
            # host's hierarchy then, read-only.
            if error.errno not in (errno.EPERM, errno.EBUSY):
                raise
            steps.mount("/sys/fs/cgroup", target, None, mount.MS_BIND | mount.MS_REC)
            if not writable:
                readonly_tree(steps, target)
        return
    steps.mount("tmpfs", target, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755")
    for name, options in _v1_hierarchies():
        directory = os.path.join(target, name)
        os.mkdir(directory, 0o755)
        source = options.removeprefix("name=") if options.startswith("name=") else "cgroup"
        steps.mount(source, directory, "cgroup", flags, options)
        for controller in name.split(",") if "," in name else ():
            os.symlink(name, os.path.join(target, controller))


def _v1_hierarchies() -> list[tuple[str, str]]:
    """(directory name, mount options naming its controllers) of each v1 hierarchy the host has mounted."""
    with open("/proc/cgroups") as f:
        known = {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
    found: dict[str, str] = {}
    for entry in procfs.mountinfo():
        if entry.fstype != "cgroup":
            continue
        controllers = [o for o in entry.super_options.split(",") if o in known or o.startswith("name=")]
        name = os.path.basename(entry.mount_point)
        if controllers and name not in found:
            found[name] = ",".join(controllers)
    return list(found.items())  # in the host's order, as runc mounts them


def bind_into(
    steps: Steps, root: str, source: str, path: str, *, readonly: bool, recursive: bool, propagation: int = 0
) -> str:
    """Bind host `source` over the container's `path` (created if missing); returns the host path of the target.
    `propagation` (MS_PRIVATE, MS_SLAVE or MS_SHARED, applied with MS_REC after the bind, as runc applies a
    mount's propagation flags): the bind is first a copy of its source's propagation, a peer of a shared
    source or a slave of a slave's master (sharedsubtree.rst); 0 leaves it so."""
    directory = os.path.isdir(source)
    target = mount_target(root, path, directory=directory)
    steps.mount(source, target, None, mount.MS_BIND | (mount.MS_REC if recursive else 0))
    if propagation:
        steps.mount(None, target, None, propagation | mount.MS_REC)
    if readonly:
        steps.remount_readonly(target)
    return target


def make_parent_private(steps: Steps, root: str) -> None:
    """runc's rootfsParentMountPrivate: the mount that holds `root` (the root itself when it is a mount
    point, the overlay) made private when it is shared, in this mount namespace only. pivot_root(2) refuses a
    shared new root or parent, and no mount made under the root may propagate back to the host's copy."""
    real = os.path.realpath(root)
    holder = None
    for entry in procfs.mountinfo():
        point = entry.mount_point
        if real == point or real.startswith(point.rstrip("/") + "/"):
            holder = entry  # the last one listed that holds it is the one on top
    if holder is not None and any(tag.startswith("shared:") for tag in holder.optional):
        steps.mount(None, holder.mount_point, None, mount.MS_PRIVATE)


# -- /dev ---------------------------------------------------------------------------------------------------


def create_devices(steps: Steps, root: str, nodes: list[devices.Device], *, mknod: bool) -> None:
    """Each node under ROOT/dev: mknod(2), or (in a user namespace, where mknod is refused) an empty file
    with the host's node bound over it. Names are relative to /dev."""
    dev = os.path.join(root, "dev")
    for node in nodes:
        path = os.path.join(dev, node.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if mknod:
            steps.append(devices.mknod(path, node))
            continue
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        steps.mount(os.path.join("/dev", node.path), path, None, mount.MS_BIND)


def host_device_nodes() -> list[devices.Device]:
    """The host's devices, named relative to /dev (`--privileged`)."""
    return [node._replace(path=os.path.relpath(node.path, "/dev")) for node in devices.host_devices("/dev")]


def dev_links(steps: Steps, root: str) -> None:
    """/dev/ptmx -> pts/ptmx (the ptmx of the container's own devpts), fd and std* -> /proc/self/fd, and
    core -> /proc/kcore where the kernel has one."""
    dev = os.path.join(root, "dev")
    links = [("pts/ptmx", "ptmx"), *DEV_LINKS]
    if os.path.exists(os.path.join(root, "proc", "kcore")):
        links.append(("/proc/kcore", "core"))
    for source, name in links:
        path = os.path.join(dev, name)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(source, path)
        steps.append(f'symlink("{source}", "{path}")')


def bind_console(steps: Steps, root: str, tty: str) -> None:
    """/dev/console is the container's terminal: its pty slave `tty` (a path in the container's own devpts,
    inside/console.py) bound over an empty file."""
    path = os.path.join(root, "dev", "console")
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    steps.mount(tty, path, None, mount.MS_BIND)


# -- pivot_root and after -----------------------------------------------------------------------------------


def pivot(steps: Steps, root: str) -> None:
    """pivot_root(".", ".") in ROOT: the old root ends up mounted over the new one, in the same place; the
    directory descriptor kept open on it reaches it to detach it. No put_old directory is created in the
    image (it would show in the container's writable layer). The old root is made a slave first, so its
    unmount cannot propagate to a peer."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        steps.append(f'chdir("{root}")')
        mount.pivot_root(".", ".")
        steps.append('pivot_root(".", ".")')
        os.fchdir(old)
        steps.mount(None, ".", None, mount.MS_SLAVE | mount.MS_REC)
        mount.umount2(".", mount.MNT_DETACH)
        steps.append('umount2(".", MNT_DETACH)')
        os.chdir("/")
        steps.append('chdir("/")')
    finally:
        os.close(old)
        os.close(new)


def reopen_dev_null() -> None:
    """Standard descriptors that are the host's /dev/null become the container's: a descriptor opened
    outside must not be a way back to the host's filesystem."""
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    try:
        rdev = os.fstat(null).st_rdev
        for fd in (0, 1, 2):
            info = os.fstat(fd)
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == rdev:
                os.dup2(null, fd)
    finally:
        os.close(null)


def readonly_paths(steps: Steps, paths: tuple[str, ...]) -> None:
    """Each path bound to itself, then remounted read-only (and nosuid, nodev, noexec); what does not exist
    on this kernel is skipped."""
    for path in paths:
        try:
            steps.mount(path, path, None, mount.MS_BIND | mount.MS_REC)
        except FileNotFoundError:
            continue
        steps.remount_readonly(path, NOSUID_NODEV_NOEXEC)


def masked_paths(steps: Steps, paths: tuple[str, ...]) -> None:
    """/dev/null bound over each file, an empty read-only tmpfs over each directory; missing ones skipped."""
    for path in paths:
        try:
            directory = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if directory:
            steps.mount("tmpfs", path, "tmpfs", mount.MS_RDONLY)
        else:
            steps.mount("/dev/null", path, None, mount.MS_BIND)
