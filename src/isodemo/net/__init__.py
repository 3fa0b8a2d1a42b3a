"""Networking resources: named network namespaces, veth pairs, bridges, tc qdiscs and nftables tables.

Each resource is a context manager that owns one kernel object, named after the run, and always undoes it:
removal is by name and tolerates an object already gone, so it is safe at any point of the creation. A demo
takes them with `own()`, never with a bare `ExitStack.enter_context`: see there why.

pyroute2 (netlink from Python) is imported only by the modules of this package, and only when a network
demo runs: it costs ~300 ms to import, which `isodemo --help` and the other demos never pay.
"""

from __future__ import annotations

from typing import TypeVar

from isodemo.owned import own

__all__ = ["Resource", "own"]

R = TypeVar("R", bound="Resource")


class Resource:
    """One kernel object, known by name before it exists: `create()` makes it, `remove()` undoes it by name and
    is a no-op when the object is gone (or was never made), so it is safe after a creation cut short."""

    def create(self) -> None:
        raise NotImplementedError

    def remove(self) -> None:
        raise NotImplementedError

    def __enter__(self: R) -> R:
        try:
            self.create()
        except BaseException:
            self.remove()  # __exit__ never runs when __enter__ raises
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
