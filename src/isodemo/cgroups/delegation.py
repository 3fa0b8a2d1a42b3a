"""Running the cgroup demos without root, in a cgroup v2 subtree delegated to the user.

systemd delegates a subtree with `systemd-run --user --scope -p Delegate=yes CMD`: CMD runs in a new scope
whose cgroup (and its cgroup.procs, cgroup.subtree_control) the user owns. Inside it, isodemo may create
cgroups as an ordinary user. v2 forbids processes in a cgroup that enables controllers for its children,
so isodemo first moves itself into a leaf of its own (`Vacate`), and moves back before it removes it.
cgroup v1 has no safe delegation: there, the cgroup demos need root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from types import TracebackType

from isodemo.cgroups.base import read_file, write_file
from isodemo.errors import NeedsRoot
from isodemo.host import CGROUP_ROOT
from isodemo.i18n import _
from isodemo.kernel import procfs

DELEGATED_ENV = "ISODEMO_DELEGATED"  # set in the re-executed process, so it never loops


def own_cgroup() -> str:
    """This process's cgroup v2 directory (the `0::` line of /proc/self/cgroup)."""
    return os.path.join(CGROUP_ROOT, procfs.cgroup("self").get("", "/").lstrip("/"))


def delegated_cgroup() -> str | None:
    """Our own cgroup, when it is delegated to us and ours alone: we may create children and write its files.

    Writable is not enough: every scope of a systemd user session is writable by its user, and a terminal's
    scope also holds the shell. Only a cgroup made for this run (the systemd-run scope we re-executed in),
    or one where we are the only process and no controller is enabled yet, is ours to organise.
    """
    own = own_cgroup()
    needed = [own, os.path.join(own, "cgroup.procs"), os.path.join(own, "cgroup.subtree_control")]
    if not all(os.access(path, os.W_OK) for path in needed):
        return None
    alone = read_file(os.path.join(own, "cgroup.procs")).split() == [str(os.getpid())]
    untouched = not read_file(os.path.join(own, "cgroup.subtree_control")).strip()
    return own if os.environ.get(DELEGATED_ENV) or (alone and untouched) else None


def scope_command(argv: list[str]) -> list[str] | None:
    """The `systemd-run --user --scope` command that reruns isodemo delegated, where a user manager runs."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.environ.get(DELEGATED_ENV) or not shutil.which("systemd-run"):
        return None
    if not runtime or not os.path.exists(os.path.join(runtime, "bus")):
        return None  # no systemd user manager to ask (a plain `su`, a container)
    return [
        "systemd-run",
        "--user",
        "--scope",
        "--quiet",
        "-p",
        "Delegate=yes",
        "--",
        sys.executable,
        "-m",
        "isodemo",
        *argv,
    ]


def rootless_base(mode: str, command: str) -> str:
    """The delegated cgroup to work in; re-executes under systemd-run when that gives one; else NeedsRoot."""
    sudo = _("run: sudo {command}", command=command)
    if mode != "v2":
        raise NeedsRoot(
            _("creating cgroups on cgroup {mode} needs root (v1 cannot be delegated safely)", mode=mode), sudo
        )
    base = delegated_cgroup()
    if base:
        return base
    rerun = scope_command(sys.argv[1:])
    if rerun:
        os.environ[DELEGATED_ENV] = "1"
        os.execvp(rerun[0], rerun)
    raise NeedsRoot(
        _(
            "your cgroup {cgroup} is not delegated to you, and no systemd user session can make one",
            cgroup=own_cgroup(),
        ),
        _(
            "run: sudo {command}   (or, in a systemd login session: systemd-run --user --scope -p Delegate=yes "
            "{command})",
            command=command,
        ),
    )


class Vacate:
    """Move this process from the delegated cgroup into a leaf `<base>/<name>`, and back on exit."""

    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.leaf = os.path.join(base, name)

    def __enter__(self) -> Vacate:
        self.enabled_before = set(read_file(os.path.join(self.base, "cgroup.subtree_control")).split())
        os.mkdir(self.leaf)
        try:
            write_file(os.path.join(self.leaf, "cgroup.procs"), str(os.getpid()))
        except BaseException:
            os.rmdir(self.leaf)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        control = os.path.join(self.base, "cgroup.subtree_control")
        ours = [c for c in read_file(control).split() if c not in self.enabled_before]
        if ours:  # a cgroup with controllers enabled for children may not hold processes: undo only ours
            with contextlib.suppress(OSError, NeedsRoot):
                write_file(control, " ".join(f"-{c}" for c in ours))
        write_file(os.path.join(self.base, "cgroup.procs"), str(os.getpid()))
        os.rmdir(self.leaf)
