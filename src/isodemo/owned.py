"""Owning a kernel object from the moment it exists: its teardown is registered first, then it is created.

`ExitStack.enter_context(resource)` creates first and registers after; a signal delivered between the two
(Python runs handlers between bytecodes, so it can) leaves an object the teardown never hears of: a child
process, a veth pair, a cgroup, on the host for good. `own()` turns the order round. It is only for
resources whose `__exit__` is safe at any point of their creation: they undo by name, and do nothing for
what was never made (net.Resource, cgroups.Cgroup, Isolated). No signal is held while the object is made,
so a slow creation (an `nft` process, a child waiting for its maps) still ends on the first Ctrl-C.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import contextlib
    from typing import TypeVar

    T = TypeVar("T")


def own(stack: contextlib.ExitStack, resource: contextlib.AbstractContextManager[T]) -> T:
    """Register `resource`'s teardown on `stack`, then create it; returns what its `__enter__` returns."""
    stack.push(resource)
    return resource.__enter__()
