"""System V message queues: msgget(2), msgctl(IPC_RMID) and /proc/sysvipc/msg (man 7 sysvipc).

/proc/sysvipc/msg lists the queues of the reader's IPC namespace, so the same file read from the host and
from inside a new IPC namespace shows two different sets: that is what `ipcs -q` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from isodemo.kernel.libc import check, libc

IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_RMID = 0


@dataclass(frozen=True)
class MessageQueue:
    key: int
    msqid: int
    perms: int
    uid: int

    @property
    def key_hex(self) -> str:
        return f"0x{self.key:08x}"


def msgget(key: int, *, create: bool = True, mode: int = 0o600) -> int:
    """Create (or open) the queue with this key; returns its msqid."""
    flags = mode | (IPC_CREAT | IPC_EXCL if create else 0)
    return check(libc().msgget(key, flags), f"msgget(0x{key:08x})")


def msgctl_rmid(msqid: int) -> None:
    check(libc().msgctl(msqid, IPC_RMID, None), f"msgctl({msqid}, IPC_RMID)")


def parse_msg_queues(text: str) -> list[MessageQueue]:
    queues = []
    lines = text.splitlines()
    for line in lines[1:]:  # the first line is the header
        fields = line.split()
        if len(fields) < 8:
            continue
        # key msqid perms cbytes qnum lspid lrpid uid ...
        # The kernel prints the key as a signed decimal (%10d); keep it as the unsigned key_t it is.
        key = int(fields[0]) & 0xFFFFFFFF
        queues.append(MessageQueue(key, int(fields[1]), int(fields[2], 8), int(fields[7])))
    return queues


def msg_queues() -> list[MessageQueue]:
    with open("/proc/sysvipc/msg") as f:
        return parse_msg_queues(f.read())
