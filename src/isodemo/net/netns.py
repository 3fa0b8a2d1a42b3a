"""A network namespace with a name, as `ip netns add` makes one: a bind mount of /proc/PID/ns/net on
/run/netns/NAME, so `ip netns list`, `ip netns exec NAME ...` and `nsenter --net=/run/netns/NAME` find it.

The namespace itself belongs to an Isolated child; the bind mount keeps it alive even without a process,
which is why it must always be removed (and why `isodemo cleanup` looks for leftovers in /run/netns).
Unlike iproute2, isodemo does not turn /run/netns itself into a shared mount point: it leaves the host's
mount table exactly as it found it. When /run/netns did not exist, the run that creates it leaves a mark in
/run/isodemo; whichever isodemo run (or `isodemo cleanup`) finds it empty later removes it, so that two runs
at once, or a SIGKILLed one, do not leave the directory behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from isodemo import runs, testpoints
from isodemo.kernel import mount
from isodemo.net import Resource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

NETNS_DIR = "/run/netns"
MADE_MARK = str(runs.RUN_DIR / "made-run-netns")  # /run/netns was made by isodemo, not by the host


class NamedNetns(Resource):
    """`ip netns add NAME` for the namespace of a running process: the name outlives nothing but the run."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self.path = os.path.join(NETNS_DIR, name)

    def create(self) -> None:
        with _run_dir_locked():  # remove_dir_if_ours of another run cannot come between mkdir and the mark
            try:
                os.mkdir(NETNS_DIR, 0o755)
                os.close(os.open(MADE_MARK, os.O_WRONLY | os.O_CREAT, 0o644))
            except FileExistsError:
                pass
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
        mount.bind(f"/proc/{self.pid}/ns/net", self.path)
        testpoints.hit("netns.created")

    def remove(self) -> None:
        remove(self.path)
        remove_dir_if_ours()


@contextlib.contextmanager
def _run_dir_locked() -> Iterator[None]:
    """flock(2) on /run/isodemo itself (a directory: no lock file to leave behind), held while a run makes
    /run/netns with its mark or removes both: without it, a run that removed the empty directory and had not
    yet removed the mark could remove the mark of a run that made the directory again in between, and that
    run would then leave /run/netns behind as not its own."""
    os.makedirs(os.path.dirname(MADE_MARK), mode=0o755, exist_ok=True)
    fd = os.open(os.path.dirname(MADE_MARK), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor of the open file releases the lock


def remove_dir_if_ours() -> bool:
    """rmdir /run/netns when isodemo made it and it is empty (rmdir refuses otherwise); True if removed."""
    if not os.path.exists(MADE_MARK):
        return False
    with _run_dir_locked():
        if not os.path.exists(MADE_MARK):
            return False
        try:
            os.rmdir(NETNS_DIR)
        except FileNotFoundError:
            pass
        except OSError:
            return False  # not empty: another run (or `ip netns add`) uses it now
        with contextlib.suppress(FileNotFoundError):
            os.unlink(MADE_MARK)
        return True


def remove(path: str) -> None:
    """`ip netns delete`: detach the bind mount, remove the file; the namespace goes with its last user."""
    with contextlib.suppress(OSError):
        mount.umount2(path, mount.MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
