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
import re
import shutil
import sys
from collections.abc import Sequence
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


# systemd marks a cgroup it delegates with one of these extended attributes ("1"): trusted.delegate (v250 on),
# user.delegate, which an unprivileged user manager can set, in newer versions; the user manager of systemd
# 252 sets neither (observed in tests/vm/run-in-systemd-vm), so unit_delegated asks it too.
DELEGATE_XATTRS = ("user.delegate", "trusted.delegate")
# The suffixes of the cgroups systemd makes for its units.
UNIT_SUFFIXES = (".scope", ".service", ".slice")
# The scope's properties: delegated, and not stopped by systemd when the OOM killer kills in it (the default,
# DefaultOOMPolicy=stop, would end cgroup-memory by SIGTERM at the very moment it shows).
SCOPE_PROPERTIES = ("Delegate=yes", "OOMPolicy=continue")
# OOMPolicy= for a scope: systemd 252 (Debian 12, tests/vm/run-in-systemd-vm) takes it, Ubuntu 24.04 has 255;
# an older systemd may refuse the property, and systemd-run would then fail instead of running isodemo.
OOM_POLICY_SINCE = 252


def marked_delegated(path: str) -> bool:
    """Whether systemd set its delegation marker (the `user.delegate` or `trusted.delegate` xattr) on `path`."""
    for name in DELEGATE_XATTRS:
        try:
            if os.getxattr(path, name).strip() in (b"1", b"yes", b"true"):
                return True
        except OSError:  # ENODATA: not set; EOPNOTSUPP: a kernel without user xattrs on cgroupfs (before 5.7)
            continue
    return False


