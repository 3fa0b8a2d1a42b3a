"""Why a machine refuses unprivileged user namespaces: an errno and three sysctls name the policy and its fix.

Rootless podman, and isodemo without sudo, first create a user namespace in which they are uid 0 with a
full set of capabilities; those capabilities are good for every namespace that user namespace owns, so
the pid, uts, ipc and mnt namespaces follow without root. Three switches can forbid the first step, and
each fails at a different place:

- `user.max_user_namespaces=0` (any kernel, per user namespace): unshare(CLONE_NEWUSER) fails with ENOSPC.
- `kernel.unprivileged_userns_clone=0` (Debian's and older Ubuntu kernels): unshare fails with EPERM.
- `kernel.apparmor_restrict_unprivileged_userns=1` (Ubuntu 23.10+): unshare succeeds, but AppArmor moves
  the process to its `unprivileged_userns` profile, which denies every capability: the namespace has
  capabilities on paper (CapEff) and none in fact, so the next unshare, or a uid_map written by the
  process itself (`unshare -Ur`), fails with EPERM.

A leaf: it imports nothing of isodemo's but errors and host, so the Isolated helper (which meets these
failures), the demos and `rootless.check()` (which provokes them on purpose) can all use it.
"""

from __future__ import annotations

import errno
import os
import sys

from isodemo import host as hostinfo
from isodemo.errors import MissingFeature
from isodemo.i18n import N_, _

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Final

RELAXED_MAX_USER_NAMESPACES = 15000

# The steps of creating a usable user namespace, in order; a Blocker names the one that failed.
STEP_UNSHARE = "unshare(CLONE_NEWUSER)"
STEP_MAP = N_("write /proc/PID/uid_map")
STEP_CAPABILITIES = N_("use a capability inside the new user namespace")


class Blocker:
    """Why an unprivileged user namespace cannot be used here: the step, its error, the cause, the fixes.

    A plain class, not a dataclass: the Isolated helper imports this module, and so does `isodemo run`."""

    __slots__ = ("alternative", "cause", "error", "fix", "step")

    def __init__(self, step: str, error: str, cause: str, fix: str, alternative: str | None = None) -> None:
        self.step: Final = step
        self.error: Final = error  # "EPERM (Operation not permitted)"
        self.cause: Final = cause
        self.fix: Final = fix
        self.alternative: Final = alternative

    def _fields(self) -> tuple[str, str, str, str, str | None]:
        return (self.step, self.error, self.cause, self.fix, self.alternative)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Blocker) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "Blocker(step={!r}, error={!r}, cause={!r}, fix={!r}, alternative={!r})".format(*self._fields())

    def explain(self) -> str:
        return _("{step} failed with {error}: {cause}", step=_(self.step), error=self.error, cause=self.cause)

    def hint(self) -> str:
        if self.alternative:
            return _(
                "to allow it (a teaching VM, not a shared machine): {fix}; or: {alternative}",
                fix=self.fix,
                alternative=self.alternative,
            )
        return _("to allow it (a teaching VM, not a shared machine): {fix}", fix=self.fix)


def errno_text(code: int) -> str:
    return f"{errno.errorcode.get(code, str(code))} ({os.strerror(code)})"


def apparmor_profile(executable: str | None = None) -> str:
    """The per-binary alternative to switching the AppArmor restriction off for everyone."""
    binary = os.path.realpath(executable or sys.executable)
    lines = [
        "abi <abi/4.0>,",
        "include <tunables/global>",
        f"profile isodemo {binary} flags=(unconfined) {{",
        "  userns,",
        "}",
    ]
    profile = "".join(line + "\\n" for line in lines)  # printf turns each \n into a newline
    command = (
        f"printf '{profile}' | sudo tee /etc/apparmor.d/isodemo && sudo apparmor_parser -r /etc/apparmor.d/isodemo"
    )
    return _(
        "allow user namespaces to one binary with an AppArmor profile: {command} "
        "(isodemo is a Python program: this allows them to every script this interpreter runs)",
        command=command,
    )


def apparmor_restricts(sysctls: dict[str, str | None]) -> bool:
    """Ubuntu 23.10+'s policy: unprivileged user namespaces get no capabilities without an AppArmor profile."""
    return sysctls.get("kernel.apparmor_restrict_unprivileged_userns") == "1"


def diagnose(step: str, code: int, sysctls: dict[str, str | None]) -> Blocker:
    """Name the policy behind a failed step, from the errno and the sysctls as this process reads them."""
    apparmor = apparmor_restricts(sysctls)
    debian = sysctls.get("kernel.unprivileged_userns_clone") == "0"
    limit = sysctls.get("user.max_user_namespaces")
    error = errno_text(code)
    if step == STEP_UNSHARE and code in (errno.ENOSPC, errno.EUSERS):
        if limit == "0":
            return Blocker(
                step,
                error,
                _("user.max_user_namespaces is 0 here: nobody may create a user namespace"),
                f"sudo sysctl -w user.max_user_namespaces={RELAXED_MAX_USER_NAMESPACES}",
            )
        return Blocker(
            step,
            error,
            _("the limit user.max_user_namespaces={limit} is reached (or the nesting limit of 32 levels)", limit=limit),
            _("end the processes holding user namespaces (`lsns -t user`), or raise user.max_user_namespaces"),
        )
    if step == STEP_UNSHARE and code == errno.EINVAL:
        return Blocker(
            step, error, _("this kernel was built without user namespaces (CONFIG_USER_NS)"), _("a newer kernel")
        )
    if step == STEP_UNSHARE and code == errno.EPERM and debian:
        return Blocker(
            step,
            error,
            _("Debian's kernel.unprivileged_userns_clone is 0: only root may create user namespaces"),
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        )
    if step == STEP_MAP and code == errno.EPERM and not apparmor:
        return Blocker(
            step,
            error,
            _(
                "without CAP_SETUID in the parent user namespace, a process may map only its own uid, as one line "
                "(and a gid_map only after `deny` in setgroups): man 7 user_namespaces"
            ),
            _("map only your own ids: `0 UID 1`"),
        )
    if apparmor:
        return Blocker(
            step,
            error,
            _(
                "Ubuntu's kernel.apparmor_restrict_unprivileged_userns is 1: AppArmor gives the new user namespace "
                "no capabilities unless the program has a profile that allows `userns`"
            ),
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
            apparmor_profile(),
        )
    return Blocker(
        step,
        error,
        _(
            "no user-namespace sysctl forbids it, so a seccomp filter or a security module does "
            "(inside a Docker container, its default seccomp profile refuses unshare)"
        ),
        _("run isodemo in the VM this project provides (vagrant/)"),
    )


class UserNamespaceBlocked(MissingFeature):
    """This machine refuses unprivileged user namespaces; the blocker says where and why."""

    def __init__(self, blocker: Blocker) -> None:
        super().__init__(
            _("an unprivileged user namespace is refused: {reason}", reason=blocker.explain()), blocker.hint()
        )
        self.blocker = blocker


def blocked_at(step: str, code: int) -> UserNamespaceBlocked:
    """The error to raise when `step` failed with errno `code`: diagnosed from this host's sysctls, as the
    failing process reads them (user.max_user_namespaces is per user namespace)."""
    return UserNamespaceBlocked(diagnose(step, code, hostinfo.userns_policy()))
