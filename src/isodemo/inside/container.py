"""The child side of `isodemo run`: the container's root filesystem, then its process.

The parent (container/runtime.py) calls, in the Isolated child, which is already in its new namespaces with
/ private:
    prepare_root(mounts)   mount what the container sees inside mounts.root (proc with masked and
                           read-only paths, /dev, /sys, cgroupfs, /etc files, volumes), pivot_root into it,
                           detach the old root; returns the steps taken (syscall strings, for --verbose)
    console.open_console() with -t (inside/console.py): a pty of the container's own devpts, its slave
                           fds 0-2 and /dev/console, its master handed back to the parent
    exec_process(process)  the session and its terminal, the working directory, inside.security.lock_down,
                           then execve: the child becomes the command. The channel to the parent is
                           close-on-exec, so its end is the parent's "it runs". Never returns; raises
                           CommandNotFound (127) or CannotExecute (126) when execve cannot run the command.
                           With process.init the child stays PID 1, a small reaper like `docker run --init`.

The mounts themselves are in inside/rootfs.py; argv[0], the environment and execve in inside/execve.py.
Everything this runs after pivot_root was imported before it: isodemo's own files are out of reach by then.
"""

from __future__ import annotations

import fcntl
import marshal
import os

from isodemo import channel
from isodemo.contexts import suppress
from isodemo.errors import IsodemoError, RunError
from isodemo.i18n import _
from isodemo.inside import execve, rootfs, security
from isodemo.inside.security import Security
from isodemo.kernel import mount, seccomp
from isodemo.kernel import process as kprocess

# `typing` and `dataclasses` (with `inspect`) cost the Isolated helper ~10 ms while it preloads this module, on
# the path of every container start: plain classes here, read-only for mypy (Final). mypy treats this name as
# always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from typing import Final, NoReturn
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)

INIT_COMM = "isodemo-init"
# What the --init process passes on to the command, as tini does; it reaps every child it is given.
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)


class Overlay:
    """An overlay the child mounts itself (rootless: the host cannot mount it for a user namespace)."""

    __slots__ = ("lower", "upper", "work")

    def __init__(self, lower: tuple[str, ...], upper: str, work: str) -> None:
        self.lower: Final = lower  # highest layer first, as overlayfs's lowerdir= wants them
        self.upper: Final = upper
        self.work: Final = work


class Mounts:
    __slots__ = (
        "cgroup_version",
        "etc_files",
        "masked_paths",
        "mknod",
        "overlay",
        "privileged",
        "readonly_paths",
        "root",
        "root_propagation",
        "sysfs",
        "volumes",
    )

    def __init__(
        self,
        root: str,
        *,
        overlay: Overlay | None = None,
        etc_files: dict[str, str] | None = None,
        volumes: tuple[tuple[str, str, bool] | tuple[str, str, bool, str], ...] = (),
        masked_paths: tuple[str, ...] = (),
        readonly_paths: tuple[str, ...] = (),
        privileged: bool = False,
        mknod: bool = True,
        sysfs: bool = True,
        cgroup_version: int = 2,
        root_propagation: str = "rprivate",
    ) -> None:
        self.root: Final = root  # the container's root: the merged overlay dir (already mounted unless `overlay`)
        self.overlay: Final = overlay
        self.etc_files: Final = {} if etc_files is None else etc_files  # {"/etc/hosts": host file bound over it}
        self.volumes: Final = volumes  # (host path, container path, read-only[, propagation: rprivate|rslave|rshared])
        self.masked_paths: Final = masked_paths  # /dev/null (files) or an empty read-only tmpfs (dirs) over each
        self.readonly_paths: Final = readonly_paths  # bound to themselves, then remounted read-only
        self.privileged: Final = privileged  # /sys and /sys/fs/cgroup read-write, every host device, no masks
        self.mknod: Final = mknod  # False in a user namespace: device nodes are bind-mounted from the host
        self.sysfs: Final = sysfs  # False when sysfs cannot be mounted (no own net namespace): rbind the host's /sys
        self.cgroup_version: Final = cgroup_version  # which cgroupfs to mount read-only at /sys/fs/cgroup
        # What the Isolated helper made / after the unshare (Isolated's root_propagation): not rprivate, the root
        # mount is made private before anything is mounted under it, and / gets it again after pivot_root (runc)
        self.root_propagation: Final = root_propagation


_NO_CAPABILITIES = Security(capabilities=())  # Process's default: read-only, so one serves every Process


