"""The last steps before execve in a container, in the child: who it runs as, and what it may do.

    Security              plain data: the capability names kept, no_new_privs, the seccomp filter on/off
    lock_down(security, uid, gid, groups)
                          seccomp, the bounding set, ambient, setgroups/setresgid/setresuid, capset,
                          no_new_privs; returns what it did as a list of syscall strings (for --verbose)

The default seccomp filter (`FILTER`) refuses what Docker's default profile refuses to a container without
extra capabilities (github.com/moby/profiles, seccomp/default.json, vendored by moby). A named
simplification (`FILTER_NOTE`): Docker's profile is an allow list (default action ERRNO(EPERM), about 440
names allowed, everything else refused, also syscalls newer than the profile); this one is a deny list
(default action ALLOW) that refuses the same calls Docker refuses, with the same errno, for every call it
lists, and lets through whatever it does not list. Where Docker allows a call only when the container keeps
a capability (its "includes": {"caps": [...]}) the refusal names that capability in `unless`, so
`--cap-add SYS_ADMIN` lifts the mount refusals as it does with Docker. Left out: the `personality`
argument rules (Docker allows only a few personas), syscalls the kernel no longer implements (create_module,
nfsservctl, ...: ENOSYS either way), syscalls newer than the system's libseccomp knows, and other ABIs than
the native one (x86 and x32 calls meet libseccomp's bad-architecture action, which kills; Docker's profile
allows them).

Inheritable is left empty: Docker (moby's SetCapabilities, daemon/pkg/oci/oci.go, sets only Bounding,
Permitted and Effective) and containerd stopped filling it in March 2022 (moby 20.10.14, CVE-2022-24769,
GHSA-2mm7-x5h6-5pvq), because a non-empty inheritable set lets an executable with inheritable file
capabilities gain them even as a non-root user.
"""

from __future__ import annotations

import errno
import os

from isodemo.contexts import suppress
from isodemo.errors import KernelError
from isodemo.i18n import N_, _
from isodemo.kernel import capabilities, seccomp
from isodemo.kernel.namespaces import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)

# `dataclasses` (with `inspect`) and `typing` cost the Isolated helper ~10 ms while it preloads the child's
# modules (inside/launch.py), on the path of every container start: plain classes here, read-only for mypy
# (Final). mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

FILTER_NOTE = N_(
    "Docker's default seccomp profile is an allow list: about 440 system calls are allowed and every other "
    "one fails with EPERM. isodemo's filter is a deny list: it refuses the calls Docker refuses, with the "
    "same errno, for every call it names, and allows the rest."
)


class Security:
    __slots__ = ("capabilities", "no_new_privs", "seccomp")

    def __init__(self, capabilities: tuple[str, ...], no_new_privs: bool = False, seccomp: bool = True) -> None:
        self.capabilities: Final = capabilities  # CAP_* names kept in the bounding, permitted and effective sets
        self.no_new_privs: Final = no_new_privs
        self.seccomp: Final = seccomp  # the default filter (refuses mount, unshare, setns, ... with EPERM)

    def _fields(self) -> tuple[tuple[str, ...], bool, bool]:
        return (self.capabilities, self.no_new_privs, self.seccomp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Security) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "Security(capabilities={!r}, no_new_privs={!r}, seccomp={!r})".format(*self._fields())


class Refusal:
    """One rule of the filter: `syscall` fails with `errno` (when every argument comparison holds), unless
    the container keeps one of the capabilities in `unless` (Docker then allows the call)."""

    __slots__ = ("args", "errno", "label", "syscall", "unless")

    def __init__(
        self,
        syscall: str,
        errno: int = errno.EPERM,
        args: tuple[tuple[int, int, int, int], ...] = (),
        unless: tuple[str, ...] = (),
        label: str = "",
    ) -> None:
        self.syscall: Final = syscall
        self.errno: Final = errno
        self.args: Final = args  # (argument, SCMP_CMP_*, datum_a, datum_b), ANDed
        self.unless: Final = unless
        self.label: Final = label  # how to show an argument rule: "clone(CLONE_NEWUSER)"

    def describe(self) -> str:
        """'mount -> EPERM', 'clone(CLONE_NEWUSER) -> EPERM', 'clone3 -> ENOSYS'."""
        return f"{self.label or self.syscall} -> {errno.errorcode[self.errno]}"


def _refuse(names: str, *unless: str) -> tuple[Refusal, ...]:
    return tuple(Refusal(name, unless=unless) for name in names.split())


