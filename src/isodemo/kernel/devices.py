"""Device nodes: mknod(2), and the character and block devices a /dev holds (man 2 mknod, man 4 mem)."""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # mypy treats this name as always true
if TYPE_CHECKING:
    from typing import NamedTuple

    class Device(NamedTuple):
        """One device node: /dev/null is Device("/dev/null", "c", 1, 3, 0o666, 0, 0)."""

        path: str  # where it is, under /dev
        kind: str  # "c" character, "b" block (the type letter of mknod(1))
        major: int
        minor: int
        mode: int  # permission bits only
        uid: int = 0
        gid: int = 0

else:
    # What typing.NamedTuple makes from the class above (collections.namedtuple), written out: collections (and
    # typing, ~1.5 ms) would otherwise be imported by the Isolated helper's preload, on the path of every
    # container start. A tuple: equal, ordered and hashed as one, unpacked as one; its fields by name too.
    class Device(tuple):
        """One device node: /dev/null is Device("/dev/null", "c", 1, 3, 0o666, 0, 0)."""

        __slots__ = ()
        _fields = ("path", "kind", "major", "minor", "mode", "uid", "gid")

        def __new__(cls, path, kind, major, minor, mode, uid=0, gid=0):  # noqa: PLR0917 - the fields, as a tuple's
            return tuple.__new__(cls, (path, kind, major, minor, mode, uid, gid))

        def __repr__(self):
            return (
                "Device(" + ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True)) + ")"
            )

        def __getnewargs__(self):
            return tuple(self)

        def _replace(self, **changes):
            return Device(**{**dict(zip(self._fields, self, strict=True)), **changes})

        path = property(lambda self: self[0])
        kind = property(lambda self: self[1])
        major = property(lambda self: self[2])
        minor = property(lambda self: self[3])
        mode = property(lambda self: self[4])
        uid = property(lambda self: self[5])
        gid = property(lambda self: self[6])


_TYPE_BITS = {"c": stat.S_IFCHR, "b": stat.S_IFBLK}

# What a runtime skips when it copies the host's devices (`--privileged`): filesystems of their own (pts, shm,
# mqueue), links to /proc (fd), and the console, which belongs to the container's terminal.
SKIPPED = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev", "console", "ptmx"})


def mknod(path: str, device: Device) -> str:
    """mknod(2) of `device` at `path` with exactly its mode (the umask would take bits away), then its owner.
    Returns the call as strace prints it."""
    os.mknod(path, device.mode | _TYPE_BITS[device.kind], os.makedev(device.major, device.minor))
    os.chmod(path, device.mode)
    if device.uid or device.gid:
        os.chown(path, device.uid, device.gid)
    kind = "S_IFCHR" if device.kind == "c" else "S_IFBLK"
    return f'mknodat(AT_FDCWD, "{path}", {kind}|{device.mode:04o}, makedev({device.major}, {device.minor}))'


def host_devices(root: str = "/dev") -> list[Device]:
    """Every character and block device under `root`, as `docker run --privileged` copies them."""
    found: list[Device] = []
    for entry in os.scandir(root):
        if entry.name in SKIPPED:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                found.extend(host_devices(entry.path))
                continue
            info = entry.stat(follow_symlinks=False)
        except OSError:  # gone meanwhile (udev), or unreadable
            continue
        kind = "c" if stat.S_ISCHR(info.st_mode) else "b" if stat.S_ISBLK(info.st_mode) else ""
        if kind:
            rdev = info.st_rdev
            found.append(
                Device(
                    entry.path,
                    kind,
                    os.major(rdev),
                    os.minor(rdev),
                    stat.S_IMODE(info.st_mode),
                    info.st_uid,
                    info.st_gid,
                )
            )
    return sorted(found)