class Process:
    __slots__ = ("argv", "cwd", "env", "gid", "groups", "init", "security", "stdin", "tty", "uid")

    def __init__(
        self,
        argv: tuple[str, ...],
        env: tuple[str, ...],
        *,
        cwd: str = "/",
        uid: int = 0,
        gid: int = 0,
        groups: tuple[int, ...] = (),
        security: Security = _NO_CAPABILITIES,
        init: bool = False,
        stdin: bool = False,
        tty: bool = False,
    ) -> None:
        self.argv: Final = argv
        self.env: Final = env  # K=V, PATH and HOME included
        self.cwd: Final = cwd
        self.uid: Final = uid
        self.gid: Final = gid
        self.groups: Final = groups
        self.security: Final = security
        self.init: Final = init  # PID 1 is a small reaper that forks the command, forwards signals, reaps zombies
        self.stdin: Final = stdin  # -i: keep stdin; otherwise /dev/null
        self.tty: Final = tty  # fd 0 is a terminal (inside/console.py): it becomes the controlling terminal


# -- the root filesystem ------------------------------------------------------------------------------------


def prepare_root(mounts: Mounts) -> list[str]:
    """Build the container's view of the machine in mounts.root and pivot_root into it, in runc's order."""
    steps = rootfs.Steps()
    try:
        _become_root_inside(steps)
        _build(steps, mounts)
    except OSError as error:
        raise RunError(_("the container's root filesystem could not be set up: {reason}", reason=str(error))) from None
    return list(steps)


def _become_root_inside(steps: rootfs.Steps) -> None:
    """In a user namespace whose map makes root inside another host user than the child's own (--userns as
    root: 0 inside is 100000 outside), the child is the overflow user until it takes uid and gid 0, and the
    kernel refuses to create a file for an unmapped owner (EOVERFLOW). runc's nsexec does the same after the
    maps. Rootless, root inside is the child's own user already: nothing to do."""
    if os.getuid() == 0 and os.getgid() == 0:
        return
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    kprocess.set_pdeathsig(signal.SIGKILL)  # a change of uid cleared it
    steps.extend(["setresgid(0, 0, 0)", "setresuid(0, 0, 0)"])


# A volume's propagation (containerd's bind options) -> the mount(2) flag runc applies with MS_REC.
PROPAGATION_FLAGS = {"rprivate": mount.MS_PRIVATE, "rslave": mount.MS_SLAVE, "rshared": mount.MS_SHARED}


def _build(steps: rootfs.Steps, mounts: Mounts) -> None:
    root = mounts.root
    linked = mounts.root_propagation != "rprivate"  # / keeps links to the host's peer groups: runc's way
    if linked:
        rootfs.make_parent_private(steps, root)
    if mounts.overlay is not None:
        rootfs.mount_overlay(steps, root, mounts.overlay.lower, mounts.overlay.upper, mounts.overlay.work)
    else:
        # pivot_root needs a mount point, and one made in this mount namespace: a mount copied from the host's
        # into a user namespace's is locked to its parent, and pivot_root refuses it (EINVAL). runc too binds
        # the root onto itself, always.
        steps.mount(root, root, None, mount.MS_BIND | mount.MS_REC)
    rootfs.mount_proc(steps, root)
    rootfs.mount_dev(steps, root)
    rootfs.mount_sys(steps, root, own_sysfs=mounts.sysfs, writable=mounts.privileged)
    rootfs.mount_cgroup(steps, root, version=mounts.cgroup_version, writable=mounts.privileged)
    for path, host_file in mounts.etc_files.items():
        rootfs.bind_into(steps, root, host_file, path, readonly=False, recursive=False)
    for host_path, path, readonly, *more in mounts.volumes:
        propagation = more[0] if more else "rprivate"
        flag = PROPAGATION_FLAGS[propagation] if linked or propagation != "rprivate" else 0
        rootfs.bind_into(steps, root, host_path, path, readonly=readonly, recursive=True, propagation=flag)
    nodes = rootfs.host_device_nodes() if mounts.privileged else list(rootfs.DEFAULT_DEVICES)
    rootfs.create_devices(steps, root, nodes, mknod=mounts.mknod)
    rootfs.dev_links(steps, root)
    _load_libraries()
    rootfs.pivot(steps, root)
    if linked:  # runc applies rootPropagation to the new / after the pivot, where it no longer reaches the host
        steps.mount(None, "/", None, PROPAGATION_FLAGS[mounts.root_propagation] | mount.MS_REC)
    rootfs.reopen_dev_null()
    if not mounts.privileged:
        rootfs.readonly_paths(steps, mounts.readonly_paths)
        rootfs.masked_paths(steps, mounts.masked_paths)


def _load_libraries() -> None:
    """dlopen what lock_down needs while the host's /usr/lib is reachable: after pivot_root only the image's
    files are. Where this fails, lock_down fails with the reason, if it needs the library at all."""
    with suppress(IsodemoError, OSError):
        seccomp.library()


# -- the process --------------------------------------------------------------------------------------------


def exec_process(process: Process, *, locked: bool = False) -> NoReturn:
    """Become the container's command (or, with process.init, its PID 1 reaper). Call after prepare_root.
    `locked`: the caller already applied process.security, one part at a time (inside/security.py's
    set_no_new_privs, drop_capabilities, load_seccomp: isodemo container); lock_down is skipped."""
    if not process.argv:
        raise RunError(_("no command to run: the image has no Entrypoint or Cmd, and none was given"))
    try:
        _start(process, locked)
    except OSError as error:
        raise RunError(_("the container's process could not be started: {reason}", reason=str(error))) from None