_ADMIN = "CAP_SYS_ADMIN"
# clone(2) flags argument (arg 0; arg 1 on s390): Docker allows clone only when (flags & 0x7E020000) == 0.
# A deny list cannot say "any of these bits", so one masked-equality rule per namespace flag.
_CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWNS": CLONE_NEWNS,
    "CLONE_NEWCGROUP": CLONE_NEWCGROUP,
    "CLONE_NEWUTS": CLONE_NEWUTS,
    "CLONE_NEWIPC": CLONE_NEWIPC,
    "CLONE_NEWUSER": CLONE_NEWUSER,
    "CLONE_NEWPID": CLONE_NEWPID,
    "CLONE_NEWNET": CLONE_NEWNET,
}
AF_ALG = 38
AF_VSOCK = 40

# Docker's refusals for x86_64 and aarch64, grouped by what lifts them in its profile.
FILTER: tuple[Refusal, ...] = (
    # Never allowed, whatever the capabilities: the root switch, the kernel keyring, kexec, swap, moving
    # other processes' pages, userfaultfd and io_uring (a large attack surface), obsolete calls.
    *_refuse("pivot_root add_key keyctl request_key kexec_load kexec_file_load swapon swapoff"),
    *_refuse("migrate_pages move_pages userfaultfd io_uring_setup io_uring_enter io_uring_register"),
    *_refuse("uselib ustat sysfs _sysctl"),
    *(
        Refusal("socket", args=((0, seccomp.SCMP_CMP_EQ, family, 0),), label=f"socket({label})")
        for label, family in (("AF_ALG", AF_ALG), ("AF_VSOCK", AF_VSOCK))
    ),
    # CAP_SYS_ADMIN: mounts and namespaces, quotas, fanotify, the host and domain names.
    *_refuse("mount umount2 unshare setns fsopen fsconfig fsmount fspick open_tree move_mount", _ADMIN),
    *_refuse("mount_setattr quotactl quotactl_fd fanotify_init lookup_dcookie sethostname setdomainname", _ADMIN),
    *_refuse("bpf", _ADMIN, "CAP_BPF"),
    *_refuse("perf_event_open", _ADMIN, "CAP_PERFMON"),
    *_refuse("syslog", _ADMIN, "CAP_SYSLOG"),
    *(
        Refusal("clone", args=((0, seccomp.SCMP_CMP_MASKED_EQ, flag, flag),), unless=(_ADMIN,), label=f"clone({name})")
        for name, flag in _CLONE_NAMESPACE_FLAGS.items()
    ),
    # clone3's flags are in a struct that seccomp cannot read: ENOSYS makes glibc fall back to clone(2),
    # where the rules above apply (Docker's rule, with errnoRet 38).
    Refusal("clone3", errno=errno.ENOSYS, unless=(_ADMIN,)),
    # One capability each.
    *_refuse("reboot", "CAP_SYS_BOOT"),
    *_refuse("init_module finit_module delete_module", "CAP_SYS_MODULE"),
    *_refuse("acct", "CAP_SYS_PACCT"),
    *_refuse("kcmp pidfd_getfd process_madvise", "CAP_SYS_PTRACE"),  # ptrace itself is allowed (Linux >= 4.8)
    *_refuse("iopl ioperm", "CAP_SYS_RAWIO"),
    *_refuse("settimeofday clock_settime", "CAP_SYS_TIME"),
    *_refuse("vhangup", "CAP_SYS_TTY_CONFIG"),
    *_refuse("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", "CAP_SYS_NICE"),
    *_refuse("open_by_handle_at", "CAP_DAC_READ_SEARCH"),
    *_refuse("chroot", "CAP_SYS_CHROOT"),  # one of the 14 defaults: refused only after --cap-drop SYS_CHROOT
)


def default_filter(kept: tuple[str, ...]) -> tuple[Refusal, ...]:
    """The refusals that apply to a container keeping these capabilities (CAP_* names)."""
    names = {capabilities.normalize(each) for each in kept}
    return tuple(rule for rule in FILTER if not names.intersection(rule.unless))


def load_filter(rules: tuple[Refusal, ...]) -> int:
    """Build the deny list with libseccomp and load it (seccomp(2) SECCOMP_SET_MODE_FILTER). Returns the
    number of rules loaded: a syscall this architecture does not have is skipped."""
    with seccomp.Filter(seccomp.SCMP_ACT_ALLOW) as deny_list:
        with suppress(OSError):  # libseccomp < 2.5 has no such attribute: the linear filter works too
            deny_list.set_attribute(seccomp.SCMP_FLTATR_CTL_OPTIMIZE, 2)  # a binary tree: fewer compares
        for rule in rules:
            number = seccomp.resolve(rule.syscall)
            if number is not None:
                deny_list.add(seccomp.SCMP_ACT_ERRNO(rule.errno), number, *rule.args)
        deny_list.load()
        return deny_list.rules


