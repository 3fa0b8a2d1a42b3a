"""System V IPC objects as the calling process sees them: `ipcs -q` shows only its IPC namespace's queues.

Like every module of `isodemo.inside`: plain module-level functions that a demo runs inside the Isolated
child with `box.call(fn, ...)`, or calls directly for the host's view. They import only `isodemo.kernel`
and `isodemo.errors`. Creating and removing a queue are syscalls: call `kernel.sysvipc` directly.
"""

from __future__ import annotations

from isodemo.kernel import sysvipc


def msg_queue_keys() -> list[str]:
    """The key (0x...) of every message queue in this IPC namespace, as `ipcs -q` lists them."""
    return [queue.key_hex for queue in sysvipc.msg_queues()]
