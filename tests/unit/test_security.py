"""The privileges `isodemo run` gives a container, as data: capability resolution (docker's --cap-add/--cap-drop/
--privileged rules), masked paths, and the seccomp deny list (every name known to libseccomp here).

No root needed: nothing is applied to this process. tests/root/test_security.py applies them in a child.
"""

from __future__ import annotations

import errno
import platform
from typing import Any

import pytest

from isodemo.container import security
from isodemo.container.spec import RunSpec
from isodemo.errors import ExitCode, RunError
from isodemo.inside import security as inside
from isodemo.kernel import capabilities, seccomp

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

DOCKER_DEFAULT_MASK = 0x00000000A80425FB  # CapEff of `docker run busybox grep Cap /proc/self/status`


def _spec(**options: Any) -> RunSpec:
    return RunSpec(image="busybox", **options)


# -- capabilities -----------------------------------------------------------------------------------------


def test_names_and_bits() -> None:
    assert capabilities.normalize("net_admin") == "CAP_NET_ADMIN"
    assert capabilities.normalize("Cap_Sys_Admin") == "CAP_SYS_ADMIN"
    assert capabilities.bit("sys_admin") == 21
    assert capabilities.bit("CAP_CHOWN") == 0
    assert capabilities.name(21) == "CAP_SYS_ADMIN"
    assert capabilities.name(63) == "cap_63"
    assert capabilities.mask(["CAP_CHOWN", "KILL"]) == 0x21
    with pytest.raises(KeyError):
        capabilities.bit("CAP_NO_SUCH_THING")


def test_docker_defaults_are_the_fourteen() -> None:
    assert len(security.DEFAULT_CAPABILITIES) == 14
    assert capabilities.mask(security.DEFAULT_CAPABILITIES) == DOCKER_DEFAULT_MASK


def test_status_sets_are_read_as_masks() -> None:
    sets = capabilities.sets("self")
    assert set(sets) == {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}
    with open("/proc/self/status") as f:
        bounding = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert sets["CapBnd"] == int(bounding, 16) == capabilities.bounding()
    assert capabilities.capget()[1] == sets["CapPrm"]


def test_default_spec_keeps_the_fourteen_with_seccomp() -> None:
    result = security.security_for(_spec())
    assert result == inside.Security(security.DEFAULT_CAPABILITIES, no_new_privs=False, seccomp=True)


def test_drop_then_add_any_spelling() -> None:
    kept = security.resolve_capabilities(cap_add=("net_admin",), cap_drop=("chown", "CAP_KILL", "Net_Raw"))
    assert "CAP_CHOWN" not in kept and "CAP_KILL" not in kept and "CAP_NET_RAW" not in kept
    assert kept[-1] == "CAP_NET_ADMIN"
    assert len(kept) == 12


def test_drop_all_keeps_only_the_adds() -> None:
    assert security.resolve_capabilities(cap_add=("NET_BIND_SERVICE",), cap_drop=("all",)) == ("CAP_NET_BIND_SERVICE",)
    assert security.resolve_capabilities(cap_drop=("ALL",)) == ()


def test_add_all_keeps_everything_but_the_drops() -> None:
    kept = security.resolve_capabilities(cap_add=("ALL",), cap_drop=("SYS_ADMIN",))
    assert kept == tuple(name for name in security.available_capabilities() if name != "CAP_SYS_ADMIN")


def test_adding_a_default_does_not_repeat_it() -> None:
    assert security.resolve_capabilities(cap_add=("CHOWN",)) == security.DEFAULT_CAPABILITIES


def test_unknown_name_is_refused_with_the_closest_names() -> None:
    with pytest.raises(RunError) as caught:
        security.security_for(_spec(cap_add=("NET_ADMN",)))
    assert caught.value.exit_code == ExitCode.RUN_FAILED
    assert '--cap-add: unknown capability "NET_ADMN"' in caught.value.message
    assert caught.value.hint is not None and "NET_ADMIN" in caught.value.hint
    with pytest.raises(RunError, match="--cap-drop"):
        security.resolve_capabilities(cap_drop=("frobnicate",))


def test_a_capability_this_process_cannot_give_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    without = tuple(name for name in capabilities.NAMES[:38] if name != "CAP_SYS_RESOURCE")
    monkeypatch.setattr(security, "available_capabilities", lambda: without)
    with pytest.raises(RunError, match="CAP_SYS_RESOURCE is not supported"):
        security.resolve_capabilities(cap_add=("sys_resource",))
    with pytest.raises(RunError, match="CAP_CHECKPOINT_RESTORE"):  # known to isodemo, newer than this "kernel"
        security.resolve_capabilities(cap_add=("CHECKPOINT_RESTORE",))
    assert security.resolve_capabilities(privileged=True) == without


