"""`isodemo volume`: what a container's PID 1 is asked from inside, before its execve (Isolated.call): the
volumes as the container sees them. The demo imports this module before it builds the containers, so the
child has it from the fork: after pivot_root, isodemo's own files are out of reach and nothing may be imported."""

from __future__ import annotations

import errno
import os

from isodemo.kernel import mount, procfs

CHUNK = 1 << 20


def write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def listdir(path: str) -> list[str]:
    return sorted(os.listdir(path))


def exists(path: str) -> bool:
    return os.path.lexists(path)


def try_create(path: str) -> str:
    """Create `path`: "" when it worked, else the errno's name (EROFS on a read-only mount)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644)
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error.errno))
    os.close(fd)
    return ""


def fill(path: str, size: int) -> int:
    """Write `size` bytes of zeros to `path` (a tmpfs: the pages are charged to this process's memory cgroup)."""
    block = bytes(CHUNK)
    written = 0
    with open(path, "wb") as f:
        while written < size:
            written += f.write(block[: min(CHUNK, size - written)])
    return written


def mount_tmpfs(path: str) -> str:
    """mkdir and mount a small tmpfs at `path`; returns the call."""
    os.makedirs(path, 0o755, exist_ok=True)
    mount.mount("tmpfs", path, "tmpfs", 0, "size=1m")
    return mount.call_text("tmpfs", path, "tmpfs", 0, "size=1m")


def is_mount(path: str) -> bool:
    return os.path.ismount(path)


def mount_line(path: str) -> tuple[str, tuple[str, ...]] | None:
    """(root, propagation fields) of the mount at `path` in /proc/self/mountinfo: the root is the directory of
    its filesystem that is mounted there (a subPath shows as its subdirectory)."""
    found = [entry for entry in procfs.mountinfo("self") if entry.mount_point == path]
    return (found[-1].root, found[-1].optional) if found else None
