"""Processes as the calling process sees them: what its /proc lists, who shares a namespace or a cgroup, and
the processes it starts (sleepers, a program, an orphan to watch being reaped).

Like every module of `isodemo.inside`: plain module-level functions that a demo runs inside the Isolated
child with `box.call(fn, ...)`, or calls directly for the host's view. They import only `isodemo.kernel`
and `isodemo.errors`, and return plain data that crosses the channel and lands in the JSON facts.
"""

from __future__ import annotations

import os
import select

from isodemo.kernel import namespaces, procfs
from isodemo.kernel import process as kprocess


def ps(proc: str = "/proc") -> list[str]:
    """`PID COMM` for every process this /proc shows, like `ps -eo pid,comm`."""
    lines = []
    for pid in procfs.pids(proc):
        try:
            lines.append(f"{pid:>6} {kprocess.comm(pid)}")
        except OSError:
            continue  # it exited while we looked
    return lines


def members_of_pid_namespace(inode: int) -> list[int]:
    """Pids (as this /proc numbers them) of every process whose pid namespace has this inode, what
    `lsns -t pid` groups."""
    members = []
    for pid in procfs.pids():
        try:
            if namespaces.ns_inode(pid, "pid") == inode:
                members.append(pid)
        except OSError:
            continue
    return members


def cgroup_of(pid: int | str, controller: str) -> str:
    """The cgroup path of one hierarchy in /proc/PID/cgroup ("" is the v2 line), relative to the reader's
    cgroup namespace root."""
    return procfs.cgroup(pid).get(controller, "")


def cgroup_procs(directory: str) -> list[int]:
    """`cat DIRECTORY/cgroup.procs`: the members of a cgroup, numbered in the reader's pid namespace (a
    process the reader's pid namespace cannot see is left out). [] once the cgroup is gone."""
    try:
        with open(os.path.join(directory, "cgroup.procs")) as f:
            return [int(line) for line in f.read().split()]
    except FileNotFoundError:
        return []


def spawn_sleepers(count: int) -> list[int]:
    """Fork `count` children that sleep until killed; return their pids as seen from here.

    Each child blocks on a pipe nobody writes to (not a timed sleep), so it only ends when killed.
    """
    read_end, _write_end = os.pipe()
    children = []
    for _ in range(count):
        child = os.fork()
        if child == 0:
            try:
                kprocess.set_comm("isodemo-sleeper")
                select.select([read_end], [], [])
            finally:
                os._exit(0)
        children.append(child)
    os.close(read_end)
    # _write_end stays open in this process on purpose: the sleepers never see EOF while we live.
    return children


def spawn_program(argv: list[str]) -> int:
    """Start a program as a child of this process (fork + execve); returns its pid once execve succeeded.

    The child holds the write end of a close-on-exec pipe: the parent's read sees end-of-file exactly when
    execve replaced the child (or the child died), no sooner.
    """
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(write_end)
    os.read(read_end, 1)
    os.close(read_end)
    return child


def orphan_reaping() -> dict[str, int | bool]:
    """Make an orphan and watch who adopts and reaps it.

    A child forks a grandchild and exits; the kernel reparents the grandchild to the nearest subreaper,
    which in a pid namespace is its PID 1. The grandchild reports its new parent, exits, and this process
    collects it with waitpid(-1). No sleeps: each side waits on a pipe for the other.
    """
    report_r, report_w = os.pipe()
    go_r, go_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:  # every forked branch ends in _exit: an exception must never reach the child's request loop
            orphan = os.fork()
            if orphan == 0:
                try:
                    os.read(go_r, 1)  # wait until the middle process is gone and reaped
                    os.write(report_w, f"{os.getpid()} {os.getppid()}".encode())
                finally:
                    os._exit(0)
        finally:
            os._exit(0)
    os.close(report_w)
    os.close(go_r)
    os.waitpid(middle, 0)  # the orphan is reparented before its parent can be reaped
    os.write(go_w, b"x")
    orphan_pid, new_parent = (int(v) for v in os.read(report_r, 64).split())
    reaped, _ = os.waitpid(-1, 0)
    os.close(report_r)
    os.close(go_w)
    return {
        "reaper_pid": os.getpid(),
        "orphan_pid": orphan_pid,
        "orphan_new_parent": new_parent,
        "reaped_pid": reaped,
        "reaped_by_me": reaped == orphan_pid and new_parent == os.getpid(),
    }
