"""`isodemo run`'s calls into the child, with plain data: the root filesystem, the terminal (-t), the process.

The parent (container/runtime.py) sends these functions with dicts of the fields of inside/container.py's
Mounts and Process, so that it never imports inside/container.py itself: with what that brings (the seccomp
filter, the device and capability tables, ctypes structures) it costs ~1.3 ms of the start of a container,
and cost ~10 ms while its classes were dataclasses and NamedTuples (dataclasses, inspect, typing: none of
MODULES may import them, tests/unit/test_launch.py checks). The child imports it instead, before it unshares
(`Isolated(preload=MODULES)`; the helper does, when there is one, and the child has it from the fork), while the
parent goes on with its own part of the start. This module imports nothing at its top: the parent only needs the
functions' names, to send them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Any, NoReturn

# What the child needs before it is asked anything: Isolated(preload=MODULES).
MODULES = ("isodemo.inside.container", "isodemo.inside.console", "isodemo.kernel.netdev")
# With -t only: termios, for the child's TIOCSCTTY (inside/container.py), a C extension whose loading costs
# the child (or its helper) ~0.4 ms on the path of every start.
TTY_MODULES = ("termios",)


def prepare_root(mounts: dict[str, Any]) -> list[str]:
    """inside/container.py's prepare_root(Mounts(**mounts)); `overlay` is a dict of Overlay's fields or None."""
    from isodemo.inside import container

    overlay = mounts.get("overlay")
    fields = {**mounts, "overlay": None if overlay is None else container.Overlay(**overlay)}
    return container.prepare_root(container.Mounts(**fields))


def open_console() -> tuple[Any, list[str]]:
    """-t, after prepare_root: inside/console.py's open_console(), the container's own terminal; returns its
    master as a kernel.fdpass.Descriptor (the channel passes the descriptor itself) and the steps."""
    from isodemo.inside import console

    return console.open_console()


def exec_process(process: dict[str, Any]) -> NoReturn:
    """inside/container.py's exec_process(Process(**process)); `security` is a dict of Security's fields.
    Runs after pivot_root: everything it uses was imported with inside/container.py, before it."""
    from isodemo.inside import container
    from isodemo.inside.security import Security

    container.exec_process(container.Process(**{**process, "security": Security(**process["security"])}))


def exec_locked(process: dict[str, Any]) -> NoReturn:
    """exec_process for a child whose lock-down the caller already made, one part at a time (isodemo
    container calls inside/security.py's set_no_new_privs, drop_capabilities and load_seccomp itself)."""
    from isodemo.inside import container
    from isodemo.inside.security import Security

    fields = {**process, "security": Security(**process["security"])}
    container.exec_process(container.Process(**fields), locked=True)
