"""What every demo and tool gets: the run, the host, an ExitStack that owns its resources, and its options.

It lives above demos/ and tools/ (runner.py makes one per command), so both import it without reaching into
each other. `isodemo run` makes one too: this module imports at its top only what every run needs (a plain
class, the narrator, cgroups and Isolated imported where used), so the start of a container does not pay
for what a demo uses.
"""

from __future__ import annotations

from isodemo import owned, signals

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import contextlib
    from collections.abc import Callable, Sequence
    from typing import Any, TypeVar

    from isodemo.cgroups.base import Cgroup
    from isodemo.host import Host
    from isodemo.isolated import Isolated
    from isodemo.narrate.base import Narrator
    from isodemo.runs import Run

    T = TypeVar("T")


class DemoContext:
    """The run, the host, the ExitStack that owns every resource, and the command's options."""

    def __init__(
        self,
        run: Run,
        host: Host,
        stack: contextlib.ExitStack,
        hold: bool = False,
        options: dict[str, Any] | None = None,
        *,
        cgroup_top: str | None = None,
        rootless: bool = False,
    ) -> None:
        self.run = run
        self.host = host
        self.stack = stack
        self.hold = hold
        self.options: dict[str, Any] = {} if options is None else options
        self.cgroup_top = cgroup_top  # rootless: the delegated cgroup v2 to create cgroups in
        self.rootless = rootless  # not root: every Isolated gets a user namespace first, as rootless podman does

    def __repr__(self) -> str:
        return (
            f"DemoContext(run={self.run!r}, host={self.host!r}, stack={self.stack!r}, hold={self.hold!r}, "
            f"options={self.options!r}, cgroup_top={self.cgroup_top!r}, rootless={self.rootless!r})"
        )

    def enter(self, resource: contextlib.AbstractContextManager[T]) -> T:
        """Own a resource until the demo ends, however it ends. Its creation and the registration of its
        teardown happen with the handled signals held: a Ctrl-C between the two (a file, a loop device, a
        directory made, not yet known to the stack) would leave it behind; held, it arrives just after."""
        with signals.held():
            return self.stack.enter_context(resource)

    def own(self, resource: contextlib.AbstractContextManager[T]) -> T:
        """Own a resource whose teardown is safe at any point of its creation: registered first, then made
        (isodemo.owned says why), so no signal can leave it on the host unknown to the teardown."""
        return owned.own(self.stack, resource)

    def on_exit(self, undo: Callable[..., Any], *args: Any) -> None:
        self.stack.callback(undo, *args)

    def isolated(self, namespaces: Sequence[str], **options: Any) -> Isolated:
        """A child in new namespaces (see Isolated for the options), stopped when the demo ends."""
        from isodemo.isolated import Isolated

        if self.rootless and "user" not in namespaces:
            namespaces = ["user", *namespaces]
        return self.own(Isolated(namespaces, comm=self.run.name, **options))

    def as_root(self, command: str) -> str:
        """The shell equivalent of a privileged step: `sudo ...`, or, in rootless mode, what a user runs."""
        if not self.rootless:
            return f"sudo {command}"
        if command.startswith("unshare "):
            return command.replace("unshare ", "unshare --user --map-root-user ", 1)
        if command.startswith("nsenter "):  # keep your ids: without root, nsenter cannot setgroups() inside
            return command.replace("nsenter ", "nsenter -U --preserve-credentials ", 1)
        return command

    def cgroup(self, leaf: str, controllers: Sequence[str]) -> Cgroup:
        """A new cgroup isodemo-<run>-<leaf> on this host's hierarchy, removed when the demo ends."""
        from isodemo.cgroups import open_cgroup

        cgroup = open_cgroup(self.run, leaf, controllers, self.host.cgroup_mode, self.cgroup_top)
        for path in cgroup.paths:  # noted before it exists: `isodemo cleanup` finds it after a SIGKILL
            self.run.note("cgroup", path)
        return self.own(cgroup)

    def hold_here(
        self,
        narrator: Narrator,
        pids: dict[str, int],
        commands: Sequence[str] = (),
        *,
        cgroups: Sequence[str] = (),
        netns: Sequence[str] = (),
        paths: dict[str, str] | None = None,
    ) -> None:
        """With --hold: keep everything alive and show how to look at it from another terminal."""
        if not self.hold:
            return
        info = {
            "run": self.run.id,
            "pids": pids,
            "cgroups": list(cgroups),
            "netns": list(netns),
            "paths": paths or {},
        }
        narrator.hold(info, [*commands, *look_commands(pids)])


def look_commands(pids: dict[str, int]) -> list[str]:
    """The commands that show a held process from the host: its namespaces when it has new ones, its cgroups."""
    from isodemo.i18n import _
    from isodemo.kernel import namespaces as kns

    lines = []
    for role, pid in pids.items():
        lines += [_("# {role}: host pid {pid}", role=role, pid=pid), f"cat /proc/{pid}/cgroup"]
        if any(kns.ns_inode(pid, ns) != kns.ns_inode("self", ns) for ns in kns.available_types()):
            lines += [
                f"sudo lsns -p {pid}",
                f"sudo ls -l /proc/{pid}/ns",
                f"grep NSpid /proc/{pid}/status",
                f"sudo nsenter -t {pid} -a sh",
            ]
    return lines
