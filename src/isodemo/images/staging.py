"""Where the store makes things before they exist: `<root>/tmp/<pid>-<start time>-<token>`.

Everything the store writes (an unpacked layer, a record) is made in a temporary directory or file of its own,
then renamed into place with one rename(2): a reader sees all of it or nothing, and an import that fails or is
interrupted leaves nothing in the store (its temporary directory is removed as the exception passes). What a
SIGKILL leaves behind carries the pid and start time of the process that made it, so `isodemo cleanup` can tell
a dead import's leftovers (`stale_temp`) from a running one's.
"""

from __future__ import annotations

import errno
import os
from types import TracebackType

from isodemo.contexts import suppress

TMP = "tmp"


def own_tag() -> str:
    """<pid>-<start time in clock ticks>: names this process for as long as it lives (a pid alone is reused)."""
    from isodemo.kernel import procfs

    return f"{os.getpid()}-{procfs.start_time('self') or 0}"


def new_temp_path(root: str) -> str:
    """A fresh name in <root>/tmp (made if missing, as <root>) for this process to create a file or directory at."""
    from isodemo.images.records import make_root

    make_root(root)
    tmp = os.path.join(root, TMP)
    os.makedirs(tmp, 0o700, exist_ok=True)
    return os.path.join(tmp, f"{own_tag()}-{os.urandom(4).hex()}")


class Staging:
    """A temporary directory for one import, removed when the block ends, however it ends."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.path = ""

    def __enter__(self) -> Staging:
        path = new_temp_path(self.root)
        os.mkdir(path, 0o700)
        self.path = path
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.path:
            remove_tree(self.path)


def install(source: str, target: str) -> bool:
    """Rename `source` to `target` in one step; False when `target` already exists (a concurrent import of
    the same content got there first: it is the same content, keep theirs and leave ours to be removed)."""
    try:
        os.rename(source, target)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    return True


def write_file(root: str, target: str, data: bytes) -> None:
    """Write `target` whole or not at all: a temporary file in <root>/tmp, then rename(2) over the target."""
    temp = new_temp_path(root)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        _remove_quietly(temp)
        raise


def discard(root: str, path: str) -> None:
    """Remove a directory of the store: first renamed into <root>/tmp (gone from the store in one step), then
    deleted. Killed halfway, what is left is a stale temporary directory, not a half-empty layer."""
    temp = new_temp_path(root)
    try:
        os.rename(path, temp)
    except FileNotFoundError:
        return
    remove_tree(temp)


def remove_tree(path: str) -> None:
    """Remove a file or a directory tree made by the store. Without root, a read-only directory of a layer
    (mode 0555, as images have) cannot lose its entries: make each one writable first."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if (mode & 0o170000) != 0o040000:  # not a directory (a file, a symlink)
        _remove_quietly(path)
        return
    import shutil

    if os.geteuid() != 0:
        _make_writable(path)
    shutil.rmtree(path, ignore_errors=False)


def _make_writable(top: str) -> None:
    _open_up(top)
    for parent, dirnames, _files in os.walk(top):
        for name in dirnames:  # os.walk lists a directory after this loop has made it readable
            _open_up(os.path.join(parent, name))


def _open_up(path: str) -> None:
    """Mode 0700 on the real directory `path`, through a descriptor of it; a symbolic link to a directory (os.walk
    lists those among the directories) is left alone: nothing is changed through a link."""
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            return
        raise
    try:
        os.chmod(f"/proc/self/fd/{fd}", 0o700)  # an O_PATH descriptor takes no fchmod: its inode, by /proc
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def stale_temp(root: str) -> list[str]:
    """The temporary files and directories in <root>/tmp whose process is gone (killed mid-import)."""
    from isodemo.kernel import procfs

    tmp = os.path.join(root, TMP)
    try:
        names = sorted(os.listdir(tmp))
    except FileNotFoundError:
        return []
    stale = []
    for name in names:
        parts = name.split("-")
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            continue  # not a name the store makes: not ours to judge
        if procfs.start_time(parts[0]) != parts[1]:
            stale.append(os.path.join(tmp, name))
    return stale


def remove_temp(path: str) -> None:
    """Remove one of stale_temp's paths."""
    remove_tree(path)
