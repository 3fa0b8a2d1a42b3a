"""Isolated: a child process in new namespaces that answers questions from the parent.

    parent (isodemo, stays on the host)
      └─ helper   unshare(CLONE_NEW...), then fork, like `unshare --fork`; waits for PID 1, mirrors its end
           └─ child  PID 1 of the new pid namespace; serves probes over a socketpair until told to stop

unshare(CLONE_NEWPID) does not move its caller, it decides where the caller's *later children* go, for good (man 7
pid_namespaces). That is why the isodemo process does not call it for good: the helper does, then forks the child
that becomes PID 1 (or, with `one_fork` below, isodemo calls it for one fork and undoes it). The helper also makes /
private in a new mount namespace before anything is mounted, so no mount made inside can propagate to the host.

With a user namespace the helper pauses over the channel: after unshare(CLONE_NEWUSER) it is the
overflow user with no mapping, and waits while the parent, which lives in the parent user namespace,
writes its uid_map, setgroups and gid_map; only then does it unshare the other namespaces, which the new
user namespace owns. Run as root with `as_user`, it first drops to that user, so what follows runs as that
user; the root parent still writes the map, but only the one line that user could write itself.

Both the helper and the child ask for SIGKILL when their parent dies (PR_SET_PDEATHSIG), so even a
SIGKILLed isodemo takes its namespaces with it; the kernel ends a pid namespace with its PID 1. The signals
that end a demo (signals.HANDLED: Ctrl-C, SIGTERM, a hangup, Ctrl-\\) raise in the parent; from the fork
until a `try` that stops what was forked they stay blocked, so whatever start() forked is known to stop().

With `one_fork` (`isodemo run`: no user or time namespace, none joined) there is no helper: the parent
calls unshare(CLONE_NEWPID) itself, forks the child, which is at once PID 1 of the new pid namespace, and
with setns(2) puts its own pid_for_children back where it lives (a descriptor of /proc/self/ns/pid, opened
before); the child unshares the other namespaces itself and makes / private. That saves a fork of the
parent's interpreter (its copy-on-write faults) and the helper's exit: ~3 ms of `isodemo run`.

This module is the parent side; what the helper and the child run after the fork is isolated_child.py.
"""

from __future__ import annotations

# _socket, the C module itself: socket.py would add selectors and four enums (~1.5 ms of `isodemo run`'s
# start), none of which a socketpair needs. A _socket.socket is no context manager: closed in `finally`.
import _socket as socket
import os
import select
import sys

from isodemo import channel, isolated_child, signals, testpoints, userns_policy
from isodemo.contexts import suppress
from isodemo.errors import IsodemoError
from isodemo.i18n import _
from isodemo.kernel import mount, namespaces
from isodemo.kernel.libc import libc

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Sequence
    from types import TracebackType
    from typing import Any, TypeVar

    from isodemo.kernel import userns

    T = TypeVar("T")
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)

