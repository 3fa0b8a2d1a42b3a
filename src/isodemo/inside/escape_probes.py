"""What runs in a container's child after its root is in place and before its command starts: grandchildren
make the attempts a shell cannot report precisely (mount(2) and keyctl(2) with their errno, and the chroot
escape), locked down with the container's own Security fields, one defence at a time where the errno would
otherwise not say which defence refused:

    capabilities only    the bounding set, the user, capset (inside/security.py drop_capabilities), no
                         filter: mount(2) fails or not by the capability check alone
    the whole lock-down  in lock_down's order: the seccomp filter first (mount(2) again: the filter alone,
                         every capability still held), then the capabilities, then no_new_privs; then
                         keyctl(2) and the chroot walk, exactly as the container's command will be

A default container keeps no CAP_SYS_ADMIN and has no no_new_privs: a process in that state cannot load a
seccomp filter (seccomp(2) needs one of the two), which is why the filter comes first, as runc loads it, and
why "capabilities only" is a grandchild of its own.

The container's PID 1 is untouched: the grandchildren are pids of the container's own and are gone before its
command starts.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any

from isodemo.inside import chroot_escape as chroot
from isodemo.inside.forked import in_child
from isodemo.inside.security import drop_capabilities, load_seccomp, set_no_new_privs
from isodemo.kernel import capabilities, mount, seccomp

KEYCTL_GET_KEYRING_ID = 0  # <linux/keyctl.h>
KEY_SPEC_SESSION_KEYRING = -3


def locked_down(security: dict[str, Any], uid: int, gid: int, jail: str, target: str) -> dict[str, Any]:
    """Probe, in the container's child: the attempts in two grandchildren (see the module). Keys:
    mount_errno_capabilities, mount_errno_filter (None when there is no filter), mount_errno, keyctl_errno,
    cap_eff, chroot; "error" when a grandchild failed."""
    os.makedirs(jail, exist_ok=True)  # as root, before any lock-down
    alone = in_child(_capabilities_only, security, uid, gid, jail)
    if "error" in alone:
        alone["error"] = f"capabilities only: {alone['error']}"
    return {**in_child(_locked_down, security, uid, gid, jail, target), **alone}


def _kept(security: dict[str, Any]) -> tuple[str, ...]:
    return tuple(capabilities.normalize(each) for each in security["capabilities"])


def _capabilities_only(security: dict[str, Any], uid: int, gid: int, jail: str) -> dict[str, Any]:
    drop_capabilities(_kept(security), uid, gid)
    return {"mount_errno_capabilities": mount_errno(jail)}


def _locked_down(security: dict[str, Any], uid: int, gid: int, jail: str, target: str) -> dict[str, Any]:
    """lock_down's steps one at a time (inside/security.py), with mount(2) tried after the filter alone."""
    kept = _kept(security)
    found: dict[str, Any] = {"mount_errno_filter": None}
    if security["seccomp"]:
        load_seccomp(kept)
        found["mount_errno_filter"] = mount_errno(jail)  # every capability still held: the filter alone
    drop_capabilities(kept, uid, gid)
    if security["no_new_privs"]:
        set_no_new_privs()
    found["cap_eff"] = f"{capabilities.capget()[0]:016x}"
    found["mount_errno"] = mount_errno(jail)
    found["keyctl_errno"] = keyctl_errno()
    found["chroot"] = chroot.escape_walk(jail, target)
    return found


def mount_errno(target: str) -> str | None:
    """mount("none", target, "tmpfs", 0, NULL): None when it worked (then it is unmounted again)."""
    try:
        mount.mount("none", target, "tmpfs")
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error.errno))
    mount.umount2(target, mount.MNT_DETACH)
    return None


def keyctl_errno() -> str | None:
    """keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0): the kernel keyring, not namespaced. None
    when it answered."""
    number = seccomp.resolve("keyctl")
    if number is None:
        return "ENOSYS"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_long(KEYCTL_GET_KEYRING_ID),
        ctypes.c_long(KEY_SPEC_SESSION_KEYRING),
        ctypes.c_long(0),
    )
    if result == -1:
        code = ctypes.get_errno()
        return errno.errorcode.get(code, str(code))
    return None
