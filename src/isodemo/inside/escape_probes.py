"""What runs in a container's child after its root is in place and before its command starts: a grandchild
locks itself down exactly as the container's command will be (inside/security.py lock_down with the
container's own Security fields: seccomp filter, bounding set, capabilities, no_new_privs) and then makes the
attempts a shell cannot report precisely: mount(2) and keyctl(2) with their errno, and the chroot escape.

The container's PID 1 is untouched by it: the grandchild is pid 2 of the container, and is gone before the
container's command starts.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any

from isodemo.inside import chroot_escape as chroot
from isodemo.inside.security import Security, lock_down
from isodemo.kernel import capabilities, mount, seccomp

KEYCTL_GET_KEYRING_ID = 0  # <linux/keyctl.h>
KEY_SPEC_SESSION_KEYRING = -3


def locked_down(security: dict[str, Any], uid: int, gid: int, jail: str, target: str) -> dict[str, Any]:
    """Probe, in the container's child: the attempts in a locked-down grandchild (see the module)."""
    return chroot.in_child(_attempts, security, uid, gid, jail, target)


def _attempts(security: dict[str, Any], uid: int, gid: int, jail: str, target: str) -> dict[str, Any]:
    os.makedirs(jail, exist_ok=True)  # as root, before the lock-down
    lock_down(Security(**security), uid, gid)
    return {
        "cap_eff": f"{capabilities.capget()[0]:016x}",
        "mount_errno": mount_errno(jail),
        "keyctl_errno": keyctl_errno(),
        "chroot": chroot.escape_walk(jail, target),
    }


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
