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

from isodemo import probes
from isodemo.demos.context import DemoContext, show_namespace_identity
from isodemo.kernel import process as kprocess
from isodemo.kernel import procfs
from isodemo.narrate.base import Narrator

SLEEPERS = 3


def run(narrator: Narrator, ctx: DemoContext) -> None:
    narrator.step(
        "A new pid namespace: PID 1 inside, an ordinary pid outside",
        syscalls=["unshare(CLONE_NEWPID|CLONE_NEWNS)", "fork()"],
        shell=[ctx.as_root("unshare --pid --mount --fork sh -c 'echo $$'")],
    )
    narrator.explain(
        "unshare(CLONE_NEWPID) does not move the caller: its next child is the first process of the new "
        "namespace and gets pid 1 there. isodemo's helper unshares and forks that child, like "
        "`unshare --fork`; isodemo itself stays on the host to watch."
    )
    box = ctx.isolated(["pid", "mnt"])
    host_pid = narrator.fact("host_pid", box.pid)
    inside_pid = narrator.fact("inside_pid", box.call(probes.my_pid))
    narrator.compare("getpid() of the child", f"{host_pid}", f"{inside_pid}")
    nspid = narrator.fact("nspid", procfs.nspid(host_pid))
    narrator.explain(
        f"/proc/{host_pid}/status on the host has a line NSpid: {'  '.join(map(str, nspid))}: "
        "the same process's pid in each pid namespace it belongs to, outermost first."
    )
    narrator.claim("the child is PID 1 inside its namespace", inside_pid == 1)
    narrator.claim(f"NSpid lists it as {host_pid} on the host and 1 inside", nspid == [host_pid, 1])
    show_namespace_identity(narrator, box, "pid")

    narrator.step(
        "ps reads /proc: a fresh /proc shows only the namespace",
        syscalls=['mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)'],
        shell=["mount -t proc proc /proc", "ps -e"],
    )
    before = box.call(probes.process_count)
    narrator.explain(
        f"Before anything is mounted, the child still reads the host's /proc and counts {before} processes: "
        "ps and top list what /proc lists, and a proc mount shows the pid namespace of whoever mounted it. "
        "So the child, inside its own mount namespace, mounts a new proc over /proc."
    )
    host_proc_mount = probes.proc_mount_id()
    box.call(probes.mount_proc)
    host_procs = probes.processes()
    inside_procs = box.call(probes.processes)
    narrator.compare("processes (ps -eo pid,comm)", host_procs, inside_procs)
    on_host = narrator.fact("procs_visible_on_host", len(host_procs))
    inside = narrator.fact("procs_visible_inside", len(inside_procs))
    pidns = probes.namespace_inode_of(host_pid, "pid")
    members_inside = {procfs.nspid(pid)[-1] for pid in probes.members_of_pid_namespace(pidns)}
    seen_inside = set(box.call(probes.pid_list))
    narrator.claim(
        f"inside, the fresh /proc shows exactly the namespace's {inside} process(es), as the host counts them",
        seen_inside == members_inside,
    )
    narrator.claim(
        f"the host still sees all {on_host} processes, the child among them",
        on_host > inside and os.path.exists(f"/proc/{host_pid}"),
    )
    inside_proc_mount = box.call(probes.proc_mount_id)
    narrator.claim(
        "the host's /proc is untouched: the new proc is a new mount, in the child's mount namespace only",
        probes.proc_mount_id() == host_proc_mount and inside_proc_mount != host_proc_mount,
    )

    narrator.step(
        "PID 1 adopts orphans and must reap them",
        syscalls=["fork()", "_exit()", "waitpid(-1, ...)"],
        shell=[ctx.as_root("unshare --pid --fork --mount-proc sh -c '(sleep 100 &); ps -o pid,ppid,comm'")],
    )
    narrator.explain(
        "A child forks a grandchild and exits. The grandchild is now an orphan; the kernel hands it to the "
        "PID 1 of its pid namespace, which must collect its exit status with waitpid(), or it stays a "
        "zombie forever. On the host that is the job of the host's PID 1 (systemd on most machines); "
        "in a container it is the entrypoint's."
    )
    orphan = box.call(probes.orphan_reaping)
    narrator.compare(
        "the orphan, as PID 1 sees it",
        [
            f"the reaper, PID 1 inside, is host pid {host_pid}",
            f"orphans of host processes go to host PID 1 ({kprocess.comm(1)})",
        ],
        [
            f"orphan pid {orphan['orphan_pid']}: new parent pid {orphan['orphan_new_parent']}",
            f"waitpid(-1) in PID 1 returned {orphan['reaped_pid']}",
        ],
    )
    narrator.fact("orphan_pid_inside", orphan["orphan_pid"])
    reaped = narrator.fact("orphan_reaped_by_pid1", bool(orphan["reaped_by_me"]) and orphan["reaper_pid"] == 1)
    narrator.claim("the orphan's new parent is PID 1, and PID 1's waitpid() reaped it", reaped)

    narrator.step(
        "PID 1 ignores signals it has no handler for",
        syscalls=[f"kill({host_pid}, SIGTERM)"],
        shell=[ctx.as_root(f"kill -TERM {host_pid}")],
    )
    narrator.explain(
        "The kernel protects a namespace's init: a signal whose action is the default is dropped, even "
        "SIGTERM from the host. Only SIGKILL (and SIGSTOP) from an ancestor namespace is forced. This is why "
        "`docker stop` or a Pod deletion waits out its grace period and then sends SIGKILL to an entrypoint "
        "that never installed a SIGTERM handler."
    )
    box.send_signal(signal.SIGTERM)
    still_answers = box.call(probes.my_pid) == 1  # a round trip after the signal: it is still there
    narrator.fact("sigterm_ignored_by_pid1", still_answers)
    narrator.claim("PID 1 is still running after SIGTERM", still_answers)

    narrator.step(
        "Killing PID 1 kills the whole namespace",
        syscalls=["unshare(CLONE_NEWPID|CLONE_NEWNS)", "fork() x3", "kill(pid1, SIGKILL)"],
        shell=[ctx.as_root("lsns -t pid"), ctx.as_root("kill -KILL <pid of PID 1>")],
    )
    narrator.explain(
        f"A second namespace, so the first one stays for you to inspect: its PID 1 starts {SLEEPERS} "
        "sleeping children. When PID 1 dies, the kernel sends SIGKILL to every other process in the "
        "namespace, and the namespace is gone."
    )
    doomed = ctx.isolated(["pid", "mnt"])
    doomed.call(probes.spawn_sleepers, SLEEPERS)
    inode = doomed.call(probes.namespace_inode, "pid")
    members = probes.members_of_pid_namespace(inode)
    nspids = [" ".join(map(str, procfs.nspid(pid))) for pid in members]
    status = doomed.kill(signal.SIGKILL)
    after = probes.members_of_pid_namespace(inode)
    narrator.compare(
        f"processes in pid namespace {inode}, seen from the host",
        [f"NSpid {line}" for line in nspids],
        [f"after SIGKILL to PID 1 (exit status {status}): {len(after)} processes"],
        host_title="before",
        inside_title="after",
    )
    narrator.fact("namespace_members_before_kill", len(members))
    narrator.fact("namespace_members_after_kill", len(after))
    killed_all = narrator.fact("killing_pid1_kills_all", len(members) == SLEEPERS + 1 and not after)
    narrator.claim(f"all {len(members)} processes of the namespace are gone with its PID 1", killed_all)

    ctx.hold_here(narrator, {"pid1": host_pid})
    narrator.kubernetes(
        "Every container gets its own pid namespace, and its entrypoint is PID 1 there. So it must reap "
        "orphans and handle SIGTERM itself, or run under a small init (tini, `docker run --init`): the "
        "kubelet stops a container with SIGTERM, waits terminationGracePeriodSeconds (30 s), then SIGKILLs. "
        "When PID 1 exits, the whole container ends, and restartPolicy decides what happens next. With "
        "`shareProcessNamespace: true` a Pod's containers share one pid namespace whose PID 1 is the "
        "`pause` process, which reaps zombies for all of them."
    )
