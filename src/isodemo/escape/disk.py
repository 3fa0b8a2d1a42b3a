"""The "host's disk" of the privileged attempt: an ext4 filesystem in a small file of isodemo's, attached to
a loop device (kernel/loop.py). No real disk of the machine is ever opened.

mkfs.ext4 formats the file (e2fsprogs); afterwards debugfs reads a file out of it without mounting it on the
host (`debugfs -R "cat /NAME" FILE`), so the host's mount table is never touched.
"""

from __future__ import annotations

import os
import subprocess

from isodemo.errors import MissingFeature
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


def read_file(image: str, name: str) -> str | None:
    """The text of /NAME in the filesystem of `image`, read with debugfs; None when it is not there."""
    result = _run([find_tool("debugfs"), "-R", f"cat /{name}", image])
    if "not found" in result.stderr or "File not found" in result.stderr:
        return None
    return result.stdout


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run an e2fsprogs tool (found by host.find_tool, as the preflight found it: PATH, then the sbin dirs)."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise MissingFeature(
            _("{command} failed: {reason}", command=" ".join(command), reason=result.stderr.strip()),
            _("install it: sudo apt-get install e2fsprogs"),
        )
    return result
