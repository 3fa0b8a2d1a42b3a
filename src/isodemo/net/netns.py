"""A network namespace with a name, as `ip netns add` makes one: a bind mount of /proc/PID/ns/net on
/run/netns/NAME, so `ip netns list`, `ip netns exec NAME ...` and `nsenter --net=/run/netns/NAME` find it.

The namespace itself belongs to an Isolated child; the bind mount keeps it alive even without a process,
which is why it must always be removed (and why `isodemo cleanup` looks for leftovers in /run/netns).
Unlike iproute2, isodemo does not turn /run/netns itself into a shared mount point: it leaves the host's
mount table exactly as it found it.
"""

from __future__ import annotations

import contextlib
import os
from types import TracebackType

from isodemo.kernel import mount

NETNS_DIR = "/run/netns"


class NamedNetns:
    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self.path = os.path.join(NETNS_DIR, name)
        self._made_dir = False

    def __enter__(self) -> NamedNetns:
        if not os.path.isdir(NETNS_DIR):
            os.makedirs(NETNS_DIR, mode=0o755)
            self._made_dir = True
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.close(fd)
        try:
            mount.bind(f"/proc/{self.pid}/ns/net", self.path)
        except OSError:
            os.unlink(self.path)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        remove(self.path)
        if self._made_dir:
            with contextlib.suppress(OSError):
                os.rmdir(NETNS_DIR)


def remove(path: str) -> None:
    """`ip netns delete`: detach the bind mount, remove the file; the namespace goes with its last user."""
    with contextlib.suppress(OSError):
        mount.umount2(path, mount.MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
