"""The "host's disk" of the privileged attempt: an ext4 filesystem in a small file of isodemo's, attached to
a loop device (kernel/loop.py). No real disk of the machine is ever opened.

mkfs.ext4 formats the file (e2fsprogs); afterwards debugfs reads a file out of it without mounting it on the
host, so the host's mount table is never touched: `debugfs -R "ls -p /"` lists the root directory in its
parseable form (/inode/mode/uid/gid/name/size/), and `debugfs -R "cat /NAME"` prints the file. Both run with
LC_ALL=C; whether the file is there is read from the listing, never from a (translatable) message.
"""

from __future__ import annotations

import os
import subprocess

from isodemo.errors import IsodemoError
from isodemo.host import find_tool
from isodemo.i18n import _

SIZE = 4 << 20  # small: ext4 needs little, and the file is sparse


def make_image(path: str) -> list[str]:
    """A sparse file of SIZE bytes with an ext4 filesystem on it; the shell commands that do the same."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.ftruncate(fd, SIZE)
    finally:
        os.close(fd)
    _run([find_tool("mkfs.ext4"), "-q", "-F", path])
    return [f"truncate -s {SIZE >> 20}M {path}", f"mkfs.ext4 -q -F {path}"]


def root_names(listing: str) -> set[str]:
    """The names in `debugfs -R "ls -p /"` output: /inode/mode/uid/gid/name/size/ per entry."""
    names = set()
    for line in listing.splitlines():
        fields = line.split("/")
        if len(fields) >= 7 and line.startswith("/"):
            names.add("/".join(fields[5:-2]))  # a name has no "/"; the join only keeps the parse exact
    return names


def read_file(image: str, name: str) -> str | None:
    """The text of /NAME in the filesystem of `image`, read with debugfs; None when it is not there."""
    debugfs = find_tool("debugfs")
    if name not in root_names(_run([debugfs, "-R", "ls -p /", image]).stdout):
        return None
    return _run([debugfs, "-R", f"cat /{name}", image]).stdout


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run an e2fsprogs tool (found by host.find_tool, as the preflight found it: PATH, then the sbin dirs) in
    the C locale; a failure is reported as the tool's own: its command, exit status and message."""
    env = {**os.environ, "LC_ALL": "C"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30, env=env)
    if result.returncode != 0:
        raise IsodemoError(
            _(
                "{command} failed (exit {rc}): {reason}",
                command=" ".join(command),
                rc=result.returncode,
                reason=result.stderr.strip() or _("no message"),
            )
        )
    return result
