"""pid: the process that is PID 1 in a container is an ordinary process on the host.

What you will see: a child in a new pid namespace calls itself PID 1 while the host knows it by another
number (both listed in NSpid); its own /proc shows only the namespace's processes once a fresh /proc is
mounted; it adopts and reaps orphans; it ignores SIGTERM unless it installs a handler; and killing it
kills every process of the namespace.
Kubernetes: why a container's entrypoint is PID 1 and needs an init, and what shareProcessNamespace does.
"""

from __future__ import annotations

import os
import signal

from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.i18n import _, ngettext
from isodemo.inside import filesystem, processes
from isodemo.isolated import Isolated
from isodemo.kernel import namespaces, procfs
from isodemo.kernel import process as kprocess
from isodemo.narrate.base import Narrator

SLEEPERS = 3
FORK = "clone(SIGCHLD)  (fork)"  # the syscall glibc's fork() makes


def run(narrator: Narrator, ctx: DemoContext) -> None:
    box = _new_namespace(narrator, ctx)
    _fresh_proc(narrator, box)
    _orphans(narrator, ctx, box)
    _sigterm(narrator, ctx, box)
    _kill_pid1(narrator, ctx)
    ctx.hold_here(narrator, {"pid1": box.pid})
    narrator.kubernetes(
        _(
            "Every container gets its own pid namespace, and its entrypoint is PID 1 there. So it must reap "
            "orphans and handle SIGTERM itself, or run under a small init (tini, `docker run --init`): the "
            "kubelet stops a container with SIGTERM, waits terminationGracePeriodSeconds (30 s), then SIGKILLs. "
            "When PID 1 exits, the whole container ends, and restartPolicy decides what happens next. With "
            "`shareProcessNamespace: true` a Pod's containers share one pid namespace whose PID 1 is the "
            "`pause` process, which reaps zombies for all of them."
        )
    )


def _new_namespace(narrator: Narrator, ctx: DemoContext) -> Isolated:
    narrator.step(
        _("A new pid namespace: PID 1 inside, an ordinary pid outside"),
        syscalls=["unshare(CLONE_NEWPID|CLONE_NEWNS)", FORK],
        shell=[ctx.as_root("unshare --pid --mount --fork sh -c 'echo $$'")],
    )
    narrator.explain(
        _(
            "unshare(CLONE_NEWPID) does not move the caller: its next child is the first process of the new "
            "namespace and gets pid 1 there. isodemo's helper unshares and forks that child, like "
            "`unshare --fork`; isodemo itself stays on the host to watch. (fork() is a C library function: the "
            "syscall it makes is clone(), which is what strace shows.)"
        )
    )
    box = ctx.isolated(["pid", "mnt"])
    host_pid = narrator.fact("host_pid", box.pid)
    inside_pid = box.call(os.getpid)
    narrator.compare(_("getpid() of the child"), f"{host_pid}", f"{inside_pid}")
    narrator.check("inside_pid", inside_pid, _("the child is PID 1 inside its namespace"), inside_pid == 1, show=True)
    nspid = procfs.nspid(host_pid)
    narrator.explain(
        _(
            "/proc/{pid}/status on the host has a line NSpid: {nspid}: "
            "the same process's pid in each pid namespace it belongs to, outermost first.",
            pid=host_pid,
            nspid="  ".join(map(str, nspid)),
        )
    )
    narrator.check(
        "nspid",
        nspid,
        _("NSpid lists it as {pid} on the host and 1 inside", pid=host_pid),
        nspid == [host_pid, 1],
        show=True,
    )
    show_namespace_identity(narrator, box, "pid")
    return box


def _fresh_proc(narrator: Narrator, box: Isolated) -> None:
    host_pid = box.pid
    narrator.step(
        _("ps reads /proc: a fresh /proc shows only the namespace"),
        syscalls=['mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)'],
        shell=["mount -t proc proc /proc", "ps -e"],
    )
    before = len(box.call(procfs.pids))
    narrator.explain(
        _(
            "Before anything is mounted, the child still reads the host's /proc and counts {n} processes: "
            "ps and top list what /proc lists, and a proc mount shows the pid namespace of whoever mounted it. "
            "So the child, inside its own mount namespace, mounts a new proc over /proc.",
            n=before,
        )
    )
    host_proc_mount = filesystem.proc_mount_id()
    box.call(filesystem.mount_proc)
    host_procs = processes.ps()
    inside_procs = box.call(processes.ps)
    narrator.compare(_("processes (ps -eo pid,comm)"), host_procs, inside_procs)
    on_host = narrator.fact("procs_visible_on_host", len(host_procs))
    inside = narrator.fact("procs_visible_inside", len(inside_procs))
    pidns = namespaces.ns_inode(host_pid, "pid")
    members_inside = {procfs.nspid(pid)[-1] for pid in processes.members_of_pid_namespace(pidns)}
    seen_inside = set(box.call(procfs.pids))
    narrator.claim(
        ngettext(
            "inside, the fresh /proc shows exactly the namespace's {n} process, as the host counts it",
            "inside, the fresh /proc shows exactly the namespace's {n} processes, as the host counts them",
            inside,
        ),
        seen_inside == members_inside,
    )
    narrator.claim(
        _("the host still sees all {n} processes, the child among them", n=on_host),
        on_host > inside and os.path.exists(f"/proc/{host_pid}"),
    )
    inside_proc_mount = box.call(filesystem.proc_mount_id)
    narrator.claim(
        _("the host's /proc is untouched: the new proc is a new mount, in the child's mount namespace only"),
        filesystem.proc_mount_id() == host_proc_mount and inside_proc_mount != host_proc_mount,
    )


