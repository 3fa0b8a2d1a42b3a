"""A container of the pod: `isodemo run`'s runtime (container/runtime.py), joining the sandbox's namespaces.

containerd gives runc a config.json whose namespaces list has paths for the shared ones
(`/proc/<pause>/ns/{net,ipc,uts}`, and pid with shareProcessNamespace) and none for the rest; runc opens every
path first, setns(2) in its order, then unshares the rest (mnt, pid, and cgroup on cgroup v2) and forks PID 1.
runtime.build(join=...) does exactly that; the image, overlay, cgroup, security settings and pivot_root are
`isodemo run`'s own. Each container has an ExitStack of its own, so that one can be killed and removed
(cgroup, overlay, directories) while the pod lives on.

Simplification, named: the kubelet keeps a container's stdout and stderr as its log (/var/log/pods/...);
isodemo sends them to /dev/null. When a dead container is started again is the caller's choice (`isodemo pod`
restarts one at once; cluster/kubelet.py follows the kubelet's restartPolicy and back-off).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from isodemo.narrate.runlog import RunLog


class PodContainer:
    """One running container of the pod: its name, its host pid, its cgroup, its own teardown."""

    def __init__(self, name: str, started: Any, stack: contextlib.ExitStack, log: RunLog) -> None:
        self.name = name
        self.started = started
        self.stack = stack
        self.log = log

    @property
    def pid(self) -> int:
        return int(self.started.box.pid)

    @property
    def cgroup(self) -> Any:
        return self.started.cgroup

    @property
    def syscalls(self) -> list[str]:
        """Every system call the runtime named while it built and started this container, in order."""
        return [call for step in self.log.report.steps for call in step.syscalls]

    def kill(self) -> int:
        """SIGKILL its PID 1 (the kernel ends its pid namespace with it), then remove its cgroup, overlay and
        directories. Its exit code (137)."""
        code = int(self.started.box.kill())
        self.stack.close()
        return code

    def terminate(self, grace: float) -> int:
        """How the kubelet stops a container: SIGTERM, then SIGKILL if it still runs after `grace` seconds
        (terminationGracePeriodSeconds, 30 by default); then its cgroup, overlay and directories go. A PID 1
        without a SIGTERM handler ignores SIGTERM (the kernel protects a namespace's init): it gets the SIGKILL.
        Its exit code."""
        return terminate_all([self], grace)[0]


def start(
    ctx: Any,
    name: str,
    command: tuple[str, ...],
    *,
    join: dict[str, str],
    hostname: str,
    shm: str | None = None,
    cgroup_parent: tuple[Any, str] | None = None,
    before_start: Callable[[Any, int], object] | None = None,
    quiet: bool = True,
    **resources: Any,
) -> PodContainer:
    """Build a busybox container that joins `join` ({type: /proc/<pause>/ns/type}), then execve `command`.
    `shm`: the sandbox's /dev/shm, bound on the container's. `cgroup_parent`: (the pod's cgroup, this
    container's id): its cgroup is <pod cgroup>/<id> (without it, a cgroup of its own where `isodemo run` makes
    one). `before_start` (its cgroup, the host pid of its PID 1): what the kubelet and the runtime set before
    the execve. `quiet`: its output to /dev/null. `resources`: RunSpec's limits (memory=, cpu_shares=...)."""
    from isodemo.container import runtime
    from isodemo.container.spec import RunSpec, Volume
    from isodemo.context import DemoContext

    stack = contextlib.ExitStack()
    ctx.enter(stack)  # ends with the demo at the latest; kill() ends it before
    own_ctx = DemoContext(ctx.run, ctx.host, stack, False, ctx.options)
    volumes = (Volume(shm, "/dev/shm"),) if shm else ()
    spec = RunSpec("busybox", command=command, name=name, hostname=hostname, volumes=volumes, **resources)
    log = RunLog()
    started = runtime.build(spec, own_ctx, log, role=f"ctr-{name}", join=join, cgroup_parent=cgroup_parent)
    if quiet:
        started.box.call(quiet_output)
    if before_start is not None:
        before_start(started.cgroup, int(started.box.pid))
    runtime.start(started, log)
    return PodContainer(name, started, stack, log)


def quiet_output() -> None:
    """In the container, before its execve: stdout and stderr to its /dev/null (see the module's docstring)."""
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def terminate_all(containers: list[PodContainer], grace: float) -> list[int]:
    """Stop several containers at once, as the kubelet's kills run side by side (a goroutine each): SIGTERM to
    all, one wait of `grace` for all of their pidfds together, SIGKILL to those still running; then each one's
    cgroup, overlay and directories go. One thread: isodemo's signal handling and forks assume it. Their exit
    codes, in order (137: the grace ran out)."""
    fds: list[int] = []
    ended: set[int] = set()
    try:
        for container in containers:
            fds.append(container.started.box.wait_fd())
        for container in containers:
            container.started.box.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while len(ended) < len(fds) and (left := deadline - time.monotonic()) > 0:
            ready, _w, _x = select.select([fd for fd in fds if fd not in ended], [], [], left)
            ended.update(ready)
    finally:
        for fd in fds:
            os.close(fd)
    codes = []
    for container, fd in zip(containers, fds, strict=True):
        box = container.started.box
        codes.append(int(box.reap() if fd in ended else box.kill()))
        container.stack.close()
    return codes
