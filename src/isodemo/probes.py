"""Probes: plain functions that answer one question about "the world as this process sees it".

Called directly they answer for the host; passed to `Isolated.call` they answer from inside. Each returns
plain data (ints, strings, lists) so it can cross the channel and land in the JSON facts.
"""

from __future__ import annotations

import errno
import os
import pwd
import select
from typing import Any

from isodemo.kernel import capabilities, mount, namespaces, procfs, sysvipc, userns
from isodemo.kernel import process as kprocess


def my_pid() -> int:
    return os.getpid()


def processes(proc: str = "/proc") -> list[str]:
    """`PID COMM` for every process this /proc shows, like `ps -eo pid,comm`."""
    lines = []
    for pid in procfs.pids(proc):
        try:
            lines.append(f"{pid:>6} {kprocess.comm(pid)}")
        except OSError:
            continue  # it exited while we looked
    return lines


def pid_list(proc: str = "/proc") -> list[int]:
    return procfs.pids(proc)


def proc_mount_id() -> int | None:
    """The mount id of what is mounted on /proc here (the topmost one)."""
    ids = [m.mount_id for m in procfs.mountinfo() if m.mount_point == "/proc"]
    return ids[-1] if ids else None


def namespace_inode_of(pid: int, name: str) -> int:
    return namespaces.ns_inode(pid, name)


def process_count(proc: str = "/proc") -> int:
    return len(procfs.pids(proc))


def mount_proc() -> None:
    """`mount -t proc proc /proc`: a proc that shows the pid namespace of the process that mounts it."""
    mount.mount("proc", "/proc", "proc", mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC)


def hostname() -> str:
    return kprocess.gethostname()


def namespace_inode(name: str) -> int:
    return namespaces.ns_inode("self", name)


def namespace_link(name: str) -> str:
    return namespaces.ns_link("self", name)


def mount_points() -> list[str]:
    return [m.mount_point for m in procfs.mountinfo()]


def root_propagation() -> str:
    """Propagation of the mount at / as this process's mount namespace sees it."""
    roots = [m for m in procfs.mountinfo() if m.mount_point == "/"]
    return roots[-1].propagation if roots else "unknown"


def msg_queue_keys() -> list[str]:
    return [queue.key_hex for queue in sysvipc.msg_queues()]


def create_msg_queue(key: int) -> int:
    return sysvipc.msgget(key)


def remove_msg_queue(msqid: int) -> None:
    sysvipc.msgctl_rmid(msqid)


def listdir(path: str) -> list[str]:
    return sorted(os.listdir(path))


def write_file(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def sethostname(name: str) -> None:
    kprocess.sethostname(name)


def members_of_pid_namespace(inode: int) -> list[int]:
    """Host pids of every process whose pid namespace has this inode (what `lsns -t pid` groups)."""
    members = []
    for pid in procfs.pids():
        try:
            if namespaces.ns_inode(pid, "pid") == inode:
                members.append(pid)
        except OSError:
            continue
    return members


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


# -- user namespaces ---------------------------------------------------------------------------------------


def credentials() -> dict[str, Any]:
    """`id` and `grep CapEff /proc/self/status`: who this process is, and its effective capabilities."""
    mask = capabilities.effective()
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "capeff": f"{mask:016x}",
        "capabilities": capabilities.decode(mask),
        "uid_map": userns.read_map("self", "uid_map"),
    }


def errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, str(error.errno))


def try_sethostname_unchanged() -> str:
    """sethostname() to the name it already has: asks "may I?" without changing anything. "ok" or the errno."""
    try:
        kprocess.sethostname(kprocess.gethostname())
    except OSError as error:
        return errno_name(error)
    return "ok"


def own_uts_namespace_hostname(name: str) -> str:
    """unshare(CLONE_NEWUTS), then sethostname(name): the new UTS namespace belongs to our user namespace."""
    namespaces.unshare(namespaces.CLONE_NEWUTS)
    kprocess.sethostname(name)
    return kprocess.gethostname()


def file_owner(path: str) -> dict[str, Any]:
    """`ls -ln PATH` and `ls -l PATH`: the owner's uid as this process's user namespace shows it, and its name."""
    uid = os.stat(path).st_uid
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return {"uid": uid, "name": name}


def try_open(path: str) -> str:
    """open(PATH, O_RDONLY): "ok" or the errno name (a directory is opened too: that is `ls`'s first step)."""
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as error:
        return errno_name(error)
    return "ok"


def try_signal(pid: int) -> str:
    """kill(PID, 0): the permission check of kill(2) without sending anything. "ok" or the errno name."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        return errno_name(error)
    return "ok"


def create_file(path: str) -> int:
    """Create an empty file (O_EXCL); returns its owner uid as this side sees it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return os.stat(path).st_uid


# -- cgroup namespaces ------------------------------------------------------------------------------------


def cgroup_of(pid: int | str, controller: str) -> str:
    """The cgroup path of one hierarchy in /proc/PID/cgroup ("" is the v2 line), relative to the reader's
    cgroup namespace root."""
    return procfs.cgroup(pid).get(controller, "")


def mount_cgroupfs(root: str, controller: str) -> str:
    """Build /sys/fs/cgroup the way a runtime does in a container's mount namespace: a tmpfs on ROOT, then a
    fresh cgroup2 on it (v2), or the v1 hierarchy of CONTROLLER on ROOT/CONTROLLER. Returns that directory.
    (Mounting cgroup straight over the host's mount fails with EBUSY: the same filesystem on the same place.)
    In a cgroup namespace, the new mount's root is the namespace's root cgroup."""
    flags = mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC
    mount.mount("isodemo-cgroupfs", root, "tmpfs", flags, "mode=755")
    if not controller:
        mount.mount("cgroup2", root, "cgroup2", flags)
        return root
    target = os.path.join(root, controller)
    os.mkdir(target)
    mount.mount("cgroup", target, "cgroup", flags, controller)
    return target


def subdirectories(path: str) -> list[str]:
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False))
