"""Who the calling process is and what it may do: its credentials and capabilities, how it sees file
owners, and "may I?" questions (open, kill, sethostname) answered with "ok" or the errno name.

Like every module of `isodemo.inside`: plain module-level functions that a demo runs inside the Isolated
child with `box.call(fn, ...)`, or calls directly for the host's view. They import only `isodemo.kernel`
and `isodemo.errors`, and return plain data. The user demo runs them on both sides of a user namespace.
"""

from __future__ import annotations

import errno
import os
import pwd
from typing import Any

from isodemo.kernel import capabilities, namespaces, userns
from isodemo.kernel import process as kprocess


def credentials() -> dict[str, Any]:
    """`id` and `grep CapEff /proc/self/status`: who this process is, and its effective capabilities."""
    mask = capabilities.effective()
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "capeff": f"{mask:016x}",
        "capabilities": capabilities.decode(mask),
        "uid_map": userns.read_map("self", "uid_map"),
    }


def errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, str(error.errno))


def try_sethostname_unchanged() -> str:
    """sethostname() to the name it already has: asks "may I?" without changing anything. "ok" or the errno."""
    try:
        kprocess.sethostname(kprocess.gethostname())
    except OSError as error:
        return errno_name(error)
    return "ok"


def own_uts_namespace_hostname(name: str) -> str:
    """unshare(CLONE_NEWUTS), then sethostname(name): the new UTS namespace belongs to our user namespace."""
    namespaces.unshare(namespaces.CLONE_NEWUTS)
    kprocess.sethostname(name)
    return kprocess.gethostname()


def file_owner(path: str) -> dict[str, Any]:
    """`ls -ln PATH` and `ls -l PATH`: the owner's uid as this process's user namespace shows it, and its name."""
    uid = os.stat(path).st_uid
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return {"uid": uid, "name": name}


def try_open(path: str) -> str:
    """open(PATH, O_RDONLY): "ok" or the errno name (a directory is opened too: that is `ls`'s first step)."""
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as error:
        return errno_name(error)
    return "ok"


def try_signal(pid: int) -> str:
    """kill(PID, 0): the permission check of kill(2) without sending anything. "ok" or the errno name."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        return errno_name(error)
    return "ok"


def create_file(path: str) -> int:
    """Create an empty file (O_EXCL); returns its owner uid as this side sees it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return os.stat(path).st_uid