# How long stop() waits for a helper that has not reported its child to end it and exit: its longest step is
# an unshare or a fork (milliseconds; ten times that in an emulated VM).
ABANDON_TIMEOUT = 5.0
# A new mount namespace's / right after the unshare: the mount(2) flags (with MS_REC) of each choice.
ROOT_PROPAGATION = {"rprivate": mount.MS_PRIVATE, "rslave": mount.MS_SLAVE, "rshared": mount.MS_SHARED}


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
        preload: Sequence[str] = (),
        join_cgroup: Sequence[str] = (),
        leave_cgroup: Sequence[str] = (),
        deferred: bool = False,
        join: dict[str, str] | None = None,
        root_propagation: str = "rprivate",
        one_fork: bool = False,
    ) -> None:
        """`as_user`: (uid, gid) the helper drops to before anything else (isodemo must be root).
        `mapping`: the uid/gid maps of a new user namespace; by default root inside is the helper's ids.
        `before_unshare(helper_pid)`: runs in the parent while the helper waits, before it unshares
        (to put it into a cgroup that a new cgroup namespace will take as its root).
        `time_offsets`: seconds added to the monotonic and boottime clocks of a new time namespace.
        `preload`: modules the helper imports while the parent runs `before_unshare`, so that the child has
        them without the parent importing them (isolated_child says why); never with `as_user`.
        `join_cgroup`: files (v1 `tasks`, v2 `cgroup.procs`) the helper writes "0" to, before it unshares: it
        moves itself into that cgroup, which a new cgroup namespace then takes as its root, without the wait a
        move by pid from here costs (isolated_child.join_cgroups); `leave_cgroup`: the same once it has forked
        the child, which stays. Neither with `as_user` (the helper is no longer root then).
        `deferred`: entering only forks the helper (begin()); the caller calls finish() when it needs the
        child, and may work meanwhile. Leaving stops it in either state.
        `join`: existing namespaces the helper enters with setns(2) before it unshares the new ones, {type:
        path such as /proc/PID/ns/net}, as runc joins a pod's: every path opened first, then setns in runc's
        order (namespaces.SETNS_ORDER). A joined pid namespace is the child's: the helper forks it there.
        `root_propagation`: what a new mount namespace's / becomes right after the unshare, "rprivate" (the
        default: nothing crosses to or from the host), "rslave" or "rshared" (runc's rootPropagation: a volume
        with mountPropagation HostToContainer or Bidirectional needs its copy to stay linked to the host's).
        `one_fork`: no helper (see the module's docstring): the child is forked by this process, `helper_pid`
        is the child's pid too. Not with a user or time namespace (they must exist before the pid namespace,
        and a new time namespace, like a pid one, is only for the caller's later children), `join`, `as_user`
        or `before_unshare`."""
        unknown = [n for n in namespaces_ if n not in namespaces.NAMESPACE_TYPES]
        if unknown:
            raise ValueError(f"unknown namespace types: {unknown}")
        if preload and as_user is not None:
            raise ValueError("preload imports after the fork: a helper that becomes another user must not")
        if (join_cgroup or leave_cgroup) and as_user is not None:
            raise ValueError("the helper joins a cgroup as root: not with as_user")
        join = join or {}
        both = [n for n in join if n in namespaces_ or n not in namespaces.NAMESPACE_TYPES]
        if both:
            raise ValueError(f"namespaces both joined and new, or unknown: {both}")
        self.namespaces = tuple(namespaces_)
        self.comm = comm
        self.as_user = as_user
        self.mapping = mapping
        self.before_unshare = before_unshare
        self.time_offsets = time_offsets
        self.preload = tuple(preload)
        self.join_cgroup = tuple(join_cgroup)
        self.leave_cgroup = tuple(leave_cgroup)
        self.deferred = deferred
        self.join = tuple((name, join[name]) for name in namespaces.SETNS_ORDER if name in join)
        if root_propagation not in ROOT_PROPAGATION:
            raise ValueError(f"unknown root propagation: {root_propagation}")
        self.root_propagation = root_propagation
        if one_fork and (
            self.flags & (namespaces.CLONE_NEWUSER | namespaces.CLONE_NEWTIME) or join or as_user or before_unshare
        ):
            raise ValueError("one_fork: not with a user or time namespace, join, as_user or before_unshare")
        self.one_fork = one_fork
        self.pid = 0  # the child's pid as the host sees it
        self.helper_pid = 0  # the process this one forked and waits for: the helper, or with one_fork the child
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
        if self.deferred:
            self.begin()
        else:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.begin()
        self.finish()

    def begin(self) -> None:
        """Fork the helper, which goes on by itself (preload, join_cgroup, unshare, fork the child), or with
        `one_fork` the child, which does the same but the fork; finish() waits for it. In between, the parent
        may do work of its own (a `deferred` Isolated)."""
        plan = isolated_child.Plan(
            flags=self.flags & ~namespaces.CLONE_NEWPID if self.one_fork else self.flags,
            comm=self.comm,
            as_user=self.as_user,
            pause_before_unshare=self.before_unshare is not None,
            time_offsets=self.time_offsets,
            preload=self.preload,
            join_cgroup=self.join_cgroup,
            leave_cgroup=self.leave_cgroup,
            join=self.join,
            root_propagation=ROOT_PROPAGATION[self.root_propagation],
        )
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a buffer copied by fork would otherwise be written twice
        libc()  # loaded here, once: the helper and the child inherit it (ctypes.CDLL and its prototypes)
        parent_pid = os.getpid()
        try:
            # Held from before the socketpair and the fork until both are known to stop(): an interrupt that
            # arrives in between waits, pending, and is delivered when the block ends, inside this try, whose
            # stop() closes the socket and ends the helper. The helper inherits the mask, and unblocks the
            # signals once it ignores them.
            with signals.held():
                parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock = parent_sock
                try:  # child_sock is closed in the parent; neither helper_main nor one_fork_main returns
                    if self.one_fork:
                        helper = self._fork_child(parent_sock, child_sock, parent_pid, plan)
                    else:
                        helper = os.fork()
                        if helper == 0:  # pragma: no cover - runs in the forked helper, reports over the socket
                            parent_sock.close()
                            isolated_child.helper_main(child_sock, parent_pid, plan)
                finally:
                    child_sock.close()
                self.helper_pid = helper
                testpoints.hit("isolated.forked")
        except BaseException:
            # __exit__ never runs when __enter__ raises: a Ctrl-C right here must not leak the children.
            self.stop()
            raise

    def _fork_child(
        self, parent_sock: socket.socket, child_sock: socket.socket, parent_pid: int, plan: isolated_child.Plan
    ) -> int:
        """one_fork: fork the child straight into a new pid namespace, as its PID 1 (module docstring). Called
        with the signals held: nothing else of this process forks between the unshare and the setns."""
        if not self.flags & namespaces.CLONE_NEWPID:
            return self._fork(parent_sock, child_sock, parent_pid, plan)
        own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                namespaces.unshare(namespaces.CLONE_NEWPID)
            except OSError as error:
                raise isolated_child.unshare_error(error, namespaces.CLONE_NEWPID) from None
            try:
                return self._fork(parent_sock, child_sock, parent_pid, plan)
            finally:  # only this process gets here: the child never returns from one_fork_main
                namespaces.setns(own, namespaces.CLONE_NEWPID)
        finally:
            os.close(own)

    @staticmethod
    def _fork(parent_sock: socket.socket, child_sock: socket.socket, parent_pid: int, plan: isolated_child.Plan) -> int:
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked child, reports over the socket
            parent_sock.close()
            isolated_child.one_fork_main(child_sock, parent_pid, plan)
        return child

    def finish(self) -> None:
        """Wait until the helper reports the child (answering its pauses); the child's pid is then known."""
        if self._sock is None:
            raise ChildGone(_("the namespace helper was never started"))
        try:
            self._await_child(self._sock)
        except BaseException:
            self.stop()
            raise

    def _await_child(self, sock: socket.socket) -> None:
        while True:
            try:
                kind, value = channel.recv(sock)
            except channel.ChannelClosed:
                self._reap_helper()
                raise ChildGone(
                    _(
                        "the namespace helper exited before it started the child (status {status})",
                        status=self.exit_status,
                    )
                ) from None
            if kind == channel.STARTED:
                self.pid = self.helper_pid if self.one_fork else int(value)  # the child sees itself as 1
                break
            if kind == channel.ERROR:
                self._reap_helper()
                raise value
            if kind != channel.PAUSED:
                raise ChildGone(_("the namespace helper said {kind}, which no parent expects", kind=repr(kind)))
            testpoints.hit("isolated.paused")
            self._on_pause(*value)
            channel.send(sock, (channel.GO,))
        with suppress(OSError, AttributeError):  # os.pidfd_open: Linux 5.3, Python 3.9
            self._pidfd = os.pidfd_open(self.pid)
        testpoints.hit("isolated.started")

    def _on_pause(self, stage: str, info: dict[str, int]) -> None:
        """The helper waits while the parent does what only the parent can do."""
        if stage == channel.PAUSE_BEFORE_UNSHARE and self.before_unshare is not None:
            self.before_unshare(self.helper_pid)
        elif stage == channel.PAUSE_USERNS:
            # The parent, in the parent user namespace, writes the maps: man 7 user_namespaces.
            from isodemo.kernel import userns

            self.user_report = info
            # Computed here, never taken from the helper's report: the parent trusts only what it knows.
            uid, gid = self.as_user or (os.geteuid(), os.getegid())
            mapping = self.mapping or userns.Mapping.root_as(uid, gid)
            try:
                self.mapping_written = userns.write_mapping(self.helper_pid, mapping)
            except OSError as error:
                raise userns_policy.blocked_at(userns_policy.STEP_MAP, error.errno or 0) from None

    def stop(self) -> None:
        """Kill the child (and with it, its pid namespace), reap the helper, close the channel. Idempotent.
        Uninterruptible: a signal that arrives meanwhile is delivered once the children are gone."""
        with signals.held():
            try:
                if self.helper_pid and self.exit_status is None:
                    if self.pid:
                        self._signal(signal.SIGKILL)
                    else:
                        self._abandon_start()
                    self._reap_helper()
            finally:
                if self._sock is not None:
                    self._sock.close()
                    self._sock = None
                if self._pidfd is not None:
                    os.close(self._pidfd)
                    self._pidfd = None

    def _abandon_start(self) -> None:
        """The helper has not reported its child, and may have forked it already: only the helper knows
        that pid. Closing the channel makes it end that child and exit (helper_main); SIGKILL only if it does
        not within ABANDON_TIMEOUT (its child then ends by PDEATHSIG, or on the closed channel)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if not _exits_within(self.helper_pid, ABANDON_TIMEOUT):
            with suppress(ProcessLookupError):
                os.kill(self.helper_pid, signal.SIGKILL)

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
        with suppress(ProcessLookupError):
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
            raise ChildGone(_("the isolated child (pid {pid}) is not running", pid=self.pid))
        try:
            channel.send(self._sock, (channel.CALL, probe, args, kwargs))
            kind, value = channel.recv(self._sock)
        except (channel.ChannelClosed, BrokenPipeError, ConnectionResetError):
            status = self._reap_helper()
            raise ChildGone(
                _(
                    "the isolated child (pid {pid}) exited with status {status} while running {probe}",
                    pid=self.pid,
                    status=status,
                    probe=getattr(probe, "__name__", probe),
                )
            ) from None
        if kind == channel.ERROR:
            raise value
        return value  # type: ignore[no-any-return]

    def submit(self, probe: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Start `probe(*args)` inside and return at once; collect() waits for its result. The parent works
        meanwhile (a client that sends requests while a controller changes what answers them); the child
        does nothing else until the probe returns, and nothing else may be asked of it before collect()."""
        if self._sock is None or not self.alive:
            raise ChildGone(_("the isolated child (pid {pid}) is not running", pid=self.pid))
        channel.send(self._sock, (channel.CALL, probe, args, kwargs))

    def collect(self) -> Any:
        """The result of the probe submit() started, once it has returned (or its exception, raised)."""
        if self._sock is None:
            raise ChildGone(_("the isolated child (pid {pid}) is not running", pid=self.pid))
        try:
            kind, value = channel.recv(self._sock)
        except (channel.ChannelClosed, BrokenPipeError, ConnectionResetError):
            status = self._reap_helper()
            raise ChildGone(
                _("the isolated child (pid {pid}) exited with status {status}", pid=self.pid, status=status)
            ) from None
        if kind == channel.ERROR:
            raise value
        return value

    def exec(self, launch: Callable[..., object], *args: Any) -> None:
        """Run `launch(*args)` inside, a function that ends in execve(2) and never returns.

        The channel is close-on-exec: when the execve succeeds, the child's end closes with no reply, and
        that is the sign that the new program runs. When `launch` fails before (the command does not exist),
        its exception comes back and is raised here. The child is now that program; its end is the
        helper's exit status (wait_fd(), then kill() or reap())."""
        if self._sock is None or not self.alive:
            raise ChildGone(_("the isolated child (pid {pid}) is not running", pid=self.pid))
        try:
            channel.send(self._sock, (channel.CALL, launch, args, {}))
            kind, value = channel.recv(self._sock)
        except (channel.ChannelClosed, BrokenPipeError, ConnectionResetError):
            self._sock.close()
            self._sock = None
            return
        if kind == channel.ERROR:
            raise value
        raise ChildGone(
            _("{launch} returned instead of executing a program", launch=getattr(launch, "__name__", launch))
        )

    def wait_fd(self) -> int:
        """A descriptor that turns readable when the helper exits (right after the child): a pidfd for
        select(2), owned by the caller."""
        return os.pidfd_open(self.helper_pid)

    def reap(self) -> int:
        """Wait for the child's end; its exit code, 128+N when signal N killed it."""
        return self._reap_helper()


def _exits_within(pid: int, timeout: float) -> bool:
    """Whether our child `pid` exits (becomes a zombie, not yet reaped) within `timeout` seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (OSError, AttributeError):  # os.pidfd_open: Linux 5.3, Python 3.9
        return False
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)  # a pidfd turns readable when it exits
        return bool(readable)
    finally:
        os.close(pidfd)
