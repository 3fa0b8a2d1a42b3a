"""Namespaces: unshare(2), setns(2) and the identity of a namespace (man 7 namespaces).

A namespace is identified by the inode of its /proc/PID/ns/<type> link; two processes are in the same
namespace exactly when those inodes (on the same nsfs device) are equal. `readlink /proc/PID/ns/pid`
shows it as `pid:[4026531836]`.
"""

from __future__ import annotations

import os

from isodemo.kernel.libc import check, libc

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Final

# <linux/sched.h>
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000


class NamespaceType:
    """One of the eight namespace types: its /proc/PID/ns file, its clone flag, and how to name it.
    A plain class, not a dataclass: this module is on `isodemo run`'s start-up path."""

    __slots__ = ("flag", "flag_name", "isolates", "name", "unshare_option")

    def __init__(self, name: str, flag: int, flag_name: str, unshare_option: str, isolates: str) -> None:
        self.name: Final = name  # the file in /proc/PID/ns
        self.flag: Final = flag
        self.flag_name: Final = flag_name
        self.unshare_option: Final = unshare_option  # util-linux unshare(1) option
        self.isolates: Final = isolates

    def _fields(self) -> tuple[str, int, str, str, str]:
        return (self.name, self.flag, self.flag_name, self.unshare_option, self.isolates)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NamespaceType) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "NamespaceType(name={!r}, flag={!r}, flag_name={!r}, unshare_option={!r}, isolates={!r})".format(
            *self._fields()
        )


NAMESPACE_TYPES: dict[str, NamespaceType] = {
    t.name: t
    for t in (
        NamespaceType("mnt", CLONE_NEWNS, "CLONE_NEWNS", "--mount", "mount points"),
        NamespaceType("uts", CLONE_NEWUTS, "CLONE_NEWUTS", "--uts", "hostname and NIS domain name"),
        NamespaceType("ipc", CLONE_NEWIPC, "CLONE_NEWIPC", "--ipc", "System V IPC, POSIX message queues"),
        NamespaceType("pid", CLONE_NEWPID, "CLONE_NEWPID", "--pid", "process IDs"),
        NamespaceType("net", CLONE_NEWNET, "CLONE_NEWNET", "--net", "network devices, stacks, ports"),
        NamespaceType("user", CLONE_NEWUSER, "CLONE_NEWUSER", "--user", "user and group IDs, capabilities"),
        NamespaceType("cgroup", CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "--cgroup", "cgroup root directory"),
        NamespaceType("time", CLONE_NEWTIME, "CLONE_NEWTIME", "--time", "boot and monotonic clocks"),
    )
}


# The order runc joins existing namespaces in (libcontainer/configs/namespaces_linux.go NamespaceTypes, used by
# nsexec.c join_namespaces): every type but user first, the user namespace after them.
SETNS_ORDER = ("ipc", "uts", "net", "pid", "mnt", "cgroup", "time", "user")


def flags_for(names: tuple[str, ...] | list[str]) -> int:
    flags = 0
    for name in names:
        flags |= NAMESPACE_TYPES[name].flag
    return flags


def unshare(flags: int) -> None:
    """man 2 unshare. Python 3.12+ has os.unshare; before that, libc's wrapper."""
    if hasattr(os, "unshare"):
        os.unshare(flags)
    else:
        check(libc().unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """man 2 setns: move the calling thread into the namespace that `fd` refers to."""
    if hasattr(os, "setns"):
        os.setns(fd, nstype)
    else:
        check(libc().setns(fd, nstype), "setns")


def ns_path(pid: int | str, name: str) -> str:
    return f"/proc/{pid}/ns/{name}"


def ns_inode(pid: int | str, name: str) -> int:
    """The inode that identifies the process's namespace of this type (stat follows the magic link)."""
    return os.stat(ns_path(pid, name)).st_ino


def ns_link(pid: int | str, name: str) -> str:
    """What `readlink /proc/PID/ns/NAME` prints, for example `pid:[4026531836]`."""
    return os.readlink(ns_path(pid, name))


def available_types() -> list[str]:
    """Namespace types this kernel has, in isodemo's order (time needs Linux 5.6)."""
    present = set(os.listdir("/proc/self/ns"))
    return [name for name in NAMESPACE_TYPES if name in present]