def test_privileged_gets_every_capability_no_seccomp_no_masks() -> None:
    spec = _spec(privileged=True, cap_drop=("ALL",), no_new_privileges=True)
    result = security.security_for(spec)
    bounding = capabilities.bounding()
    expected = tuple(
        n for bit, n in enumerate(capabilities.NAMES[: capabilities.last_cap() + 1]) if bounding >> bit & 1
    )
    assert result.capabilities == expected
    assert len(expected) >= 38
    assert result.seccomp is False
    assert result.no_new_privs is True
    assert security.paths_for(spec) == ((), ())


def test_security_options() -> None:
    assert security.security_for(_spec(seccomp=False)).seccomp is False
    assert security.security_for(_spec(no_new_privileges=True)).no_new_privs is True


# -- masked and read-only paths ---------------------------------------------------------------------------


def test_default_paths_are_mobys() -> None:
    masked, readonly = security.paths_for(_spec())
    assert masked[: len(security.MASKED_PATHS)] == security.MASKED_PATHS
    assert {"/proc/kcore", "/proc/keys", "/proc/interrupts", "/sys/firmware"} <= set(masked)
    assert all(path.endswith("/thermal_throttle") for path in masked[len(security.MASKED_PATHS) :])
    assert readonly == ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def test_cpu_list() -> None:
    assert security.cpu_list("0-3,8\n") == [0, 1, 2, 3, 8]
    assert security.cpu_list("0\n") == [0]
    assert security.cpu_list("") == []


# -- the seccomp deny list --------------------------------------------------------------------------------

ISSUE_NAMES = [
    *("mount", "umount2", "unshare", "setns", "pivot_root", "keyctl", "add_key", "request_key", "bpf"),
    *("perf_event_open", "kexec_load", "kexec_file_load", "open_by_handle_at", "init_module", "finit_module"),
    *("delete_module", "reboot", "swapon", "swapoff"),
]


def _names(rules: tuple[inside.Refusal, ...]) -> set[str]:
    return {rule.syscall for rule in rules}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the syscall table checked is x86_64's")
def test_every_name_in_the_filter_resolves_through_libseccomp() -> None:
    unknown = [rule.syscall for rule in inside.FILTER if seccomp.resolve(rule.syscall) is None]
    assert unknown == []
    assert seccomp.resolve("mount") == 165
    assert seccomp.resolve("clone3") == 435
    assert seccomp.resolve("no_such_syscall") is None


def test_the_default_filter_refuses_what_the_issue_names() -> None:
    rules = inside.default_filter(security.DEFAULT_CAPABILITIES)
    assert set(ISSUE_NAMES) <= _names(rules)
    plain = {rule.syscall: rule for rule in rules if not rule.args}
    assert all(plain[name].errno == errno.EPERM for name in ISSUE_NAMES)
    assert plain["clone3"].errno == errno.ENOSYS
    assert len(rules) == 66
    assert "chroot" not in plain and "ptrace" not in _names(rules) and "name_to_handle_at" not in _names(rules)


def test_clone_is_refused_for_each_namespace_flag() -> None:
    clone = [rule for rule in inside.default_filter(security.DEFAULT_CAPABILITIES) if rule.syscall == "clone"]
    flags = {rule.args[0][2] for rule in clone}
    assert flags == {0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000}
    for rule in clone:
        ((arg, op, mask, value),) = rule.args
        assert (arg, op, mask) == (0, seccomp.SCMP_CMP_MASKED_EQ, value)
        assert rule.errno == errno.EPERM
    assert "clone(CLONE_NEWUSER) -> EPERM" in {rule.describe() for rule in clone}


def test_a_kept_capability_lifts_the_refusals_docker_ties_to_it() -> None:
    with_admin = _names(inside.default_filter((*security.DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN")))
    assert not {"mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf"} & with_admin
    assert {"pivot_root", "keyctl", "kexec_load", "reboot", "init_module"} <= with_admin
    assert "reboot" not in _names(inside.default_filter(("sys_boot",)))
    assert "chroot" in _names(inside.default_filter(()))


def test_the_simplification_is_stated() -> None:
    assert "allow list" in inside.FILTER_NOTE and "deny list" in inside.FILTER_NOTE
    assert inside.__doc__ is not None and "deny list" in inside.__doc__ and "CVE-2022-24769" in inside.__doc__


def test_libseccomp_builds_the_filter_without_loading_it() -> None:
    with seccomp.Filter(seccomp.SCMP_ACT_ALLOW) as deny_list:
        for rule in inside.FILTER:
            number = seccomp.resolve(rule.syscall)
            if number is not None:
                deny_list.add(seccomp.SCMP_ACT_ERRNO(rule.errno), number, *rule.args)
        assert deny_list.rules == len(inside.FILTER) - sum(seccomp.resolve(r.syscall) is None for r in inside.FILTER)
    with pytest.raises(ValueError):
        deny_list.add(seccomp.SCMP_ACT_ALLOW, 0)
    with seccomp.Filter(seccomp.SCMP_ACT_ALLOW) as bad, pytest.raises(OSError) as caught:
        bad.add(seccomp.SCMP_ACT_ERRNO(1), 165, (9, seccomp.SCMP_CMP_EQ, 0, 0))  # there is no argument 9
    assert caught.value.errno == errno.EINVAL
