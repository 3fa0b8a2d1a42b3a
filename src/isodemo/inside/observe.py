"""Probes of `isodemo container`: run in the container's PID 1 before its execve (runc's "created" state), through
the Isolated channel. They are in the child from the fork (it is a fork of the demo's process), after
pivot_root too: nothing here imports anything then."""

from __future__ import annotations

import errno
import os

from isodemo.kernel import fdpass, procfs

STATUS_FIELDS = ("CapBnd", "CapEff", "NoNewPrivs", "Seccomp")


def status_fields() -> dict[str, str]:
    """/proc/self/status of the caller: its capability sets, NoNewPrivs, Seccomp."""
    found = procfs.status("self")
    return {key: found.get(key, "") for key in STATUS_FIELDS}


def root_listing() -> list[str]:
    """`ls /` as the caller sees it."""
    return sorted(name for name in os.listdir("/") if not name.startswith("."))


def hostname() -> str:
    return os.uname().nodename


def mount_table() -> list[tuple[str, str, str, str]]:
    """(mount point, filesystem type, MAJ:MIN of its device, the root of that filesystem it shows) for each
    mount of the caller's mount namespace, in mountinfo's order."""
    return [(e.mount_point, e.fstype, e.major_minor, e.root) for e in procfs.mountinfo("self")]


def mount_states(paths: tuple[str, ...]) -> dict[str, str]:
    """For each path: 'mount' (something is mounted on it), 'absent' (nothing to mask: runc skips it too) or
    'not a mount'."""
    points = {entry.mount_point for entry in procfs.mountinfo("self")}
    return {
        path: "mount" if path in points else "absent" if not os.path.lexists(path) else "not a mount" for path in paths
    }


def try_write(path: str) -> str:
    """Open `path` for writing, write nothing: 'ok' or the errno's name."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error.errno))
    os.close(fd)
    return "ok"


def output_to(descriptor: fdpass.Descriptor) -> None:
    """The command's stdout and stderr: the pipe whose read end the demo keeps."""
    os.dup2(descriptor.fd, 1)
    os.dup2(descriptor.fd, 2)
    os.close(descriptor.fd)
