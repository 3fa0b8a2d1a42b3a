"""isodemo's pause: what kubernetes' build/pause/linux/pause.c does, written in Python.

pause.c installs three handlers and then sleeps forever:
    SIGINT, SIGTERM   sigdown(): exit(0)
    SIGCHLD           sigreap(): while (waitpid(-1, NULL, WNOHANG) > 0); (SA_NOCLDSTOP)
    for (;;) pause();
It is PID 1 of the pod's pid namespace, so with shareProcessNamespace every orphan of the pod is reparented to it
and reaped here. These functions run in the sandbox's Isolated child, which isodemo forked with this module
already imported; `become_pause` never returns.

Differences, named: pause.c is a static C binary of ~700 KB in its own image (registry.k8s.io/pause) with a
read-only root filesystem; this is the Isolated child (Python, ~10 MB) that keeps the host's files in its own
mount namespace. pause.c prints "Shutting down, got signal" and warns when it is not PID 1; this one is silent
(its stderr is the demo's terminal) and the demo checks PID 1 itself. Python's handlers are installed without
SA_NOCLDSTOP: a stopped child wakes it too, and waitpid(WNOHANG) then finds nothing to reap.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import NoReturn


def become_pause() -> NoReturn:
    """pause.c's main(): the handlers, then pause(2) forever. Its own session, as a container's process: a
    Ctrl-C typed at the demo's terminal is for isodemo, not for the sandbox. Closing every descriptor but 0-2
    closes the channel to isodemo, which takes it as "it runs", as after an execve."""
    signal.signal(signal.SIGINT, _down)
    signal.signal(signal.SIGTERM, _down)
    signal.signal(signal.SIGCHLD, _reap)
    if os.getsid(0) != os.getpid():
        os.setsid()
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    while True:  # pause.c exits 42 if its loop ever ends; this one cannot
        signal.pause()


def _down(signo: int, frame: FrameType | None) -> None:
    """sigdown(): exit 0 on SIGINT or SIGTERM."""
    os._exit(0)


def _reap(signo: int, frame: FrameType | None) -> None:
    """sigreap(): reap every child that has exited (orphans of the pod land here with a shared pid namespace)."""
    reap_all()


def reap_all() -> int:
    """waitpid(-1, WNOHANG) until nothing is left to reap; how many were reaped."""
    reaped = 0
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped += 1


def identity() -> dict[str, object]:
    """What the sandbox's process says about itself before it becomes the pause: its pid inside (1)."""
    return {"pid": os.getpid(), "hostname": os.uname().nodename}
