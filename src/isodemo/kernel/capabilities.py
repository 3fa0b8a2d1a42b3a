"""Capabilities: the sets of /proc/PID/status decoded to the names of <linux/capability.h>, and the calls
that change them: capget(2)/capset(2), and prctl(2) for the bounding set, the ambient set, no_new_privs.

A thread has five sets (man 7 capabilities): effective (what the kernel checks), permitted (the most it
may make effective), inheritable (kept across execve only for files that carry the same bits), bounding
(the most any execve can give; can only shrink) and ambient (kept across execve of ordinary files).

A user namespace gives its first process the full set of capabilities, but they count only for objects
that namespace owns (man 7 user_namespaces). The mask in /proc/PID/status is the same either way; what
it is worth depends on the namespace the process is in.
"""

from __future__ import annotations

import ctypes

from isodemo.kernel import procfs
from isodemo.kernel.libc import check, libc

TYPE_CHECKING = False  # mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable

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


# /proc/PID/status field -> set
STATUS_FIELDS = {
    "CapInh": "inheritable",
    "CapPrm": "permitted",
    "CapEff": "effective",
    "CapBnd": "bounding",
    "CapAmb": "ambient",
}

# <linux/prctl.h>
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# <linux/capability.h>
_LINUX_CAPABILITY_VERSION_3 = 0x20080522  # 64-bit sets, as two 32-bit halves


def normalize(name: str) -> str:
    """'net_admin', 'NET_ADMIN' or 'cap_net_admin' -> 'CAP_NET_ADMIN' (what docker accepts for --cap-add)."""
    upper = name.strip().upper()
    return upper if upper.startswith("CAP_") else "CAP_" + upper


def bit(name: str) -> int:
    """The capability number of a name in any of normalize()'s spellings; KeyError for an unknown name."""
    try:
        return NAMES.index(normalize(name))
    except ValueError:
        raise KeyError(name) from None


def name(number: int) -> str:
    """The name of a capability number; cap_<n> for one newer than this table."""
    return NAMES[number] if number < len(NAMES) else f"cap_{number}"


def mask(names: tuple[str, ...] | list[str]) -> int:
    """The bit mask of these capabilities, as /proc/PID/status prints it: ['CAP_CHOWN', 'CAP_KILL'] -> 0x21."""
    value = 0
    for each in names:
        value |= 1 << bit(each)
    return value


def sets(pid: int | str = "self") -> dict[str, int]:
    """CapInh, CapPrm, CapEff, CapBnd and CapAmb of /proc/PID/status as masks, keyed by the field name."""
    status = procfs.status(pid)
    return {field: int(status[field], 16) for field in STATUS_FIELDS if field in status}


def bounding(pid: int | str = "self") -> int:
    return sets(pid)["CapBnd"]


def permitted(pid: int | str = "self") -> int:
    return sets(pid)["CapPrm"]


def inheritable(pid: int | str = "self") -> int:
    return sets(pid)["CapInh"]


def ambient(pid: int | str = "self") -> int:
    return sets(pid).get("CapAmb", 0)


class cap_user_header(ctypes.Structure):
    """struct __user_cap_header_struct (<linux/capability.h>)."""

    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class cap_user_data(ctypes.Structure):
    """struct __user_cap_data_struct: 32 capabilities of each set; version 3 passes two of them."""

    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_Data = cap_user_data * 2  # [0]: capabilities 0-31, [1]: 32-63
_CAP_PROTOTYPE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(cap_user_header), ctypes.POINTER(cap_user_data), use_errno=True
)


# Loaded once, on first use (functools.cache would do it, but functools brings collections: ~1 ms of every start).
_loaded: dict[str, Callable[..., int]] = {}


def _capcall(call: str) -> Callable[..., int]:
    if call in _loaded:
        return _loaded[call]
    # Prototypes of our own over glibc's capget/capset wrappers, so libc()'s shared table is not touched.
    function: Callable[..., int] = _CAP_PROTOTYPE((call, libc()))
    _loaded[call] = function
    return function


def capget(pid: int = 0) -> tuple[int, int, int]:
    """man 2 capget: (effective, permitted, inheritable) of a thread (0: the caller)."""
    header = cap_user_header(_LINUX_CAPABILITY_VERSION_3, pid)
    data = _Data()
    check(_capcall("capget")(ctypes.byref(header), data), "capget")
    effective, permitted, inheritable = (
        getattr(data[0], field) | getattr(data[1], field) << 32 for field in ("effective", "permitted", "inheritable")
    )
    return effective, permitted, inheritable


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """man 2 capset: set the caller's three sets. Permitted can only shrink; effective and inheritable must
    stay within permitted (inheritable also within the bounding set without CAP_SETPCAP)."""
    header = cap_user_header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = _Data()
    for half in (0, 1):
        shift = 32 * half
        data[half].effective = effective >> shift & 0xFFFFFFFF
        data[half].permitted = permitted >> shift & 0xFFFFFFFF
        data[half].inheritable = inheritable >> shift & 0xFFFFFFFF
    check(_capcall("capset")(ctypes.byref(header), data), "capset")


def in_bounding_set(number: int) -> bool:
    """prctl(PR_CAPBSET_READ): is this capability in the caller's bounding set?"""
    return check(libc().prctl(PR_CAPBSET_READ, number, 0, 0, 0), "prctl(PR_CAPBSET_READ)") == 1


def drop_bounding(number: int) -> None:
    """prctl(PR_CAPBSET_DROP): remove a capability from the bounding set for good (needs CAP_SETPCAP)."""
    check(libc().prctl(PR_CAPBSET_DROP, number, 0, 0, 0), "prctl(PR_CAPBSET_DROP)")


def clear_ambient() -> None:
    """prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL): empty the ambient set (Linux 4.3)."""
    check(libc().prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)")


def set_keepcaps(keep: bool) -> None:
    """prctl(PR_SET_KEEPCAPS): keep the permitted set when setuid() leaves uid 0 (cleared by execve)."""
    check(libc().prctl(PR_SET_KEEPCAPS, int(keep), 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")


def set_no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer grant privileges (setuid bits, file
    capabilities); can never be unset (man 2 PR_SET_NO_NEW_PRIVS)."""
    check(libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def no_new_privs() -> bool:
    """prctl(PR_GET_NO_NEW_PRIVS); /proc/PID/status shows the same as NoNewPrivs."""
    return check(libc().prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), "prctl(PR_GET_NO_NEW_PRIVS)") == 1
