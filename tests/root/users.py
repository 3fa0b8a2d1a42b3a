"""An unprivileged test user, and ways to run isodemo as that user, including where user namespaces are
forbidden. Root only: the fixture in conftest.py creates the user with useradd and removes it."""

from __future__ import annotations

import functools
import os
import pwd
import secrets
import subprocess
import sys
from dataclasses import dataclass

from tests.conftest import Result

RESTRICTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "restricted_userns.py")


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a test class, whatever its name

    name: str
    uid: int
    gid: int

    created: bool = True  # False: an unused uid with no passwd entry (where useradd cannot write /etc)


def create_user() -> TestUser:
    """useradd a system user; where /etc cannot take it (the VM stage's /etc is an overlay on a read-only 9p
    root, and useradd fails to replace /etc/shadow there) an unused uid plays the user: the kernel needs
    no passwd entry to run a process as a uid."""
    name = f"isodemo-t{secrets.token_hex(3)}"
    made = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode == 0:
        entry = pwd.getpwnam(name)
        return TestUser(name, entry.pw_uid, entry.pw_gid)
    if os.environ.get("ISODEMO_IN_VM") != "1":
        raise RuntimeError(f"useradd failed: {made.stderr.strip()}")
    subprocess.run(["userdel", name], capture_output=True, check=False)  # whatever useradd got done
    uid = next(uid for uid in range(42000, 43000) if not _uid_taken(uid))
    return TestUser(str(uid), uid, uid, created=False)


def _uid_taken(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return any(int(status.split()[1]) == uid for status in _process_uids())
    return True


def _process_uids() -> list[str]:
    lines = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    lines += [line for line in f if line.startswith("Uid:")]
            except OSError:
                continue
    return lines


def remove_user(user: TestUser) -> None:
    if user.created:
        subprocess.run(["userdel", user.name], check=True)


def run_as(user: TestUser, args: list[str], env: dict[str, str], *, restricted: bool = False) -> Result:
    """Run `python -m isodemo ARGS` as the user (its own group, no others), from /, like a login would.

    `restricted`: inside a user namespace whose user.max_user_namespaces is 0, so that creating another
    one fails for real (ENOSPC), without touching the host's own sysctl."""
    argv = [sys.executable, "-m", "isodemo", *args]
    env = {**env, "HOME": "/nonexistent", "USER": user.name, "LOGNAME": user.name}
    env.pop("SUDO_UID", None)
    env.pop("SUDO_GID", None)
    if restricted:
        command = [sys.executable, RESTRICTED, str(user.uid), str(user.gid), *argv]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd="/", timeout=120, check=False)
    else:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
            timeout=120,
            check=False,
            user=user.uid,
            group=user.gid,
            extra_groups=[],
        )
    return Result(proc.returncode, proc.stdout, proc.stderr)


NOBODY = 65534


def run_as_nobody(args: list[str], env: dict[str, str]) -> Result:
    """`python -m isodemo ARGS` as uid/gid 65534, no supplementary groups, from /."""
    proc = subprocess.run(
        [sys.executable, "-m", "isodemo", *args],
        capture_output=True,
        text=True,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        cwd="/",
        timeout=60,
        check=False,
        env=env,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@functools.cache
def userns_blocker() -> str | None:
    """Why this machine refuses unprivileged user namespaces (tried for real, as nobody), or None."""
    from isodemo import rootless

    blocker = rootless.check(rootless.Identity(NOBODY, NOBODY, "nobody", "the tests"))
    return blocker.explain() if blocker else None
