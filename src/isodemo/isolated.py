"""Isolated: a child process in new namespaces that answers questions from the parent.

    parent (isodemo, stays on the host)
      └─ helper   unshare(CLONE_NEW...), then fork, like `unshare --fork`; waits for PID 1, mirrors its end
           └─ child  PID 1 of the new pid namespace; serves probes over a socketpair until told to stop

unshare(CLONE_NEWPID) does not move its caller, it decides where the caller's *later children* go, for good
(man 7 pid_namespaces). That is why the isodemo process never calls it: the helper does, then forks the
child that becomes PID 1. The helper also makes / private in a new mount namespace before anything is
mounted, so no mount made inside can propagate to the host.

With a user namespace the helper pauses over the channel: after unshare(CLONE_NEWUSER) it is the
overflow user with no mapping, and waits while the parent, which lives in the parent user namespace,
writes its uid_map, setgroups and gid_map; only then does it unshare the other namespaces, which the new
user namespace owns. Run as root with `as_user`, it first drops to that user, so what follows runs as that
user; the root parent still writes the map, but only the one line that user could write itself.

Both the helper and the child ask for SIGKILL when their parent dies (PR_SET_PDEATHSIG), so even a
SIGKILLed isodemo takes its namespaces with it; the kernel ends a pid namespace with its PID 1.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from isodemo import channel
from isodemo import host as hostinfo
from isodemo.errors import IsodemoError, KernelError
from isodemo.kernel import mount, namespaces, process

if TYPE_CHECKING:
    from isodemo.kernel import userns

T = TypeVar("T")
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


class ChildGone(IsodemoError):
    """The isolated child exited while the parent still had a question for it."""


class Isolated:
    """A context manager that owns one child process living in new namespaces.

    `call(probe, *args)` runs a plain module-level function inside and returns its result (or raises its
    exception); the same function called directly runs on the host, so a demo can compare both views.
    """

    def __init__(
        self,
        namespaces_: Sequence[str],
        *,
        comm: str = "isodemo",
        as_user: tuple[int, int] | None = None,
        mapping: userns.Mapping | None = None,
        before_unshare: Callable[[int], object] | None = None,
        time_offsets: dict[str, int] | None = None,
    ) -> None:
        """`as_user`: (uid, gid) the helper drops to before anything else (isodemo must be root).
        `mapping`: the uid/gid maps of a new user namespace; by default root inside is the helper's ids.
        `before_unshare(helper_pid)`: runs in the parent while the helper waits, before it unshares
        (to put it into a cgroup that a new cgroup namespace will take as its root).
        `time_offsets`: seconds added to the monotonic and boottime clocks of a new time namespace."""
        unknown = [n for n in namespaces_ if n not in namespaces.NAMESPACE_TYPES]
        if unknown:
            raise ValueError(f"unknown namespace types: {unknown}")
        self.namespaces = tuple(namespaces_)
        self.comm = comm
        self.as_user = as_user
        self.mapping = mapping
        self.before_unshare = before_unshare
        self.time_offsets = time_offsets
        self.pid = 0  # the child's pid as the host sees it
        self.helper_pid = 0
        self.exit_status: int | None = None
        self.user_report: dict[str, int] = {}  # what the helper saw in its new user namespace before the map
        self.mapping_written: list[tuple[str, str]] = []  # (file, content) the parent wrote, in order
        self._sock: socket.socket | None = None
        self._pidfd: int | None = None

    @property
    def flags(self) -> int:
        return namespaces.flags_for(self.namespaces)

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> Isolated:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a buffer copied by fork would otherwise be written twice
        parent_sock, child_sock = socket.socketpair()
        parent_pid = os.getpid()
        # No Ctrl-C between fork() and the try below: in the parent it would leak the helper, in the helper
        # it would unwind into isodemo's own teardown. The helper unblocks them once it ignores them.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
        try:
            helper = os.fork()
            if helper == 0:  # pragma: no cover - runs in the forked helper, reported through the socket
                parent_sock.close()
                _helper_main(child_sock, parent_pid, self._plan())
            child_sock.close()
            self.helper_pid = helper
            self._sock = parent_sock
        finally:
            if os.getpid() == parent_pid:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        try:
            self._await_child(parent_sock)
        except BaseException:
            # __exit__ never runs when __enter__ raises: a Ctrl-C right here must not leak the children.
            self.stop()
            raise

    def _plan(self) -> _Plan:
        if self.as_user or self.flags & (namespaces.CLONE_NEWUSER | namespaces.CLONE_NEWTIME):
            # Imported here, not at the top (they cost ~5 ms that most demos do not need), and before the
            # fork: a helper that dropped to nobody may not be able to read isodemo's source any more.
            import isodemo.kernel.capabilities
            import isodemo.kernel.timens
            import isodemo.kernel.userns
            import isodemo.rootless  # noqa: F401
        return _Plan(
            flags=self.flags,
            comm=self.comm,
            as_user=self.as_user,
            pause_before_unshare=self.before_unshare is not None,
            time_offsets=self.time_offsets,
        )

    def _await_child(self, sock: socket.socket) -> None:
        while True:
            try:
                kind, value = channel.recv(sock)
            except channel.ChannelClosed:
                self._reap_helper()
                raise ChildGone(
                    f"the namespace helper exited before it started the child (status {self.exit_status})"
                ) from None
            if kind == "error":
                self._reap_helper()
                raise value
            if kind != "paused":
                break
            self._on_pause(*value)
            channel.send(sock, ("go",))
        self.pid = int(value)
        with contextlib.suppress(OSError, AttributeError):  # os.pidfd_open: Linux 5.3, Python 3.9
            self._pidfd = os.pidfd_open(self.pid)

    def _on_pause(self, stage: str, info: dict[str, int]) -> None:
        """The helper waits while the parent does what only the parent can do."""
        if stage == "before-unshare" and self.before_unshare is not None:
            self.before_unshare(self.helper_pid)
        elif stage == "userns":
            # The parent, in the parent user namespace, writes the maps: man 7 user_namespaces.
            from isodemo import rootless
            from isodemo.kernel import userns

            self.user_report = info
            # Computed here, never taken from the helper's report: the parent trusts only what it knows.
            uid, gid = self.as_user or (os.geteuid(), os.getegid())
            mapping = self.mapping or userns.Mapping.root_as(uid, gid)
            try:
                self.mapping_written = userns.write_mapping(self.helper_pid, mapping)
            except OSError as error:
                blocker = rootless.diagnose(rootless.STEP_MAP, error.errno or 0, hostinfo.userns_policy())
                raise rootless.UserNamespaceBlocked(blocker) from None

    def stop(self) -> None:
        """Kill the child (and with it, its pid namespace), reap the helper, close the channel. Idempotent."""
        try:
            if self.helper_pid and self.exit_status is None:
                if self.pid:
                    self._signal(signal.SIGKILL)
                else:  # it never reported its child: the helper's death takes the child (PDEATHSIG)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.helper_pid, signal.SIGKILL)
                self._reap_helper()
        finally:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Send `sig` to the child and wait until it is gone; returns its exit code (128+N when killed)."""
        self._signal(sig)
        return self._reap_helper()

    def send_signal(self, sig: int) -> None:
        """Send a signal without waiting: the child may handle it, ignore it, or die of it."""
        self._signal(sig)

    @property
    def alive(self) -> bool:
        return self.exit_status is None and self.helper_pid != 0

    def _signal(self, sig: int) -> None:
        if not self.pid:
            return
        with contextlib.suppress(ProcessLookupError):
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, sig)
            else:
                os.kill(self.pid, sig)

    def _reap_helper(self) -> int:
        if self.exit_status is None:
            _, status = os.waitpid(self.helper_pid, 0)
            self.exit_status = os.waitstatus_to_exitcode(status)
            if self.exit_status < 0:  # the helper itself was killed
                self.exit_status = 128 - self.exit_status
        return self.exit_status

    # -- questions -------------------------------------------------------------------------------------

    def call(self, probe: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `probe(*args, **kwargs)` inside the child and return what it returned."""
        if self._sock is None or not self.alive:
            raise ChildGone(f"the isolated child (pid {self.pid}) is not running")
        try:
            channel.send(self._sock, ("call", probe, args, kwargs))
            kind, value = channel.recv(self._sock)
        except (channel.ChannelClosed, BrokenPipeError, ConnectionResetError):
            status = self._reap_helper()
            raise ChildGone(
                f"the isolated child (pid {self.pid}) exited with status {status} "
                f"while running {getattr(probe, '__name__', probe)}"
            ) from None
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]


def _child_signals(*, ignore_sigterm: bool) -> None:
    """Ctrl-C, and a SIGTERM sent to the whole process group, reach the children too; only the parent
    decides what happens then, and it ends them with SIGKILL. PID 1 of a new pid namespace keeps SIGTERM
    at its default: the pid demo shows that the kernel itself protects it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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


@dataclass(frozen=True)
class _Plan:
    """What the helper does, in order: drop to a user, pause, new user namespace (pause for the maps), the
    other namespaces, time offsets, a private /, then fork the child."""

    flags: int
    comm: str
    as_user: tuple[int, int] | None
    pause_before_unshare: bool
    time_offsets: dict[str, int] | None


def _pause(sock: socket.socket, stage: str, info: dict[str, int]) -> None:
    channel.send(sock, ("paused", (stage, info)))
    if channel.recv(sock) != ("go",):
        os._exit(1)


def _refuse(sock: socket.socket, error: IsodemoError) -> NoReturn:
    channel.send(sock, ("error", error))
    os._exit(1)


def _helper_main(sock: socket.socket, parent_pid: int, plan: _Plan) -> None:
    status = 1
    started = False
    try:
        _child_signals(ignore_sigterm=True)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # ignored now; blocked since the fork
        _die_with_parent(parent_pid)
        _close_other_fds(sock.fileno())
        process.set_comm(plan.comm)
        _prepare(sock, parent_pid, plan)
        helper_pid = os.getpid()
        child = os.fork()
        if child == 0:
            _child_signals(ignore_sigterm=not plan.flags & namespaces.CLONE_NEWPID)
            _child_main(sock, helper_pid, plan.comm)
        channel.send(sock, ("started", child))
        started = True
        sock.close()
        _, wait_status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        status = 128 - code if code < 0 else code
    except BaseException as error:
        if not started:  # say why, rather than leave the parent with "status 1"
            with contextlib.suppress(OSError):
                channel.send(sock, ("error", channel.portable_exception(error)))
        status = 1
    finally:
        os._exit(status)


def _prepare(sock: socket.socket, parent_pid: int, plan: _Plan) -> None:
    """Everything before the fork of the child: become the user, new namespaces, offsets, a private /.
    The modules imported below were imported by the parent before the fork (_plan)."""
    flags = plan.flags
    if plan.as_user is not None:
        # setuid() from root leaves the process non-dumpable: no process of that user may ptrace it, and
        # through it reach the channel to the root parent. It stays so (entering a user namespace keeps it).
        process.drop_to(*plan.as_user)
        _die_with_parent(parent_pid)  # a change of uid clears the parent-death signal
    if plan.pause_before_unshare:
        _pause(sock, "before-unshare", {})
    if flags & namespaces.CLONE_NEWUSER:
        _enter_user_namespace(sock, parent_pid)
    rest = flags & ~namespaces.CLONE_NEWUSER
    if rest:
        try:
            namespaces.unshare(rest)
        except OSError as error:
            if flags & namespaces.CLONE_NEWUSER and error.errno == errno.EPERM:
                # Created, mapped, CapEff full, and still refused: a security module took the capabilities.
                from isodemo import rootless

                blocker = rootless.diagnose(rootless.STEP_CAPABILITIES, errno.EPERM, hostinfo.userns_policy())
                _refuse(sock, rootless.UserNamespaceBlocked(blocker))
            _refuse(sock, _unshare_error(error, rest))
    if plan.time_offsets and flags & namespaces.CLONE_NEWTIME:
        from isodemo.kernel import timens

        timens.write_offsets(plan.time_offsets)
    if flags & namespaces.CLONE_NEWNS:
        mount.make_rprivate("/")


def _enter_user_namespace(sock: socket.socket, parent_pid: int) -> None:
    """unshare(CLONE_NEWUSER) moves the caller itself; then wait for the parent to write the maps."""
    from isodemo import rootless  # imported by the parent before the fork (_plan)
    from isodemo.kernel import capabilities

    report = {"uid_outside": os.geteuid(), "gid_outside": os.getegid()}
    try:
        namespaces.unshare(namespaces.CLONE_NEWUSER)
    except OSError as error:
        blocker = rootless.diagnose(rootless.STEP_UNSHARE, error.errno or 0, hostinfo.userns_policy())
        _refuse(sock, rootless.UserNamespaceBlocked(blocker))
    _die_with_parent(parent_pid)
    report |= {
        "uid_before_map": os.getuid(),
        "gid_before_map": os.getgid(),
        "capeff_before_map": capabilities.effective(),
    }
    _pause(sock, "userns", report)


def _child_main(sock: socket.socket, helper_pid: int, comm: str) -> None:
    try:
        _die_with_parent(helper_pid)
        process.set_comm(comm)
        serve(sock)
    finally:
        os._exit(0)


def serve(sock: socket.socket) -> None:
    """The child's loop: run each requested probe, send back its result or its exception."""
    while True:
        try:
            request = channel.recv(sock)
        except channel.ChannelClosed:
            return
        if request[0] != "call":
            return
        _, probe, args, kwargs = request
        try:
            reply: tuple[str, Any] = ("ok", probe(*args, **kwargs))
        except BaseException as error:
            reply = ("error", channel.portable_exception(error))
        channel.send(sock, reply)


def _unshare_error(error: OSError, flags: int) -> IsodemoError:
    names = [t.flag_name for t in namespaces.NAMESPACE_TYPES.values() if flags & t.flag]
    call = f"unshare({'|'.join(names)})"
    errno_ = error.errno or 0
    if errno_ == 1 and os.geteuid() == 0:  # EPERM although root
        hint = (
            "root here lacks CAP_SYS_ADMIN (a container, or a reduced capability bounding set): "
            "run isodemo in the VM this project provides (vagrant/)"
        )
    elif errno_ == 1:  # EPERM
        hint = "creating namespaces other than a user namespace needs CAP_SYS_ADMIN: run it with sudo"
    elif errno_ == 22:  # EINVAL
        hint = "this kernel does not support one of these namespace types (see `isodemo doctor`)"
    elif errno_ == 28:  # ENOSPC
        hint = "a namespace limit in /proc/sys/user/max_*_namespaces is reached"
    else:
        hint = None
    return KernelError(call, errno_, os.strerror(errno_), hint)