def unit_delegated(path: str) -> bool:
    """Ask the user manager whose unit `path` is: `systemctl --user show -p Delegate --value UNIT`. For the
    systemd versions that mark nothing (the user manager of v252 sets no xattr); False when nobody answers."""
    import subprocess

    if manager_cgroup(path) is None or not user_manager_reachable():
        return False
    try:
        said = subprocess.run(
            ["systemctl", "--user", "show", "-p", "Delegate", "--value", os.path.basename(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return said.returncode == 0 and said.stdout.strip() == "yes"


def delegated_cgroup() -> str | None:
    """Our own cgroup, when it is delegated to us and ours alone: we may create children and write its files.

    Writable is not enough: every cgroup a user manager makes (each scope and service of the user) belongs to
    the user, delegated or not, and a terminal's scope also holds the shell. Ours to organise is the
    systemd-run scope we re-executed in (DELEGATED_ENV), a systemd unit that systemd marked delegated (its
    `user.delegate` xattr: `systemd-run --user --scope -p Delegate=yes isodemo ...` typed by hand), or a cgroup
    outside systemd's units where we are the only process and no controller is enabled yet.
    """
    own = own_cgroup()
    needed = [own, os.path.join(own, "cgroup.procs"), os.path.join(own, "cgroup.subtree_control")]
    if not all(os.access(path, os.W_OK) for path in needed):
        return None
    if os.environ.get(DELEGATED_ENV):
        return own
    if own.endswith(UNIT_SUFFIXES):  # systemd's: a Delegate=no unit would stop when we enable a controller
        return own if marked_delegated(own) or unit_delegated(own) else None
    alone = read_file(os.path.join(own, "cgroup.procs")).split() == [str(os.getpid())]
    untouched = not read_file(os.path.join(own, "cgroup.subtree_control")).strip()
    return own if alone and untouched else None


def systemd_version(systemd_run: str) -> int:
    """`systemd-run --version`'s first line, "systemd 255 (255.4-1ubuntu8)": 255; 0 when it says nothing."""
    import subprocess

    try:
        said = subprocess.run(
            [systemd_run, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return 0
    return int(said[1]) if len(said) > 1 and said[0] == "systemd" and said[1].isdigit() else 0


def scope_properties(version: int) -> list[str]:
    """The `-p` options of the scope, those this systemd knows."""
    wanted = [p for p in SCOPE_PROPERTIES if version >= OOM_POLICY_SINCE or not p.startswith("OOMPolicy=")]
    return [arg for p in wanted for arg in ("-p", p)]


def user_manager_reachable() -> bool:
    """A systemd user manager to ask: $XDG_RUNTIME_DIR/bus, which a login session has and a plain `su` or a
    container's shell has not."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    return bool(runtime) and os.path.exists(os.path.join(runtime, "bus")) and bool(shutil.which("systemd-run"))


def scope_command(argv: list[str]) -> list[str] | None:
    """The `systemd-run --user --scope` command that reruns isodemo delegated, where a user manager runs."""
    systemd_run = shutil.which("systemd-run")
    if os.environ.get(DELEGATED_ENV) or not systemd_run or not user_manager_reachable():
        return None
    return [
        "systemd-run",
        "--user",
        "--scope",
        "--quiet",
        *scope_properties(systemd_version(systemd_run)),
        "--",
        sys.executable,  # with site, whether this process had it or not (launcher.py): the venv's isodemo
        "-m",
        "isodemo",
        *argv,
    ]


def manager_cgroup(path: str) -> str | None:
    """The user manager's cgroup (`.../user@UID.service`) that `path` lies in, or None."""
    while path.startswith(CGROUP_ROOT + "/"):
        if re.fullmatch(r"user@\d+\.service", os.path.basename(path)):
            return path
        path = os.path.dirname(path)
    return None


def user_manager_cgroup(uid: int) -> str:
    """Where logind puts the user manager of `uid`: the cgroup systemd delegates to that user."""
    return os.path.join(CGROUP_ROOT, "user.slice", f"user-{uid}.slice", f"user@{uid}.service")


def controllers_of(path: str) -> list[str]:
    """`path`'s cgroup.controllers: the controllers it may enable for its children. [] when unreadable."""
    try:
        return read_file(os.path.join(path, "cgroup.controllers")).split()
    except OSError:
        return []


def undelegated(base: str, controllers: Sequence[str]) -> list[str]:
    """The `controllers` that this kernel has (the root's cgroup.controllers) but `base` was not given."""
    kernel = controllers_of(CGROUP_ROOT)
    given = controllers_of(base)
    return [c for c in controllers if c in kernel and c not in given]


def delegate_fix(given: Sequence[str], missing: Sequence[str]) -> str:
    """The drop-in for user@.service that makes systemd delegate `missing` too, and what to do after it."""
    wanted = " ".join([*given, *[c for c in missing if c not in given]])
    return _(
        "or let systemd delegate it to users: sudo mkdir -p /etc/systemd/system/user@.service.d && "
        "printf '[Service]\\nDelegate={wanted}\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf "
        "&& sudo systemctl daemon-reload; then log out and in again",
        wanted=wanted,
    )


def not_delegated(base: str, missing: Sequence[str], command: str) -> NeedsRoot:
    """The controllers `missing` exist but were not delegated to the user: exit 77 with both ways out."""
    holder = manager_cgroup(base) or base
    given = controllers_of(holder)
    return NeedsRoot(
        _(
            "the {controllers} cgroup controller is not delegated to you: the kernel has it, but {holder} "
            "(systemd's user@.service, Delegate=) hands on only: {given}",
            controllers=" ".join(missing),
            holder=holder,
            given=" ".join(given) or _("none"),
        ),
        _("run: sudo {command}; {fix}", command=command, fix=delegate_fix(given, missing)),
    )


def rootless_base(mode: str, command: str, controllers: Sequence[str] = ()) -> str:
    """The delegated cgroup to work in, with `controllers` delegated to it; re-executes under systemd-run when
    that gives one; else NeedsRoot."""
    sudo = _("run: sudo {command}", command=command)
    if mode != "v2":
        raise NeedsRoot(
            _("creating cgroups on cgroup {mode} needs root (v1 cannot be delegated safely)", mode=mode), sudo
        )
    base = delegated_cgroup()
    if base:
        missing = undelegated(base, controllers)
        if missing:
            raise not_delegated(base, missing, command)
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


LOOP_CONTROL = "/dev/loop-control"


def _mode_of(path: str) -> str:
    """`/dev/loop-control (root:disk, 0660)`, as ls -l would say whose it is."""
    import grp
    import pwd
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return path
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{path} ({owner}:{group}, {stat.S_IMODE(st.st_mode):04o})"


def needs_root_for(
    name: str, controllers: Sequence[str], features: Sequence[str], mode: str, command: str
) -> NeedsRoot:
    """Why a cgroup demo with no rootless mode (cgroup-io) needs root, as this machine shows it."""
    reasons = []
    if mode == "v2":
        holder = user_manager_cgroup(os.getuid())
        given = controllers_of(holder)
        missing = [c for c in controllers if c not in given]
        if missing and os.path.isdir(holder):
            reasons.append(
                _(
                    "the {controllers} controller is not delegated to you ({holder} hands on only: {given})",
                    controllers=" ".join(missing),
                    holder=holder,
                    given=" ".join(given) or _("none"),
                )
            )
        elif missing:
            reasons.append(_("no cgroup is delegated to you (no systemd user manager runs for you)"))
    else:
        reasons.append(_("creating cgroups on cgroup {mode} needs root (v1 cannot be delegated safely)", mode=mode))
    if "loop-device" in features and not os.access(LOOP_CONTROL, os.W_OK):
        reasons.append(
            _("it attaches a file to a loop device, and {device} is not writable by you", device=_mode_of(LOOP_CONTROL))
        )
    return NeedsRoot(
        _("isodemo {name} needs root: {reasons}", name=name, reasons="; ".join(reasons) or _("it creates cgroups")),
        _("run: sudo {command}", command=command),
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
