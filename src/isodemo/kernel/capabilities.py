"""Capabilities: the CapEff mask of /proc/PID/status, decoded to the names of <linux/capability.h>.

A user namespace gives its first process the full set of capabilities, but they count only for objects
that namespace owns (man 7 user_namespaces). The mask in /proc/PID/status is the same either way; what
it is worth depends on the namespace the process is in.
"""

from __future__ import annotations

from isodemo.kernel import procfs

# Bit number -> name, from <linux/capability.h> (CAP_CHECKPOINT_RESTORE, 40, is Linux 5.9).
NAMES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


def decode(mask: int) -> list[str]:
    """0x...200000 -> ['CAP_SYS_ADMIN']; bits this table does not know are named cap_<bit>."""
    return [NAMES[bit] if bit < len(NAMES) else f"cap_{bit}" for bit in range(mask.bit_length()) if mask >> bit & 1]


def effective(pid: int | str = "self") -> int:
    """The CapEff mask of a process, as /proc/PID/status shows it (16 hex digits)."""
    return int(procfs.status(pid)["CapEff"], 16)


def last_cap() -> int:
    """The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())
