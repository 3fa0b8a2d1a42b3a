"""What this machine can do: Linux?, root?, kernel, cgroup mode, user-namespace policy, tools.

Feeds `isodemo doctor` and every demo's preflight. Everything is read from the kernel at call time.

On `isodemo run`'s start-up path: plain classes, and platform, shlex, shutil and pathlib imported only by
the functions that need them (together ~8 ms of imports).
"""

from __future__ import annotations

import os
import sys

from isodemo.errors import MissingFeature, NeedsRoot, NotLinux
from isodemo.i18n import N_, _

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Final

CGROUP_ROOT = "/sys/fs/cgroup"  # where systemd, and every distribution, mounts the cgroup filesystem(s)

# A module constant: shown with _(VAGRANT_HINT).
VAGRANT_HINT = N_("run isodemo in the Linux VM this project provides: cd vagrant && vagrant up && vagrant ssh")
APT_INSTALL = "sudo apt install"

# Tools some demos use, and the Debian/Ubuntu package that has each.
TOOL_PACKAGES = {
    "busybox": "busybox-static",
    "nft": "nftables",
    "ip": "iproute2",
    "lsns": "util-linux",
    "nsenter": "util-linux",
    "unshare": "util-linux",
}

USERNS_SYSCTLS = (
    "kernel.apparmor_restrict_unprivileged_userns",  # Ubuntu 23.10+: 1 restricts
    "kernel.unprivileged_userns_clone",  # Debian's patch, before Debian 11 defaulted it to 1
    "user.max_user_namespaces",  # 0 forbids user namespaces to everyone
)


def read_text(path: str | Path) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def sysctl(name: str) -> str | None:
    return read_text("/proc/sys/" + name.replace(".", "/"))


def userns_policy() -> dict[str, str | None]:
    """The user-namespace sysctls as this process reads them (user.* ones are per user namespace)."""
    return {name: sysctl(name) for name in USERNS_SYSCTLS}


class Controller:
    """One line of /proc/cgroups."""

    __slots__ = ("enabled", "hierarchy", "name")

    def __init__(self, name: str, hierarchy: int, enabled: bool) -> None:
        self.name: Final = name
        self.hierarchy: Final = hierarchy  # 0 means "not on a v1 hierarchy" (on the unified v2 tree, if enabled)
        self.enabled: Final = enabled

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Controller) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.name, self.hierarchy, self.enabled) == (other.name, other.hierarchy, other.enabled)

    def __hash__(self) -> int:
        return hash((self.name, self.hierarchy, self.enabled))

    def __repr__(self) -> str:
        return f"Controller(name={self.name!r}, hierarchy={self.hierarchy!r}, enabled={self.enabled!r})"


def parse_proc_cgroups(text: str) -> list[Controller]:
    """/proc/cgroups: `subsys_name hierarchy num_cgroups enabled` per controller, after a # header."""
    controllers = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, hierarchy, _, enabled = line.split()[:4]
        controllers.append(Controller(name, int(hierarchy), enabled == "1"))
    return controllers


def cgroup_fs_types(mountinfo_text: str) -> dict[str, str]:
    """Mount point -> filesystem type, for mounts at and under /sys/fs/cgroup."""
    from isodemo.kernel.procfs import parse_mountinfo

    return {
        m.mount_point: m.fstype
        for m in parse_mountinfo(mountinfo_text)
        if m.mount_point == CGROUP_ROOT or m.mount_point.startswith(CGROUP_ROOT + "/")
    }


def cgroup_mode_from(fs_types: dict[str, str]) -> str:
    """`v2` (unified), `hybrid` (v1 controllers plus a cgroup2 mount), `v1`, or `none`."""
    if fs_types.get(CGROUP_ROOT) == "cgroup2":
        return "v2"
    has_v1 = any(t == "cgroup" for t in fs_types.values())
    has_v2 = any(t == "cgroup2" for t in fs_types.values())
    if has_v1 and has_v2:
        return "hybrid"
    if has_v1:
        return "v1"
    return "none"


