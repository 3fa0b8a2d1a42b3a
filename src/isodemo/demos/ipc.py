"""ipc: System V IPC objects belong to an IPC namespace.

What you will see: a message queue created on the host is not visible inside a new IPC namespace, and a
queue created inside (even with the same key) is not visible on the host.
Kubernetes: the containers of a Pod share one IPC namespace, held by the pause container.
"""

from __future__ import annotations

from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.i18n import _
from isodemo.inside import ipc
from isodemo.kernel import sysvipc
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    key = ctx.run.sysv_key
    key_hex = f"0x{key:08x}"
    narrator.step(
        _("A message queue on the host"),
        syscalls=[f"msgget({key_hex}, IPC_CREAT|IPC_EXCL|0600)"],
        shell=["ipcmk -Q", "ipcs -q"],
    )
    narrator.explain(
        _(
            "System V message queues, semaphores and shared memory are named by a numeric key and "
            "live in the kernel until removed; `ipcs` lists them from /proc/sysvipc/."
        )
    )
    host_id = narrator.fact("host_queue_id", sysvipc.msgget(key))
    ctx.on_exit(sysvipc.msgctl_rmid, host_id)
    narrator.fact("host_queue_key", key_hex)
    visible_on_host = key_hex in ipc.msg_queue_keys()
    narrator.check(
        "queue_visible_on_host",
        visible_on_host,
        _("the host lists queue {key} (msqid {id})", key=key_hex, id=host_id),
        visible_on_host,
    )

    narrator.step(
        _("A new IPC namespace has none of the host's queues"),
        syscalls=["unshare(CLONE_NEWIPC)", "clone(SIGCHLD)  (fork)"],
        shell=[ctx.as_root("unshare --ipc ipcs -q")],
    )
    box = ctx.isolated(["ipc"])
    host_keys = ipc.msg_queue_keys()
    inside_keys = box.call(ipc.msg_queue_keys)
    narrator.compare(_("message queues (ipcs -q)"), host_keys, inside_keys or [_("(none)")])
    visible_inside = key_hex in inside_keys
    narrator.check(
        "queue_visible_inside", visible_inside, _("queue {key} is not visible inside", key=key_hex), not visible_inside
    )
    show_namespace_identity(narrator, box, "ipc")

    narrator.step(
        _("A queue made inside stays inside, even with the same key"),
        syscalls=[f"msgget({key_hex}, IPC_CREAT|IPC_EXCL|0600)  (inside)"],
        shell=[ctx.as_root(f"nsenter -t {box.pid} --ipc ipcmk -Q   (ipcmk picks a random key)"), "ipcs -q"],
    )
    narrator.explain(
        _(
            "IPC_EXCL makes msgget fail with EEXIST if the key is taken. Inside it succeeds: the key "
            "space itself belongs to the namespace."
        )
    )
    inside_id = narrator.fact("inside_queue_id", box.call(sysvipc.msgget, key))
    inside_keys = box.call(ipc.msg_queue_keys)
    host_keys = ipc.msg_queue_keys()
    narrator.compare(_("message queues (ipcs -q)"), host_keys, inside_keys)
    narrator.claim(
        _("inside, msgget created its own queue {key} (msqid {id})", key=key_hex, id=inside_id),
        key_hex in inside_keys,
    )
    narrator.check(
        "inside_queue_visible_on_host",
        host_keys.count(key_hex) > 1,
        _("the host still has exactly one queue with that key: its own"),
        host_keys.count(key_hex) == 1,
    )

    ctx.hold_here(narrator, {"ipc": box.pid}, [ctx.as_root(f"nsenter -t {box.pid} --ipc ipcs -q"), "ipcs -q"])
    narrator.kubernetes(
        _(
            "A Pod's containers share one IPC namespace: the pause container holds it and every container joins "
            "it with setns(2), so they can talk through SysV or POSIX shared memory and queues. Different Pods "
            "cannot see each other's objects. `hostIPC: true` puts a Pod in the node's IPC namespace. The queue "
            "made inside dies with the namespace; the host's queue is removed by isodemo (msgctl IPC_RMID)."
        )
    )
