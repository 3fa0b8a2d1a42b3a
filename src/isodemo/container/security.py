"""What a container may do, as `docker run` decides it: capabilities, seccomp, no_new_privs, and the parts of
/proc and /sys it must not see or change. Turns a RunSpec into the plain data the child applies
(inside.security.Security, and the masked/read-only path lists for inside.container.Mounts).

- Capabilities: Docker's 14 defaults (moby daemon/pkg/oci/caps/defaults.go, the same list as containerd's
  defaultUnixCaps), changed by --cap-add/--cap-drop the way moby's TweakCapabilities does
  (daemon/pkg/oci/caps/utils.go): names with or without CAP_, any case; `--cap-add ALL` keeps everything
  but the drops; `--cap-drop ALL` keeps only the adds; otherwise drops first, then adds.
  --privileged: every capability this kernel knows (/proc/sys/kernel/cap_last_cap) that this process can
  still pass on (its own bounding set), as moby's GetAllCapabilities.
- Seccomp: the default filter of inside/security.py; off with --privileged or
  `--security-opt seccomp=unconfined`.
- Masked and read-only paths: moby's lists (daemon/pkg/oci/defaults.go), none with --privileged.
"""

from __future__ import annotations

import os

from isodemo.errors import RunError
from isodemo.i18n import _
from isodemo.kernel import capabilities

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from isodemo.container.spec import RunSpec
    from isodemo.inside.security import Security

# moby daemon/pkg/oci/caps/defaults.go, DefaultCapabilities(), in its order.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# moby daemon/pkg/oci/defaults.go, defaultLinuxMaskedPaths(): files are covered with /dev/null, directories
# with an empty read-only tmpfs. masked_paths() adds /sys/devices/system/cpu/cpuN/thermal_throttle.
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)
# The same file, DefaultLinuxSpec().Linux.ReadonlyPaths: bound onto themselves, remounted read-only.
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

ALL = "ALL"


def available_capabilities() -> tuple[str, ...]:
    """Every capability this kernel knows that this process can still give a child: bits 0..cap_last_cap
    that are in its own bounding set (a machine may run everything without some, e.g. CAP_SYS_RESOURCE)."""
    bounding = capabilities.bounding()
    return tuple(capabilities.name(number) for number in range(capabilities.last_cap() + 1) if bounding >> number & 1)


def _normalized(names: tuple[str, ...], available: tuple[str, ...], option: str) -> list[str]:
    """CAP_ names for --cap-add/--cap-drop values; ALL stays ALL. RunError for a name nobody knows, or one
    this kernel or this process cannot give."""
    result: list[str] = []
    for raw in names:
        if raw.strip().upper() == ALL:
            result.append(ALL)
            continue
        name = capabilities.normalize(raw)
        if name not in capabilities.NAMES:
            import difflib  # only on this error path

            close = difflib.get_close_matches(name, capabilities.NAMES, n=3, cutoff=0.6)
            raise RunError(
                _('{option}: unknown capability "{name}"', option=option, name=raw),
                _("did you mean {names}?", names=", ".join(n.removeprefix("CAP_") for n in close))
                if close
                else _("the names are those of `man 7 capabilities`, with or without CAP_, or ALL"),
            )
        if name not in available:
            raise RunError(
                _(
                    "{option}: capability {name} is not supported by this kernel or not available here",
                    option=option,
                    name=name,
                )
            )
        result.append(name)
    return result


def resolve_capabilities(
    cap_add: tuple[str, ...] = (), cap_drop: tuple[str, ...] = (), privileged: bool = False
) -> tuple[str, ...]:
    """The capabilities a container keeps, decided as moby's TweakCapabilities does."""
    available = available_capabilities()
    adds = _normalized(cap_add, available, "--cap-add")
    drops = _normalized(cap_drop, available, "--cap-drop")
    if privileged:
        return available
    if ALL in adds:
        kept = [name for name in available if name not in drops]
    elif ALL in drops:
        kept = adds
    else:
        kept = [name for name in DEFAULT_CAPABILITIES if name not in drops] + adds
    return tuple(dict.fromkeys(kept))  # without repeats, in order


def security_for(spec: RunSpec) -> Security:
    """--cap-add/--cap-drop/--privileged/--security-opt of a RunSpec -> what lock_down applies in the child."""
    from isodemo.inside.security import Security

    return Security(**security_fields(spec))


def security_fields(spec: RunSpec) -> dict[str, Any]:
    """security_for's Security as a dict of its fields: what container/runtime.py sends to the child, which
    makes the Security there (the parent does not import inside/: inside/launch.py says why)."""
    return {
        "capabilities": resolve_capabilities(spec.cap_add, spec.cap_drop, spec.privileged),
        "no_new_privs": spec.no_new_privileges,
        "seccomp": spec.seccomp and not spec.privileged,
    }


def cpu_list(text: str) -> list[int]:
    """A kernel CPU list ("0-3,8", as in /sys/devices/system/cpu/possible) -> [0, 1, 2, 3, 8]."""
    cpus: list[int] = []
    for part in filter(None, text.strip().split(",")):
        first, _sep, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _possible_cpus() -> list[int]:
    """The CPUs this kernel could bring online, as moby's platform.PossibleCPU reads them."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            return cpu_list(f.read())
    except (OSError, ValueError):
        return []


def masked_paths() -> tuple[str, ...]:
    """MASKED_PATHS plus the per-CPU thermal_throttle directories that exist on this machine."""
    throttles = (f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle" for cpu in _possible_cpus())
    return MASKED_PATHS + tuple(path for path in throttles if os.path.exists(path))


def paths_for(spec: RunSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(masked, read-only) paths for the container's /proc and /sys; both empty with --privileged."""
    if spec.privileged:
        return (), ()
    return masked_paths(), READONLY_PATHS
