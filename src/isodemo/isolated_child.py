"""The child side of Isolated: what runs after the fork, in the helper and in the child it forks.

    helper   drops to a user, pauses, unshare(CLONE_NEWUSER) and pauses for the maps, unshares the other
             namespaces, writes time offsets, makes / private, forks the child, then waits for it and
             exits with its status
    child    PID 1 of a new pid namespace (when there is one): serves probes until the channel closes

    one_fork Isolated's one_fork: no helper; the parent unshared the pid namespace and forked the child
             into it, which unshares the rest itself, then serves probes as the child above (one_fork_main)

The parent side, the Isolated class that starts the helper and talks to the child, is isolated.py.

Everything these processes need is imported at the top of this module, which the parent imports before
it forks: a helper that dropped to nobody may no longer be allowed to read isodemo's source, so it must
not import anything after the fork. The one exception is `Plan.preload`, which Isolated refuses together
with `as_user`: modules the child will need (`isodemo run`'s inside/, ~1.3 ms) that the helper imports
before it unshares, or while it waits for the parent at a pause; the parent need not import them itself.
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py would add selectors and four enums (isolated.py)
import errno
import os

from isodemo import channel, signals, userns_policy
from isodemo.contexts import suppress
from isodemo.errors import IsodemoError, KernelError
from isodemo.i18n import _
from isodemo.kernel import capabilities, mount, namespaces, process, timens

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from typing import Any, NoReturn
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)

# The signals that end a demo; the parent blocks them across the fork, the helper and child ignore them.
INTERRUPTS = frozenset(signals.HANDLED)


class Plan:
    """What the helper does, in order: drop to a user, pause (importing `preload` meanwhile), new user
    namespace (pause for the maps), the other namespaces, time offsets, a private /, then fork the child.
    A plain class: the helper gets it by fork, never pickled."""

    __slots__ = (
        "as_user",
        "comm",
        "flags",
        "join",
        "join_cgroup",
        "leave_cgroup",
        "pause_before_unshare",
        "preload",
        "root_propagation",
        "time_offsets",
    )

    def __init__(
        self,
        *,
        flags: int,
        comm: str,
        as_user: tuple[int, int] | None,
        pause_before_unshare: bool,
        time_offsets: dict[str, int] | None,
        preload: tuple[str, ...] = (),
        join_cgroup: tuple[str, ...] = (),
        leave_cgroup: tuple[str, ...] = (),
        join: tuple[tuple[str, str], ...] = (),
        root_propagation: int = mount.MS_PRIVATE,
    ) -> None:
        self.flags = flags
        self.comm = comm
        self.as_user = as_user
        self.pause_before_unshare = pause_before_unshare
        self.time_offsets = time_offsets
        self.preload = preload  # never with as_user (Isolated refuses it): see the module's docstring
        self.join_cgroup = join_cgroup  # files the helper writes "0" to before it unshares (join_cgroups says why)
        # the same, once the child is forked: the helper leaves its cgroup (and the child, not the helper, then
        # makes the new cgroup namespace: _own_cgroup_namespace says why)
        self.leave_cgroup = leave_cgroup
        self.join = join  # (type, path) of existing namespaces to setns into, in order, before the unshare
        # MS_PRIVATE (the default: no mount event crosses), MS_SLAVE or MS_SHARED, applied with MS_REC to / of a
        # new mount namespace; runc's prepareRoot (rootfs_linux.go) takes it from the config's rootPropagation
        self.root_propagation = root_propagation


def helper_main(sock: socket.socket, parent_pid: int, plan: Plan) -> NoReturn:
    """The forked helper: prepare the namespaces, fork the child, report its pid, mirror its end.

    If the parent gives up before it learns the child's pid (it closes the channel: a Ctrl-C in
    Isolated.start), the helper still ends before the child can outlive it: a report that fails makes it
    kill the child (only it knows that pid); one that went out leaves the child to a closed channel, on
    which it exits, and the helper waits for that."""
    status = 1
    child = 0
    try:
        _child_signals(ignore_sigterm=True)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)  # ignored now; blocked since the fork
        _die_with_parent(parent_pid)
        _close_other_fds(sock.fileno())
        process.set_comm(plan.comm)
        _prepare(sock, parent_pid, plan)
        helper_pid = os.getpid()
        # The child's own cgroup namespace (_own_cgroup_namespace): STARTED tells the parent that the child is
        # in all its namespaces (it reads /proc/PID/ns at once), so the helper waits for the end of the pipe
        ready_r, ready_w = os.pipe() if _child_makes_cgroupns(plan) else (-1, -1)
        child = os.fork()
        if child == 0:
            _child_signals(ignore_sigterm=not plan.flags & namespaces.CLONE_NEWPID)
            refusal = _own_cgroup_namespace(plan)
            if ready_w >= 0:
                os.close(ready_r)
                os.close(ready_w)  # done: the helper's read sees the end of the pipe
            _child_main(sock, helper_pid, plan.comm, refusal)
        # Left in the container's cgroup, the helper would count against --pids-limit and could be the OOM
        # killer's victim: a refused move (KernelError) ends this start, and the parent is told why
        join_cgroups(plan.leave_cgroup)
        if ready_r >= 0:
            os.close(ready_w)
            os.read(ready_r, 1)  # b"": the child closed its end (or died)
            os.close(ready_r)
        channel.send(sock, (channel.STARTED, child))
        sock.close()
        _, wait_status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        status = 128 - code if code < 0 else code
    except BaseException as error:
        if child:  # this start failed or the parent gave up on it: the child must not outlive the helper
            with suppress(OSError):
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
        # say why, rather than leave the parent with "status 1" (unless the parent is gone, or it already had
        # STARTED and the channel is the child's now: then the socket is closed here, and this send fails)
        with suppress(OSError, ValueError):
            channel.send(sock, (channel.ERROR, channel.portable_exception(error)))
        status = 1
    finally:
        os._exit(status)


def one_fork_main(sock: socket.socket, parent_pid: int, plan: Plan) -> NoReturn:
    """Isolated's one_fork: the child, forked by the parent itself (PID 1 of a new pid namespace the parent
    unshared, when there is one), does the helper's part (_prepare: preload, join its cgroup, unshare the
    namespaces left, make / private), reports, then serves probes. `plan.flags` has no CLONE_NEWPID."""
    status = 0
    try:
        _child_signals(ignore_sigterm=os.getpid() != 1)  # PID 1 keeps SIGTERM's default (_child_signals)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)  # ignored now; blocked since the fork
        _die_with_parent(parent_pid)
        _close_other_fds(sock.fileno())
        process.set_comm(plan.comm)
        _prepare(sock, parent_pid, plan)
        channel.send(sock, (channel.STARTED, os.getpid()))
        serve(sock)
    except BaseException as error:  # say why, rather than leave the parent with "status 1"
        with suppress(OSError):
            channel.send(sock, (channel.ERROR, channel.portable_exception(error)))
        status = 1
    finally:
        os._exit(status)


def _child_signals(*, ignore_sigterm: bool) -> None:
    """Ctrl-C, a hangup, and a SIGTERM sent to the whole process group reach the children too; only the
    parent decides what happens then, and it ends them with SIGKILL. PID 1 of a new pid namespace keeps
    SIGTERM at its default: the pid demo shows that the kernel itself protects it."""
    for sig in INTERRUPTS:
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore_sigterm else signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def _die_with_parent(expected_parent: int) -> None:
    process.set_pdeathsig(signal.SIGKILL)
    # If the parent died before prctl took effect, we were already reparented. PID 1 of a new pid
    # namespace sees its parent as pid 0 (it lives outside), so it cannot check; it still ends when the
    # parent's end of the socket closes.
    parent = os.getppid()
    if parent not in (expected_parent, 0):
        os._exit(1)


def _close_other_fds(keep: int) -> None:
    """The children inherit every descriptor the parent had open (another box's socket, a netlink socket):
    close all but stdin/stdout/stderr and the channel."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def _pause(sock: socket.socket, stage: str, info: dict[str, int], preload: tuple[str, ...] = ()) -> None:
    channel.send(sock, (channel.PAUSED, (stage, info)))
    _preload(preload)  # while the parent does its part
    if channel.recv(sock) != (channel.GO,):
        os._exit(1)


def _preload(modules: tuple[str, ...]) -> None:
    """Import what the child will need, so that it has it from the fork (Plan.preload; never as another user)."""
    for name in modules:
        __import__(name)


def join_cgroups(files: tuple[str, ...]) -> None:
    """Move this process into a cgroup by writing "0" to the files given: v1's `tasks` in each hierarchy
    (v2's cgroup.procs). The process moves itself, as one thread: the kernel then skips the global lock that
    moving a whole thread group by pid takes (cgroup_procs_write_start in kernel/cgroup/cgroup.c), whose
    RCU grace period makes the first such write of a run wait ~15 ms on a cgroup v1 machine. v2 has no such
    file for a domain cgroup: "0" to cgroup.procs still moves the whole group and waits (clone3's
    CLONE_INTO_CGROUP would avoid it, and Python has no clone3). The helper is single-threaded (a fork), so
    its one thread is all of it; what it forks later starts in the cgroup."""
    for path in files:
        try:
            with open(path, "w") as f:
                f.write("0")
        except OSError as error:
            code = error.errno or 0
            raise KernelError(f"write {path} '0'", code, os.strerror(code)) from None


def _refuse(sock: socket.socket, error: IsodemoError) -> NoReturn:
    channel.send(sock, (channel.ERROR, error))
    os._exit(1)


def _prepare(sock: socket.socket, parent_pid: int, plan: Plan) -> None:
    """Everything before the fork of the child: become the user, new namespaces, offsets, a private /."""
    flags = plan.flags
    if plan.as_user is not None:
        # setuid() from root leaves the process non-dumpable: no process of that user may ptrace it, and
        # through it reach the channel to the root parent. It stays so (entering a user namespace keeps it).
        process.drop_to(*plan.as_user)
        _die_with_parent(parent_pid)  # a change of uid clears the parent-death signal
    if plan.pause_before_unshare:
        _pause(sock, channel.PAUSE_BEFORE_UNSHARE, {}, plan.preload)
    else:
        _preload(plan.preload)  # nothing to hide it behind: imported now, as the parent would have
    join_cgroups(plan.join_cgroup)
    if plan.join:
        _join_namespaces(sock, plan.join)
    if flags & namespaces.CLONE_NEWUSER:
        _enter_user_namespace(sock, parent_pid)
    rest = flags & ~namespaces.CLONE_NEWUSER
    if _child_makes_cgroupns(plan):
        rest &= ~namespaces.CLONE_NEWCGROUP  # the child's own (_own_cgroup_namespace)
    if rest:
        try:
            namespaces.unshare(rest)
        except OSError as error:
            if flags & namespaces.CLONE_NEWUSER and error.errno == errno.EPERM:
                # Created, mapped, CapEff full, and still refused: a security module took the capabilities.
                _refuse(sock, userns_policy.blocked_at(userns_policy.STEP_CAPABILITIES, errno.EPERM))
            _refuse(sock, unshare_error(error, rest))
    if plan.time_offsets and flags & namespaces.CLONE_NEWTIME:
        timens.write_offsets(plan.time_offsets)
    if flags & namespaces.CLONE_NEWNS:
        if plan.root_propagation == mount.MS_PRIVATE:
            mount.make_rprivate("/")
        else:  # rslave/rshared: the copies keep their link to the host's peer groups (a volume's propagation)
            mount.mount(None, "/", None, mount.MS_REC | plan.root_propagation)


def _join_namespaces(sock: socket.socket, join: tuple[tuple[str, str], ...]) -> None:
    """setns(2) into existing namespaces, as runc's nsexec.c join_namespaces: open every path first ("after we
    join the mnt or user namespaces we might no longer be able to access the paths"), then join them in the
    order given. A pid namespace joined so only takes effect for the child forked next."""
    fds: list[tuple[str, str, int]] = []
    call = ""
    try:
        for name, path in join:
            call = f"open({path})"
            fds.append((name, path, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
        for name, path, fd in fds:
            call = f"setns({path}, {namespaces.NAMESPACE_TYPES[name].flag_name})"
            namespaces.setns(fd, namespaces.NAMESPACE_TYPES[name].flag)
    except OSError as error:
        code = error.errno or 0
        _refuse(sock, KernelError(call, code, os.strerror(code)))
    finally:
        for _name, _path, fd in fds:
            os.close(fd)


def _enter_user_namespace(sock: socket.socket, parent_pid: int) -> None:
    """unshare(CLONE_NEWUSER) moves the caller itself; then wait for the parent to write the maps."""
    report = {"uid_outside": os.geteuid(), "gid_outside": os.getegid()}
    try:
        namespaces.unshare(namespaces.CLONE_NEWUSER)
    except OSError as error:
        _refuse(sock, userns_policy.blocked_at(userns_policy.STEP_UNSHARE, error.errno or 0))
    _die_with_parent(parent_pid)
    report |= {
        "uid_before_map": os.getuid(),
        "gid_before_map": os.getgid(),
        "capeff_before_map": capabilities.effective(),
    }
    _pause(sock, channel.PAUSE_USERNS, report)


def _child_makes_cgroupns(plan: Plan) -> bool:
    return bool(plan.leave_cgroup and plan.flags & namespaces.CLONE_NEWCGROUP)


def _own_cgroup_namespace(plan: Plan) -> IsodemoError | None:
    """The child's first act when the helper leaves the container's cgroup (Plan.leave_cgroup): unshare its
    cgroup namespace itself, in the container's cgroup it was forked into, which becomes the namespace's root.

    Made by the helper before the fork, the namespace would hold the helper too, and a process inside a cgroup
    namespace cannot move to a cgroup outside its root where cgroup2 is mounted with nsdelegate, as systemd
    mounts it: the write to the shim's cgroup.procs fails with ENOENT (cgroup_procs_write_permission in
    kernel/cgroup/cgroup.c). runc does the same: its init process unshares CLONE_NEWCGROUP only once it is in
    the container's cgroups (libcontainer/nsenter/nsexec.c). A refusal is kept for the first call."""
    if not _child_makes_cgroupns(plan):
        return None
    try:
        namespaces.unshare(namespaces.CLONE_NEWCGROUP)
    except OSError as error:
        return unshare_error(error, namespaces.CLONE_NEWCGROUP)
    return None


def _child_main(sock: socket.socket, helper_pid: int, comm: str, refusal: IsodemoError | None = None) -> NoReturn:
    try:
        _die_with_parent(helper_pid)
        process.set_comm(comm)
        serve(sock, refusal)
    finally:
        os._exit(0)


def serve(sock: socket.socket, refusal: IsodemoError | None = None) -> None:
    """The child's loop: run each requested probe, send back its result or its exception. `refusal`: what
    made the child unusable before it could serve (its own unshare): the answer to the first call, then the end."""
    while True:
        try:
            request = channel.recv(sock)
        except channel.ChannelClosed:
            return
        if request[0] != channel.CALL:
            return
        if refusal is not None:
            channel.send(sock, (channel.ERROR, refusal))
            return
        _, probe, args, kwargs = request
        try:
            reply: tuple[str, Any] = (channel.OK, probe(*args, **kwargs))
        except BaseException as error:
            reply = (channel.ERROR, channel.portable_exception(error))
        channel.send(sock, reply)


def unshare_error(error: OSError, flags: int) -> IsodemoError:
    """A refused unshare(2) as a KernelError whose hint names the likely cause."""
    names = [t.flag_name for t in namespaces.NAMESPACE_TYPES.values() if flags & t.flag]
    call = f"unshare({'|'.join(names)})"
    errno_ = error.errno or 0
    if errno_ == errno.EPERM and os.geteuid() == 0:
        hint = _(
            "root here lacks CAP_SYS_ADMIN (a container, or a reduced capability bounding set): "
            "run isodemo in the VM this project provides (vagrant/)"
        )
    elif errno_ == errno.EPERM:
        hint = _("creating namespaces other than a user namespace needs CAP_SYS_ADMIN: run it with sudo")
    elif errno_ == errno.EINVAL:
        hint = _("this kernel does not support one of these namespace types (see `isodemo doctor`)")
    elif errno_ == errno.ENOSPC:
        hint = _("a namespace limit in /proc/sys/user/max_*_namespaces is reached")
    else:
        hint = None
    return KernelError(call, errno_, os.strerror(errno_), hint)