class Host:
    """What probe() found."""

    def __init__(
        self,
        linux: bool,
        root: bool,
        kernel: str,
        python: str,
        *,
        cgroup_mode: str = "none",
        controllers: list[str] | None = None,
        userns_sysctls: dict[str, str | None] | None = None,
    ) -> None:
        self.linux = linux
        self.root = root
        self.kernel = kernel
        self.python = python
        self.cgroup_mode = cgroup_mode
        self.controllers: list[str] = [] if controllers is None else controllers
        self.userns_sysctls: dict[str, str | None] = {} if userns_sysctls is None else userns_sysctls

    def _fields(self) -> tuple[object, ...]:
        return (
            self.linux,
            self.root,
            self.kernel,
            self.python,
            self.cgroup_mode,
            self.controllers,
            self.userns_sysctls,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Host) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was: not hashable

    def __repr__(self) -> str:
        return (
            "Host(linux={!r}, root={!r}, kernel={!r}, python={!r}, cgroup_mode={!r}, controllers={!r}, "
            "userns_sysctls={!r})".format(*self._fields())
        )

    def summary(self) -> dict[str, object]:
        """The `host` object of the JSON output."""
        return {
            "kernel": self.kernel,
            "cgroup": self.cgroup_mode,
            "root": self.root,
            "python": self.python,
            "linux": self.linux,
        }


def probe() -> Host:
    linux = sys.platform.startswith("linux")
    host = Host(
        linux=linux,
        root=hasattr(os, "geteuid") and os.geteuid() == 0,
        kernel=_release(),
        python=sys.version.split()[0],  # what platform.python_version() says: "3.11.2", "3.13.0rc1"
    )
    if not linux:
        return host
    fs_types = cgroup_fs_types(read_text("/proc/self/mountinfo") or "")
    host.cgroup_mode = cgroup_mode_from(fs_types)
    controllers = parse_proc_cgroups(read_text("/proc/cgroups") or "")
    if host.cgroup_mode == "v2":
        host.controllers = (read_text(f"{CGROUP_ROOT}/cgroup.controllers") or "").split()
    else:
        host.controllers = [c.name for c in controllers if c.enabled and c.hierarchy != 0]
    host.userns_sysctls = userns_policy()
    return host


def _release() -> str:
    """The kernel's release, `uname -r` (platform.release() without importing platform)."""
    try:
        return os.uname().release
    except AttributeError:  # no uname(2): not a Unix
        import platform

        return platform.release()


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """`6.8.0-45-generic` -> (6, 8)."""
    import re

    match = re.match(r"(\d+)\.(\d+)", release or _release())
    return (int(match[1]), int(match[2])) if match else (0, 0)


# -- preflight checks: each raises the error a learner can act on -----------------------------------------


def command_line() -> str:
    """How the learner invoked isodemo, for the `sudo ...` hint."""
    import shlex

    return shlex.join(["isodemo", *sys.argv[1:]])


def require_linux() -> None:
    if not sys.platform.startswith("linux"):
        import platform

        raise NotLinux(
            _(
                "namespaces and cgroups are Linux kernel features; this is {system}",
                system=platform.system() or sys.platform,
            ),
            _(VAGRANT_HINT),
        )


def require_root(what: str) -> None:
    require_linux()
    if os.geteuid() != 0:
        raise NeedsRoot(
            _("{what} needs root: creating these namespaces takes CAP_SYS_ADMIN", what=what),
            _("run: sudo {command}", command=command_line()),
        )


def which(name: str) -> str | None:
    """PATH first, then the system directories: `sudo` with a user's secure_path may lack /usr/sbin."""
    import shutil

    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def find_tool(name: str) -> str:
    path = which(name)
    if path is None:
        package = TOOL_PACKAGES.get(name, name)
        raise MissingFeature(_("`{name}` is not installed", name=name), f"{APT_INSTALL} {package}")
    return path


def is_static_elf(path: str) -> bool:
    """True when the ELF file has no PT_INTERP program header, i.e. needs no dynamic loader."""
    import struct

    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF":
            return False
        is64 = header[4] == 2
        endian = "<" if header[5] == 1 else ">"
        if is64:
            (phoff,) = struct.unpack_from(endian + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 54)
        else:
            (phoff,) = struct.unpack_from(endian + "I", header, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == pt_interp:
            return False
    return True


def require_static_busybox() -> str:
    """A statically linked busybox: after pivot_root there is no /lib for a dynamic loader to find."""
    path = find_tool("busybox")
    if not is_static_elf(os.path.realpath(path)):
        raise MissingFeature(
            _("{path} is dynamically linked: after pivot_root it cannot find its libraries", path=path),
            f"{APT_INSTALL} busybox-static",
        )
    return path
