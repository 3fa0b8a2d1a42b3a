"""The store's small pieces: where it is, names as file names, what tells a file changed, the lock.

Plain functions over os: this module is on `isodemo run`'s start-up path.
"""

from __future__ import annotations

import os

SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def default_root() -> str:
    """$ISODEMO_STORE, else /var/lib/isodemo for root, else $XDG_DATA_HOME/isodemo (~/.local/share/isodemo)."""
    if os.environ.get("ISODEMO_STORE"):
        return os.environ["ISODEMO_STORE"]
    if os.geteuid() == 0:
        return "/var/lib/isodemo"
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "isodemo")


def make_root(root: str) -> None:
    """Make the store's root directory if it is missing: 0711 for root (a --userns container's root, a host uid
    of its own, must pass through it to its container's directory), 0700 for a user. Whatever the umask."""
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(root), exist_ok=True)
        try:
            os.mkdir(root, 0o700)
        except FileExistsError:
            return
    if os.geteuid() == 0:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.chmod(fd, 0o711)
        finally:
            os.close(fd)


def escape(name: str) -> str:
    """A name as one file name: every byte but [A-Za-z0-9._-] (and a leading dot) as %XX."""
    out = []
    for index, char in enumerate(name):
        if char in SAFE and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


class Lock:
    """flock(2) on <root>/lock: one process at a time changes the store."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> Lock:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the last descriptor releases the lock
        self.fd = -1


def stat_key(info: os.stat_result) -> list[int]:
    """What tells a file changed: device, inode, size, mtime (a package upgrade replaces the inode)."""
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns]


def mounted_among(paths: list[str]) -> list[str]:
    """Those of `paths` that a mount of this mount namespace names in its options (an overlay's lowerdir=)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as file:
            text = file.read()
    except OSError:
        return []
    return [path for path in paths if path in text]
