"""Whether this host lets a process without CAP_SYS_ADMIN create a user namespace, from the sysctls
(userns_policy.py describes them): the control of the seccomp attempt (`unshare -U true` with
--security-opt seccomp=unconfined) depends on it, and is expected to fail where the policy forbids it.

Root of a default container is host uid 0 without CAP_SYS_ADMIN: Debian's kernel.unprivileged_userns_clone=0
refuses it (EPERM), user.max_user_namespaces=0 refuses everyone (ENOSPC). Ubuntu's
kernel.apparmor_restrict_unprivileged_userns=1 lets the namespace be made (its capabilities are what it
denies), so `unshare -U true` still works there.
"""

from __future__ import annotations

import errno


def refusal(sysctls: dict[str, str | None]) -> tuple[str, str, str] | None:
    """(sysctl, its value, the errno unshare(CLONE_NEWUSER) then fails with) when the policy refuses a new
    user namespace to a process without CAP_SYS_ADMIN; None when it allows it."""
    if sysctls.get("user.max_user_namespaces") == "0":
        return ("user.max_user_namespaces", "0", errno.errorcode[errno.ENOSPC])
    if sysctls.get("kernel.unprivileged_userns_clone") == "0":
        return ("kernel.unprivileged_userns_clone", "0", errno.errorcode[errno.EPERM])
    return None
