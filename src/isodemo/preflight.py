"""Before a command creates anything: check what its catalog entry says it needs, and stop with the fix.

A demo that found a missing tool half-way (after its first namespaces, links or cgroups) would fail with
"No such file or directory: 'ping'" and leave the learner to guess the package. Instead, runner.execute calls
`check()` before the run is registered: every tool (with its Debian package), cgroup controller and kernel
feature that isodemo.catalog declares for the command is looked up the way the command itself will look it
up, and whatever is missing becomes one MissingFeature (exit 3) that names each piece and the fix, as
`isodemo doctor` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from isodemo import catalog
from isodemo import host as hostinfo
from isodemo.errors import MissingFeature
from isodemo.i18n import N_, _

# The v1 name of a controller whose v2 name differs (host.Host.controllers holds v1 names on v1 and hybrid).
V1_NAMES = {"io": "blkio"}

# What a kernel needs for each controller isodemo uses, for the hint.
CONTROLLER_CONFIG = {
    "memory": N_(
        "CONFIG_MEMCG (some boards, such as the Raspberry Pi, also need cgroup_enable=memory on the "
        "kernel command line)"
    ),
    "cpu": N_("CONFIG_CGROUP_SCHED and CONFIG_CFS_BANDWIDTH"),
    "pids": "CONFIG_CGROUP_PIDS",
    "io": N_("CONFIG_BLK_CGROUP and CONFIG_BLK_DEV_THROTTLING"),
}


class Missing:
    """One missing piece: what it is, and the command or step that brings it."""

    __slots__ = ("fix", "package", "what")

    def __init__(self, what: str, fix: str = "", package: str = "") -> None:
        self.what = what
        self.fix = fix
        self.package = package  # a Debian package to install, gathered into one `apt install` line


def _tool(tool: catalog.Tool) -> Missing | None:
    """Found where the command will look for it (PATH, then the sbin and bin directories: host.find_tool)."""
    try:
        path = hostinfo.find_tool(tool.name)
    except MissingFeature:
        return Missing(
            _("`{tool}` is not installed (looked in PATH, /usr/sbin, /sbin, /usr/bin and /bin)", tool=tool.name),
            package=tool.package,
        )
    if tool.static and not hostinfo.is_static_elf(os.path.realpath(path)):
        return Missing(
            _("{path} is dynamically linked: after pivot_root it cannot find its libraries", path=path),
            package=tool.package,
        )
    return None


def _controller(name: str, host: hostinfo.Host) -> Missing | None:
    if host.cgroup_mode == "none":
        return Missing(
            _("no cgroup filesystem is mounted at /sys/fs/cgroup"),
            _("mount cgroup2 there: mount -t cgroup2 none /sys/fs/cgroup (systemd does it at boot)"),
        )
    kernel_name = name if host.cgroup_mode == "v2" else V1_NAMES.get(name, name)
    if kernel_name in host.controllers:
        return None
    where = "/sys/fs/cgroup/cgroup.controllers" if host.cgroup_mode == "v2" else "/proc/cgroups"
    config = CONTROLLER_CONFIG.get(name)
    return Missing(
        _(
            "the {controller} cgroup controller is missing ({where} lists: {listed})",
            controller=kernel_name,
            where=where,
            listed=" ".join(host.controllers) or _("none"),
        ),
        _("a kernel with {config}; `isodemo doctor` shows the rest", config=_(config))
        if config
        else _("a kernel with that controller; `isodemo doctor` shows the rest"),
    )


def _time_namespace(host: hostinfo.Host) -> Missing | None:
    from isodemo.kernel import namespaces, timens

    if "time" in namespaces.available_types():
        return None
    major, minor = hostinfo.kernel_version()
    needed = ".".join(map(str, timens.MIN_KERNEL))
    if (major, minor) < timens.MIN_KERNEL:
        what = _(
            "time namespaces need Linux {needed} or newer; this kernel is {kernel} (too old)",
            needed=needed,
            kernel=host.kernel,
        )
    else:
        what = _(
            "time namespaces need Linux {needed} or newer; this kernel is {kernel} (built without CONFIG_TIME_NS)",
            needed=needed,
            kernel=host.kernel,
        )
    return Missing(what, _(hostinfo.VAGRANT_HINT))


def _loop_device(host: hostinfo.Host) -> Missing | None:
    if os.path.exists("/dev/loop-control"):
        return None
    return Missing(
        _("this kernel has no loop devices (/dev/loop-control is missing)"), _("load the module: sudo modprobe loop")
    )


def _user_namespace(host: hostinfo.Host) -> Missing | None:
    """Root's user namespaces (a --userns container): the kernel has them and user.max_user_namespaces is not
    0 (the sysctls that restrict only processes without CAP_SYS_ADMIN do not concern root)."""
    from isodemo import userns_policy
    from isodemo.kernel import namespaces

    if "user" not in namespaces.available_types():
        return Missing(_("this kernel was built without user namespaces (CONFIG_USER_NS)"), _("a newer kernel"))
    if host.userns_sysctls.get("user.max_user_namespaces") == "0":
        return Missing(
            _("user.max_user_namespaces is 0 here: nobody may create a user namespace"),
            f"sudo sysctl -w user.max_user_namespaces={userns_policy.RELAXED_MAX_USER_NAMESPACES}",
        )
    return None


FEATURE_CHECKS: dict[str, Callable[[hostinfo.Host], Missing | None]] = {
    "time-namespace": _time_namespace,
    "loop-device": _loop_device,
    "user-namespace": _user_namespace,
}


def missing(entry: catalog.Entry, host: hostinfo.Host) -> list[Missing]:
    """Every need of `entry` that this machine lacks, in the order the catalog declares them."""
    found = [_tool(tool) for tool in entry.tools]
    found += [_controller(name, host) for name in entry.controllers]
    found += [FEATURE_CHECKS[feature](host) for feature in entry.features]
    return [item for item in found if item is not None]


def check(name: str, host: hostinfo.Host) -> None:
    """Raise MissingFeature (exit 3) naming each missing need of command `name` and how to get it.

    A name that is not in the catalog (a test's own body) declares nothing and passes.
    """
    entry = catalog.BY_NAME.get(name)
    lacking = missing(entry, host) if entry is not None else []
    if not lacking:
        return
    packages = sorted({item.package for item in lacking if item.package})
    fixes = [f"{hostinfo.APT_INSTALL} {' '.join(packages)}"] if packages else []
    fixes += [item.fix for item in lacking if item.fix and item.fix not in fixes]
    raise MissingFeature(
        _(
            "isodemo {name} needs what this machine lacks, so it stopped before creating anything: {missing}",
            name=name,
            missing="; ".join(item.what for item in lacking),
        ),
        "; ".join(fixes),
    )
