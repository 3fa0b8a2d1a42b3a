"""Rootless mode: who plays the unprivileged user, and whether this machine lets that user have a user namespace.

Why a machine refuses one is `userns_policy`; this module asks the kernel for real (`check`), with the same
Isolated child the demos use, and turns a refusal into "run it with sudo" (`needs_root_instead`).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from isodemo.errors import NeedsRoot
from isodemo.i18n import N_, _
from isodemo.isolated import Isolated
from isodemo.userns_policy import Blocker, UserNamespaceBlocked


@dataclass(frozen=True)
class Identity:
    """The unprivileged user isodemo acts as: the caller, or (under sudo) the user who ran sudo, or nobody."""

    uid: int
    gid: int
    name: str
    why: str  # how it was chosen, said to the learner: an N_() message, shown with _()

    @property
    def drop_from_root(self) -> bool:
        return os.geteuid() == 0 and self.uid != 0


def unprivileged_identity(environ: dict[str, str] | None = None) -> Identity:
    environ = dict(os.environ) if environ is None else environ
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() != 0:
        return Identity(uid, gid, _user_name(uid), N_("you"))
    sudo_uid, sudo_gid = environ.get("SUDO_UID", ""), environ.get("SUDO_GID", "")
    if sudo_uid.isdigit() and sudo_gid.isdigit() and int(sudo_uid) != 0:
        return Identity(int(sudo_uid), int(sudo_gid), _user_name(int(sudo_uid)), N_("SUDO_UID, the user who ran sudo"))
    try:
        nobody = pwd.getpwnam("nobody")
        return Identity(nobody.pw_uid, nobody.pw_gid, "nobody", N_("nobody: root, and no SUDO_UID to go back to"))
    except KeyError:
        return Identity(65534, 65534, "nobody", N_("65534: root, no SUDO_UID, and no user named nobody"))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def needs_root_instead(demo: str, command: str, blocker: Blocker) -> NeedsRoot:
    """Rootless mode is impossible here: exit 77 with the sudo line, the reason, and the rootless fix."""
    return NeedsRoot(
        _(
            "isodemo {demo} without root runs inside a user namespace, and this machine refuses one: {reason}",
            demo=demo,
            reason=blocker.explain(),
        ),
        _("run: sudo {command}; or, {hint}", command=command, hint=blocker.hint()),
    )


def check(identity: Identity | None = None) -> Blocker | None:
    """Try it for real: a user namespace as `identity`, mapped, and a UTS namespace made with its
    capabilities. None when that works, else the blocker. Costs two forks (a few milliseconds)."""
    me = identity or unprivileged_identity()
    try:
        with Isolated(["user", "uts"], as_user=(me.uid, me.gid) if me.drop_from_root else None):
            pass
    except UserNamespaceBlocked as refused:
        return refused.blocker
    return None
