"""Pure logic of user and time namespaces: capability names, maps, the blocker diagnosis, offsets."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isodemo import rootless, userns_policy, values
from isodemo.errors import ExitCode, UsageError
from isodemo.kernel import capabilities, timens, userns

NONE_SET = {
    "kernel.apparmor_restrict_unprivileged_userns": None,
    "kernel.unprivileged_userns_clone": None,
    "user.max_user_namespaces": "15000",
}


def test_decode_capabilities() -> None:
    assert capabilities.decode(0) == []
    assert capabilities.decode(1 << 21) == ["CAP_SYS_ADMIN"]
    assert capabilities.decode(0x1FFFFFFFFFF) == list(capabilities.NAMES)
    assert capabilities.decode(1 << 45) == ["cap_45"]


@given(st.sets(st.integers(min_value=0, max_value=len(capabilities.NAMES) - 1)))
def test_decode_is_the_inverse_of_setting_bits(bits: set[int]) -> None:
    mask = sum(1 << bit for bit in bits)
    assert capabilities.decode(mask) == [capabilities.NAMES[bit] for bit in sorted(bits)]


def test_mapping_writes_setgroups_before_gid_map() -> None:
    files = userns.Mapping.root_as(1000, 1001).files()
    assert files == [("uid_map", "0 1000 1"), ("setgroups", "deny"), ("gid_map", "0 1001 1")]


@pytest.mark.parametrize(
    ("step", "code", "policy", "cause", "fix"),
    [
        (
            userns_policy.STEP_UNSHARE,
            errno.ENOSPC,
            {"user.max_user_namespaces": "0"},
            "user.max_user_namespaces is 0",
            "sysctl -w user.max_user_namespaces=15000",
        ),
        (userns_policy.STEP_UNSHARE, errno.ENOSPC, {"user.max_user_namespaces": "5"}, "=5 is reached", "lsns -t user"),
        (
            userns_policy.STEP_UNSHARE,
            errno.EPERM,
            {"kernel.unprivileged_userns_clone": "0"},
            "Debian's kernel.unprivileged_userns_clone is 0",
            "sysctl -w kernel.unprivileged_userns_clone=1",
        ),
        (
            userns_policy.STEP_CAPABILITIES,
            errno.EPERM,
            {"kernel.apparmor_restrict_unprivileged_userns": "1"},
            "apparmor_restrict_unprivileged_userns is 1",
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ),
        (
            userns_policy.STEP_MAP,
            errno.EPERM,
            {"kernel.apparmor_restrict_unprivileged_userns": "1"},
            "AppArmor",
            "apparmor_restrict_unprivileged_userns=0",
        ),
        (userns_policy.STEP_UNSHARE, errno.EPERM, {}, "seccomp filter or a security module", "vagrant"),
        (userns_policy.STEP_MAP, errno.EPERM, {}, "may map only its own uid", "0 UID 1"),
        (userns_policy.STEP_UNSHARE, errno.EINVAL, {}, "CONFIG_USER_NS", "newer kernel"),
    ],
)
def test_diagnose_names_the_cause_and_the_fix(
    step: str, code: int, policy: dict[str, str | None], cause: str, fix: str
) -> None:
    blocker = userns_policy.diagnose(step, code, {**NONE_SET, **policy})
    assert blocker.step == step
    assert blocker.error.startswith(errno.errorcode[code])
    assert cause in blocker.cause
    assert fix in blocker.fix
    assert step in blocker.explain()


def test_apparmor_blocker_offers_a_per_binary_profile() -> None:
    blocker = userns_policy.diagnose(
        userns_policy.STEP_CAPABILITIES, errno.EPERM, {"kernel.apparmor_restrict_unprivileged_userns": "1"}
    )
    assert blocker.alternative is not None and "userns," in blocker.alternative
    assert "apparmor_parser -r" in blocker.hint()


def test_blocked_is_exit_3_and_rootless_refused_is_77() -> None:
    blocker = userns_policy.diagnose(userns_policy.STEP_UNSHARE, errno.ENOSPC, {"user.max_user_namespaces": "0"})
    assert userns_policy.UserNamespaceBlocked(blocker).exit_code == ExitCode.MISSING_FEATURE
    refused = rootless.needs_root_instead("uts", "isodemo uts --json", blocker)
    assert refused.exit_code == ExitCode.NEEDS_ROOT
    assert refused.hint is not None and refused.hint.startswith("run: sudo isodemo uts --json")


def test_blocked_at_diagnoses_with_this_hosts_sysctls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one diagnose-then-raise: the errno from the failed step, the policy as this process reads it."""
    monkeypatch.setattr(
        "isodemo.host.userns_policy", lambda: {**NONE_SET, "kernel.apparmor_restrict_unprivileged_userns": "1"}
    )
    refused = userns_policy.blocked_at(userns_policy.STEP_CAPABILITIES, errno.EPERM)
    assert isinstance(refused, userns_policy.UserNamespaceBlocked)
    assert refused.blocker.step == userns_policy.STEP_CAPABILITIES and "AppArmor" in refused.blocker.cause
    assert refused.exit_code == ExitCode.MISSING_FEATURE


def test_identity_under_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    me = rootless.unprivileged_identity({"SUDO_UID": "1000", "SUDO_GID": "1000"})
    assert (me.uid, me.gid) == (1000, 1000) and "SUDO_UID" in me.why
    nobody = rootless.unprivileged_identity({})
    assert nobody.name == "nobody" and nobody.uid != 0
    assert rootless.unprivileged_identity({"SUDO_UID": "0", "SUDO_GID": "0"}).uid != 0  # sudo from root


def test_parse_timens_offsets() -> None:
    text = "monotonic      86400         0\nboottime     604800 500000000\n"
    assert timens.parse_offsets(text) == {"monotonic": 86400.0, "boottime": 604800.5}


@pytest.mark.parametrize("bad", ["-1", "1.5", "12XB", str(values.CLOCK_OFFSET_MAX + 1)])
def test_clock_offset_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        values.clock_offset(bad)