def _step(call: str, function: Callable[..., object], *args: object) -> None:
    """Run one call; a failure becomes a KernelError naming it (it crosses the channel to the parent)."""
    try:
        function(*args)
    except OSError as error:
        raise KernelError(call, error.errno or 0, os.strerror(error.errno or 0)) from None


def _setgroups_denied() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False


def lock_down(security: Security, uid: int, gid: int, groups: tuple[int, ...] = ()) -> list[str]:
    """Give up what the container must not have, in the order a process that is root in its namespaces can:

    1. seccomp: loaded while CAP_SYS_ADMIN is still held (without no_new_privs the kernel requires it);
    2. the bounding set, then ambient: prctl(PR_CAPBSET_DROP) needs CAP_SETPCAP, which setresuid to a
       non-zero uid takes away (runc drops the bounding set before it changes user, for the same reason);
    3. setgroups, setresgid, setresuid: for uid 0 nothing is lost; for another uid the kernel empties the
       permitted and effective sets (man 7 capabilities), as `docker run -u` does;
    4. capset: permitted = effective = the kept capabilities, inheritable empty (see the module docstring);
    5. no_new_privs, when asked.
    """
    kept = security.capabilities  # names as given ("NET_ADMIN" or "CAP_NET_ADMIN"): each part normalizes them
    done: list[str] = []
    if security.seccomp:
        done.append(load_seccomp(kept))
    done += drop_capabilities(kept, uid, gid, groups)
    if security.no_new_privs:
        done.append(set_no_new_privs())
    return done


# lock_down's parts, also called one at a time (isodemo container shows each in runc's order: no_new_privs,
# capabilities, then seccomp, which no_new_privs lets a process without CAP_SYS_ADMIN load).


def load_seccomp(kept: tuple[str, ...]) -> str:
    """The default filter for a container keeping the capabilities `kept` ("CAP_NET_ADMIN" or "NET_ADMIN";
    default_filter normalizes them), loaded."""
    try:
        count = load_filter(default_filter(kept))
    except OSError as error:
        raise KernelError("seccomp_load", error.errno or 0, os.strerror(error.errno or 0)) from None
    return f"seccomp(SECCOMP_SET_MODE_FILTER) {count} rules"


def drop_capabilities(kept: tuple[str, ...], uid: int, gid: int, groups: tuple[int, ...] = ()) -> list[str]:
    """The bounding set, ambient, the user and groups, then capset: lock_down's steps 2 to 4. `kept`:
    capability names, with or without CAP_ (normalized here)."""
    done: list[str] = []
    last = capabilities.last_cap()
    names = {capabilities.normalize(each) for each in kept}
    kept_bits = {capabilities.bit(each) for each in names if each in capabilities.NAMES}
    dropped = 0
    for number in range(last + 1):
        if number not in kept_bits and capabilities.in_bounding_set(number):
            _step("prctl(PR_CAPBSET_DROP)", capabilities.drop_bounding, number)
            dropped += 1
    done.append(f"prctl(PR_CAPBSET_DROP) {dropped} capabilities")
    _step("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", capabilities.clear_ambient)
    done.append("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)")

    if not groups and _setgroups_denied():
        # A user namespace whose gid map was written without setgroups (rootless): the list is already
        # the one the namespace started with, and setgroups(2) is refused for good.
        done.append(_("setgroups() skipped: /proc/self/setgroups is deny"))
    else:
        _step("setgroups", os.setgroups, list(groups))
        done.append(f"setgroups({len(groups)}, [{', '.join(map(str, groups))}])")
    _step("setresgid", os.setresgid, gid, gid, gid)
    done.append(f"setresgid({gid}, {gid}, {gid})")
    _step("setresuid", os.setresuid, uid, uid, uid)
    done.append(f"setresuid({uid}, {uid}, {uid})")

    permitted = capabilities.capget()[1]
    wanted = 0
    for number in kept_bits:
        wanted |= 1 << number
    target = wanted & permitted  # for a non-zero uid, permitted is already empty
    _step("capset", capabilities.capset, target, target, 0)
    done.append(f"capset(effective=0x{target:016x}, permitted=0x{target:016x}, inheritable=0x0)")
    return done


def set_no_new_privs() -> str:
    """prctl(PR_SET_NO_NEW_PRIVS, 1): from here on, execve never grants privileges (setuid, file caps)."""
    _step("prctl(PR_SET_NO_NEW_PRIVS)", capabilities.set_no_new_privs)
    return "prctl(PR_SET_NO_NEW_PRIVS, 1)"