def _start(process: Process, locked: bool = False) -> NoReturn:
    os.umask(0o022)
    if os.getsid(0) != os.getpid():  # runc always does: the container is a session of its own
        os.setsid()
    if process.tty:
        # Preloaded with -t (inside/launch.py's TTY_MODULES): after pivot_root only sys.modules has it.
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    elif not process.stdin:
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    env = _lock_down(process, _enter_cwd(process.cwd), locked)
    if process.init:
        _init(process, env)
    execve.run(process.argv, env)


def _enter_cwd(cwd: str) -> bool:
    """mkdir -p and chdir as root, as docker does for WORKDIR and -w. True when root may not enter it but
    the container's user may (a volume owned by that user): chdir again after lock_down."""
    cwd = os.path.join("/", cwd)
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
        os.chdir(cwd)
    except PermissionError:
        return True
    except OSError as error:
        raise RunError(
            _("cannot use {cwd} as the working directory: {reason}", cwd=cwd, reason=error.strerror)
        ) from None
    return False


def _lock_down(process: Process, retry_cwd: bool, locked: bool = False) -> dict[str, str]:
    """What the process gives up before execve; returns the environment execve is given. With --init, PID 1
    does it before it forks, so the command inherits it: docker-init too runs with the container's
    credentials, capabilities and seccomp filter."""
    env = execve.environment(process.env)
    execve.close_on_exec_from(3)
    if process.tty and process.uid != 0:
        execve.own_terminal(process.uid)
    if not locked:
        security.lock_down(process.security, process.uid, process.gid, process.groups)
    # A change of uid clears the parent-death signal; without it a container whose command runs as another
    # user would outlive a SIGKILLed isodemo (its helper dies, nothing tells PID 1). runc restores it too.
    kprocess.set_pdeathsig(signal.SIGKILL)
    if retry_cwd:
        try:
            os.chdir(os.path.join("/", process.cwd))
        except OSError as error:
            raise RunError(
                _("cannot use {cwd} as the working directory: {reason}", cwd=process.cwd, reason=error.strerror)
            ) from None
    return env


# -- --init: PID 1 that forwards signals and reaps ----------------------------------------------------------


def _init(process: Process, env: dict[str, str]) -> NoReturn:
    """Stay PID 1 (comm isodemo-init), fork the command, pass it the signals PID 1 gets, reap every child
    (orphans of the namespace are reparented here), exit with the command's status, as tini does.

    A signal with no handler does not reach PID 1 of a pid namespace, not even from the host: the signals
    are blocked and taken with sigwaitinfo(2); the kernel queues a blocked signal whatever its handler.
    The command's execve failure comes back through a close-on-exec pipe, and is raised here, so it
    travels to the parent like any other; once the pipe reads empty the command runs, and closing every
    other descriptor tells the parent so."""
    kprocess.set_comm(INIT_COMM)
    watched = {*FORWARDED, signal.SIGCHLD}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    read_end, write_end = os.pipe()  # close-on-exec, as every descriptor Python opens
    child = os.fork()
    if child == 0:  # pragma: no cover - the command's side, reports over the pipe
        os.close(read_end)
        try:
            os.setpgid(0, 0)
            if process.tty:  # the command's group is the terminal's foreground: Ctrl-C goes to it
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
                os.tcsetpgrp(0, os.getpid())
            execve.run(process.argv, env)
        except BaseException as error:
            _report(write_end, error)
        os._exit(127)
    os.close(write_end)
    failure = _read_all(read_end)
    os.close(read_end)
    if failure:
        os.waitpid(child, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        raise _rebuilt(failure)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os._exit(_reap_until(child, watched))


def _reap_until(command: int, watched: set[signal.Signals]) -> int:
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo != signal.SIGCHLD:
            with suppress(ProcessLookupError):
                os.kill(command, info.si_signo)
            continue
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == command:
                code = os.waitstatus_to_exitcode(status)
                return 128 - code if code < 0 else code


def _report(fd: int, error: BaseException) -> None:
    """The error, in the channel's encoding (marshal's format), written to the pipe the parent reads."""
    fds: list[int] = []  # an error carries no descriptors
    try:
        node = channel.encode(error, fds)
    except Exception:
        node = channel.encode(RunError(f"{type(error).__name__}: {error}"), fds)
    payload = marshal.dumps(node)
    with suppress(OSError):
        os.write(fd, payload)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _rebuilt(payload: bytes) -> BaseException:
    try:
        error = channel.Decoder([]).decode(marshal.loads(payload))
    except Exception:
        return RunError(_("the command could not be started (an unreadable report)"))
    return error if isinstance(error, BaseException) else RunError(repr(error))