def _orphans(narrator: Narrator, ctx: DemoContext, box: Isolated) -> None:
    narrator.step(
        _("PID 1 adopts orphans and must reap them"),
        syscalls=[FORK, "exit_group(0)  (the orphan's parent exits)", "wait4(-1, ...)  (waitpid)"],
        shell=[ctx.as_root("unshare --pid --fork --mount-proc sh -c '(sleep 100 &); ps -o pid,ppid,comm'")],
    )
    narrator.explain(
        _(
            "A child forks a grandchild and exits. The grandchild is now an orphan; the kernel hands it to the "
            "PID 1 of its pid namespace, which must collect its exit status with waitpid(), or it stays a "
            "zombie forever. On the host that is the job of the host's PID 1 (systemd on most machines); "
            "in a container it is the entrypoint's."
        )
    )
    orphan = box.call(processes.orphan_reaping)
    narrator.compare(
        _("the orphan, as PID 1 sees it"),
        [
            _("the reaper, PID 1 inside, is host pid {pid}", pid=box.pid),
            _("orphans of host processes go to host PID 1 ({comm})", comm=kprocess.comm(1)),
        ],
        [
            _(
                "orphan pid {pid}: new parent pid {parent}",
                pid=orphan["orphan_pid"],
                parent=orphan["orphan_new_parent"],
            ),
            _("waitpid(-1) in PID 1 returned {pid}", pid=orphan["reaped_pid"]),
        ],
    )
    narrator.fact("orphan_pid_inside", orphan["orphan_pid"])
    reaped = bool(orphan["reaped_by_me"]) and orphan["reaper_pid"] == 1
    narrator.check(
        "orphan_reaped_by_pid1",
        reaped,
        _("the orphan's new parent is PID 1, and PID 1's waitpid() reaped it"),
        reaped,
        show=True,
    )


def _sigterm(narrator: Narrator, ctx: DemoContext, box: Isolated) -> None:
    narrator.step(
        _("PID 1 ignores signals it has no handler for"),
        syscalls=[f"pidfd_send_signal(pidfd of {box.pid}, SIGTERM, NULL, 0)"],
        shell=[ctx.as_root(f"kill -TERM {box.pid}")],
    )
    narrator.explain(
        _(
            "The kernel protects a namespace's init: a signal whose action is the default is dropped, even "
            "SIGTERM from the host. Only SIGKILL (and SIGSTOP) from an ancestor namespace is forced. This is why "
            "`docker stop` or a Pod deletion waits out its grace period and then sends SIGKILL to an entrypoint "
            "that never installed a SIGTERM handler."
        )
    )
    narrator.explain(
        _(
            "isodemo signals through a pidfd (pidfd_open({pid}) when the child started), not kill({pid}): "
            "a pid is only a number, which the kernel gives to a new process once the old one is reaped; a pidfd "
            "names this one process, so the signal can never reach another. `kill -TERM` does the same with a pid.",
            pid=box.pid,
        )
    )
    box.send_signal(signal.SIGTERM)
    still_answers = box.call(os.getpid) == 1  # a round trip after the signal: it is still there
    narrator.check(
        "sigterm_ignored_by_pid1", still_answers, _("PID 1 is still running after SIGTERM"), still_answers, show=True
    )


def _kill_pid1(narrator: Narrator, ctx: DemoContext) -> None:
    narrator.step(
        _("Killing PID 1 kills the whole namespace"),
        syscalls=[
            "unshare(CLONE_NEWPID|CLONE_NEWNS)",
            f"{FORK}  x{SLEEPERS + 1}: PID 1, then its {SLEEPERS} children",
            "pidfd_send_signal(pidfd of PID 1, SIGKILL, NULL, 0)",
        ],
        shell=[ctx.as_root("lsns -t pid"), ctx.as_root("kill -KILL <pid of PID 1>")],
    )
    narrator.explain(
        _(
            "A second namespace, so the first one stays for you to inspect: its PID 1 starts {n} "
            "sleeping children. When PID 1 dies, the kernel sends SIGKILL to every other process in the "
            "namespace, and the namespace is gone.",
            n=SLEEPERS,
        )
    )
    doomed = ctx.isolated(["pid", "mnt"])
    doomed.call(processes.spawn_sleepers, SLEEPERS)
    inode = doomed.call(namespaces.ns_inode, "self", "pid")
    members = processes.members_of_pid_namespace(inode)
    nspids = [" ".join(map(str, procfs.nspid(pid))) for pid in members]
    status = doomed.kill(signal.SIGKILL)
    after = processes.members_of_pid_namespace(inode)
    narrator.compare(
        _("processes in pid namespace {inode}, seen from the host", inode=inode),
        [f"NSpid {line}" for line in nspids],
        [
            ngettext(
                "after SIGKILL to PID 1 (exit status {status}): {n} process",
                "after SIGKILL to PID 1 (exit status {status}): {n} processes",
                len(after),
                status=status,
            )
        ],
        host_title=_("before"),
        inside_title=_("after"),
    )
    narrator.fact("namespace_members_before_kill", len(members))
    narrator.fact("namespace_members_after_kill", len(after))
    killed_all = len(members) == SLEEPERS + 1 and not after
    narrator.check(
        "killing_pid1_kills_all",
        killed_all,
        _("all {n} processes of the namespace are gone with its PID 1", n=len(members)),
        killed_all,
        show=True,
    )
