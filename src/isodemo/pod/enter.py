"""`kubectl exec`: a command run in every namespace of a running container, as `runc exec` (or
`nsenter -t PID -a`) runs it.

An Isolated helper joins the container's cgroup, opens /proc/<pid>/ns/{ipc,uts,net,pid,mnt,cgroup}, setns(2)
into each in runc's order and forks: the child is in the container's pid namespace, and its root is the
container's (setns into a mount namespace moves the caller to that namespace's root). There it runs the command
with subprocess, from the container's own files, and sends back its exit status and output.

Simplification, named: `runc exec` also gives the command the container's capabilities, seccomp filter and
user; this runs it as root with isodemo's (the demo only reads and lists).
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

from isodemo.kernel import namespaces as kns

if TYPE_CHECKING:
    from isodemo.isolated import Isolated

# The namespaces of a container `runc exec` joins (the user and time ones are the host's here).
EXEC_NAMESPACES = ("ipc", "uts", "net", "pid", "mnt", "cgroup")
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 10.0


def entered(ctx: Any, pid: int, cgroup: Any = None) -> Isolated:
    """A child in every namespace (and the cgroup) of process `pid`, as a context manager: box.call() runs a
    probe there (a program of the container would make the same system calls)."""
    from isodemo.isolated import Isolated

    present = set(kns.available_types())
    join = {ns: kns.ns_path(pid, ns) for ns in EXEC_NAMESPACES if ns in present}
    files = cgroup.self_join_files() if cgroup is not None else ()
    return Isolated([], comm=ctx.run.name, join=join, join_cgroup=files)


def exec_in(ctx: Any, pid: int, argv: list[str], cgroup: Any = None, *, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run `argv` in the namespaces (and the cgroup) of process `pid`; its exit status and output (stdout and
    stderr together)."""
    with entered(ctx, pid, cgroup) as box:
        return box.call(run_command, argv, timeout)


def shell(pid: int, argv: list[str]) -> str:
    """The shell equivalent: `nsenter -t PID -a CMD` (what `kubectl exec` comes down to on the node)."""
    return "sudo nsenter -t {} -a {}".format(pid, " ".join(_quote(arg) for arg in argv))


def run_command(argv: list[str], timeout: float) -> tuple[int, str]:
    """In the joined child: the command from the container's own files; its status and output."""
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={"PATH": PATH, "HOME": "/root"},
            cwd="/",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired as error:
        output = error.output or b""
        return 124, output.decode(errors="replace")
    return result.returncode, result.stdout.decode(errors="replace")


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
