"""Parsing and checking option values, with messages that name the value, the accepted form and the range.

Every parser takes the text the user typed and returns a value or raises UsageError (exit 2). Only what the
docs and `--help` describe is accepted: numbers are ASCII digits (`int()` and `float()` would also take
Arabic-Indic or fullwidth digits, "1_000", " 12 " and "1e3"), and every number has an upper bound with a
stated reason, so that no value can overflow, exhaust the host or make a demo run for ever. Pure functions,
except the two bounds that depend on the machine (its CPUs, its available memory), read when not passed in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from isodemo.errors import UsageError
from isodemo.i18n import N_, _

if TYPE_CHECKING:
    import ipaddress  # imported where used: --help and most demos never need it

_ASCII = re.ASCII  # \d and \w match only ASCII: the docs promise ASCII digits and letters

# -- hostnames --------------------------------------------------------------------------------------------

HOST_NAME_MAX = 64  # <limits.h>; sethostname(2) fails with EINVAL beyond it
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", _ASCII)
HOSTNAME_RULE = N_(
    "use 1-{max} ASCII characters (sethostname(2) takes at most {max} bytes) in RFC 1123 "
    "form: dot-separated labels of 1-63 letters, digits and '-', each starting and ending with a letter or "
    "digit (for example web-0)"
)


def hostname(value: str) -> str:
    """A hostname the kernel accepts and a Kubernetes Pod could have: RFC 1123 labels, at most 64 bytes.

    Checked as text before it is encoded: a command-line argument that is not valid UTF-8 arrives as a str
    with surrogate escapes, which must be refused here, not by a UnicodeEncodeError in sethostname().
    """
    ok = 0 < len(value) <= HOST_NAME_MAX and value.isascii()
    if not ok or not all(_LABEL.fullmatch(label) for label in value.split(".")):
        raise UsageError(_("invalid hostname {value}", value=shown(value)), _(HOSTNAME_RULE, max=HOST_NAME_MAX))
    return value


# -- numbers ----------------------------------------------------------------------------------------------

_WHOLE = re.compile(r"[0-9]+", _ASCII)
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", _ASCII)
MAX_DIGITS = 30  # more than any bound below needs; keeps int() far from its 4300-digit limit


def shown(value: str) -> str:
    """The value as a message quotes it: repr (escapes what is not printable), cut short when very long."""
    if len(value) <= 40:
        return repr(value)
    return _("{start}... ({n} characters)", start=repr(value[:32]), n=len(value))


def _digits_ok(text: str) -> bool:
    return len(text.lstrip("0")) <= MAX_DIGITS


def whole_number(value: str | int, low: int, high: int, what: str, example: int, *, why: str = "") -> int:
    """An integer in [low, high] written in ASCII digits, or a UsageError that says the range and why."""
    text = str(value)
    if not (_WHOLE.fullmatch(text) and _digits_ok(text) and low <= int(text) <= high):
        hint = (
            _(
                "use a whole number from {low} to {high} in digits 0-9 ({why}), for example {example}",
                low=low,
                high=high,
                why=why,
                example=example,
            )
            if why
            else _(
                "use a whole number from {low} to {high} in digits 0-9, for example {example}",
                low=low,
                high=high,
                example=example,
            )
        )
        raise UsageError(_("invalid {what} {value}", what=what, value=shown(text)), hint)
    return int(text)


# -- sizes and rates, as docker parses them (github.com/docker/go-units RAMInBytes) -----------------------

_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:(b)|([kmg])(?:i?b)?)?", re.ASCII | re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
SIZE_FORM = N_(
    "use a number in digits 0-9, with an optional fraction and an optional unit b, k, m or g "
    "(also kb, KiB, mb, MiB, gb, GiB; 1k = 1024 bytes), for example 64m"
)


def size_bytes(value: str, *, what: str | None = None) -> int:
    """`64m` -> 67108864. Units are binary, as in `docker run --memory`: k, m, g (also kb, MiB, ...).

    Computed with integers, so no value overflows a float; a fraction of a byte is dropped, as docker does.
    """
    match = _SIZE.fullmatch(value)
    if not match or not _digits_ok(match.group(1).partition(".")[0]):
        raise UsageError(_("invalid {what} {value}", what=what or _("size"), value=shown(value)), _(SIZE_FORM))
    number: str = match.group(1)
    scale = _UNITS[(match.group(2) or match.group(3) or "").lower()]
    whole, _dot, fraction = number.partition(".")
    fraction = fraction[:MAX_DIGITS]  # what a 31st digit adds is far below one byte, even in gigabytes
    divisor: int = 10 ** len(fraction)  # int ** int is typed Any (a negative power would be a float)
    return int(whole) * scale + (int(fraction or "0") * scale) // divisor


def format_bytes(value: float) -> str:
    """67108864 -> `64.0 MiB`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


MEMORY_MIN = 6 << 20  # docker's minimum for --memory
MEMORY_SHARE = 2  # a limit may take at most 1/MEMORY_SHARE of what the machine has available


def memory_available(meminfo: str | None = None) -> int | None:
    """MemAvailable from /proc/meminfo, in bytes: what can be allocated without swapping (Linux 3.14+)."""
    if meminfo is None:
        try:
            with open("/proc/meminfo", encoding="ascii") as f:
                meminfo = f.read()
        except OSError:
            return None  # not Linux: the demo stops with NotLinux before it allocates anything
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _docker_memory(value: str) -> int:
    """A size of at least docker's minimum for --memory."""
    limit = size_bytes(value, what=_("memory size"))
    if limit < MEMORY_MIN:
        raise UsageError(
            _(
                "memory limit {value} is below the minimum of {minimum}",
                value=shown(value),
                minimum=format_bytes(MEMORY_MIN),
            ),
            _("use 6m or more, for example 64m"),
        )
    return limit


def memory_limit(value: str, available: int | None = None) -> int:
    """A memory limit: at least 6 MiB, like docker's minimum, and at most half of MemAvailable.

    The upper bound protects the host: the demo's process allocates until it reaches the limit, so a limit
    above what the machine has free makes the *host* run out of memory (its OOM killer picks any process)
    before the cgroup's limit is ever reached. Half of MemAvailable leaves the other half to everything
    else that runs meanwhile.
    """
    limit = _docker_memory(value)
    free = memory_available() if available is None else available
    if free is not None and limit > free // MEMORY_SHARE:
        raise UsageError(
            _(
                "memory limit {value} ({limit}) is more than this machine can spare: "
                "MemAvailable in /proc/meminfo is {free}, and the demo's process would fill the "
                "limit, pushing the whole host into its OOM killer",
                value=shown(value),
                limit=format_bytes(limit),
                free=format_bytes(free),
            ),
            _(
                "use at most half of MemAvailable, {half} here, for example 64m",
                half=format_bytes(free // MEMORY_SHARE),
            ),
        )
    return limit


LIMIT_MAX = (1 << 63) - 1  # a cgroup limit file holds a signed 64-bit number of bytes


def container_memory(value: str) -> int:
    """`isodemo run --memory` and `--memory-swap`: docker's minimum (6 MiB), at most what a limit file holds.

    No bound by MemAvailable, unlike the cgroup-memory demo's --limit: nothing in a container sets out to fill
    its limit, and a limit above what the machine has caps nothing, as with docker.
    """
    limit = _docker_memory(value)
    if limit > LIMIT_MAX:
        raise UsageError(
            _("memory limit {value} is more than a cgroup can hold", value=shown(value)),
            _("use a size below 8 EiB (2**63 bytes), for example 64m"),
        )
    return limit


IO_RATE_MIN = 4096  # one 4 KiB block per second
IO_RATE_MAX = 64 << 20
IO_RATE_WHY = N_(
    "the demo writes and reads 3 seconds' worth at the limit on a loop device backed by a file in /tmp, "
    "and must show the same device more than 3 times faster without it"
)


def rate_bytes(value: str) -> int:
    """An I/O rate per second, `1mb` -> 1048576, as `docker run --device-write-bps /dev/sda:1mb` takes it."""
    rate = size_bytes(value, what=_("rate"))
    if not IO_RATE_MIN <= rate <= IO_RATE_MAX:
        raise UsageError(
            _(
                "rate {value} ({rate}/s) is outside 4k to 64m per second",
                value=shown(value),
                rate=format_bytes(rate),
            ),
            _("use a rate from 4k to 64m, for example 1mb: {why}", why=_(IO_RATE_WHY)),
        )
    return rate


def device_rate(value: str) -> tuple[str, int]:
    """`/dev/sda:1mb` -> ("/dev/sda", 1048576), the form of docker's --device-write-bps."""
    device, sep, rate = value.rpartition(":")
    if not sep or not device.startswith("/dev/"):
        raise UsageError(
            _("invalid device rate {value}", value=shown(value)), _("use DEVICE:RATE, for example /dev/sda:1mb")
        )
    return device, rate_bytes(rate)


CPUS_MIN = 0.01  # a quota of 1000 us per 100000 us period: the kernel refuses a quota below 1 ms


def cpus(value: str, available: int | None = None) -> float:
    """`--cpus 0.5`: how many CPUs' worth of time per period, a positive decimal up to the CPUs present.

    More than the CPUs present cannot be used (the demo starts one busy loop per CPU of quota, plus one).
    """
    import os

    if available is None:  # the CPUs this process may run on (taskset, cpuset), not all the machine has
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = available
    good = _DECIMAL.fullmatch(value) is not None and _digits_ok(value.partition(".")[0])
    if not (good and CPUS_MIN <= float(value) <= limit):
        raise UsageError(
            _("invalid --cpus value {value}", value=shown(value)),
            _(
                "use a decimal number in digits 0-9 from {low} to {high} (the CPUs this process may use: "
                "a quota above them cannot be used), for example 0.2",
                low=CPUS_MIN,
                high=limit,
            ),
        )
    return float(value)


PIDS_MAX = 4096  # plenty to see the refusal; each is a real process the demo forks


def free_task_slots() -> int | None:
    """How many more tasks this machine can start: the lower of pid_max and threads-max, less those running."""
    try:
        with open("/proc/sys/kernel/pid_max", encoding="ascii") as f:
            pid_max = int(f.read())
        with open("/proc/sys/kernel/threads-max", encoding="ascii") as f:
            threads_max = int(f.read())
        with open("/proc/loadavg", encoding="ascii") as f:
            tasks = int(f.read().split()[3].partition("/")[2])  # "running/total" tasks
    except (OSError, ValueError, IndexError):
        return None
    return min(pid_max, threads_max) - tasks


def pids_limit(value: str | int, free: int | None = None) -> int:
    """pids.max for the demo: 2 to 4096, and at most half of the task slots this machine has free.

    The demo forks up to that many processes: on a machine whose pid_max is nearly used up (32768 by
    default), forking them could leave other programs unable to start one.
    """
    slots = free_task_slots() if free is None else free
    high = PIDS_MAX if slots is None else max(2, min(PIDS_MAX, slots // 2))
    why = _("the demo forks that many real processes")
    if high < PIDS_MAX:
        why = _(
            "the demo forks that many real processes; at most half of the {slots} this machine can still start "
            "(kernel.pid_max, threads-max)",
            slots=slots,
        )
    return whole_number(value, 2, high, _("pids limit"), min(20, high), why=why)


RATE_MBIT_MAX = 1000


def rate_mbit(value: str | int) -> int:
    return whole_number(
        value,
        1,
        RATE_MBIT_MAX,
        _("rate in Mbit/s"),
        10,
        why=_("the demo measures a 3-second transfer at that rate through a veth pair"),
    )


IMAGE_REF_MAX = 255


def image_ref(value: str) -> str:
    """An image as `isodemo images` lists it (a name such as busybox or app:1.0, or an id): 1-255 ASCII
    characters, none of them a space or a control character, not starting with '-'."""
    ok = 0 < len(value) <= IMAGE_REF_MAX and value.isascii() and value.isprintable() and " " not in value
    if not ok or value.startswith("-"):
        raise UsageError(
            _("invalid image name {value}", value=shown(value)),
            _(
                "use a name or an id as `isodemo images` lists them: 1-{max} ASCII characters without spaces, "
                "for example busybox",
                max=IMAGE_REF_MAX,
            ),
        )
    return value


def port(value: str | int) -> int:
    return whole_number(value, 1024, 65535, _("port"), 8080, why=_("a TCP port above the privileged ones"))


def pid(value: str | int) -> int:
    """A process id: 1 to the kernel's pid_max (at most 2**22, PID_MAX_LIMIT in <linux/threads.h>)."""
    return whole_number(value, 1, 1 << 22, "pid", 1, why=_("a process id, as `ps -e` lists them"))


def subnet(value: str) -> ipaddress.IPv4Network:
    """--subnet 10.99.0.0/24: a private IPv4 /24."""
    import ipaddress

    net = None
    if value.isascii():  # ipaddress takes non-ASCII digits too
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            net = None
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen != 24 or not net.is_private:
        raise UsageError(
            _("invalid subnet {value}", value=shown(value)), _("use a private IPv4 /24, for example 10.99.0.0/24")
        )
    return net


CLOCK_OFFSET_MAX = 10 * 365 * 86400  # ten years: enough to see, far from the kernel's overflow limits


def clock_offset(value: str | int) -> int:
    """A time namespace offset, whole seconds, like unshare(1)'s --boottime and --monotonic."""
    return whole_number(
        value,
        0,
        CLOCK_OFFSET_MAX,
        _("clock offset (seconds)"),
        86400,
        why=_("ten years at most: enough to see, far from where the kernel's clocks overflow"),
    )


# -- files isodemo writes ---------------------------------------------------------------------------------

JSON_FILE_FORM = N_(
    "give a path ending in .json, in ASCII, in a directory that exists and where a file can be written, not a "
    "symlink (for example ./config.json)"
)


def json_file(value: str) -> str:
    """A JSON file to (over)write, such as `container --oci-config`: ASCII, no surrounding spaces, ending in
    `.json` (so that a typo such as `--oci-config --json` is not taken as a file name), in a directory that
    exists, and not a directory itself. The file is written when the demo gets there, not now."""
    import os

    directory = os.path.dirname(value) or "."
    if (
        not value.isascii()
        or not value.isprintable()
        or value != value.strip()
        or not value.endswith(".json")
        or os.path.basename(value) == ".json"
        or not os.path.isdir(directory)
        or os.path.isdir(value)
    ):
        raise UsageError(_("invalid file name {value}", value=shown(value)), _(JSON_FILE_FORM))
    problem = _not_writable(value)
    if problem:
        raise UsageError(_("cannot write {value}: {reason}", value=shown(value), reason=problem), _(JSON_FILE_FORM))
    return value


def _not_writable(path: str) -> str:
    """Why `path` could not be written as a regular file, found now rather than after the demo: "" when it
    can. An existing file must be a regular one, not a symlink; a new one is created and removed again
    (O_EXCL, O_NOFOLLOW), which also finds a directory such as /proc where root may not create files."""
    import os
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as error:
            return error.strerror or str(error)
        os.close(fd)
        os.unlink(path)
        return ""
    except OSError as error:
        return error.strerror or str(error)
    if not stat.S_ISREG(st.st_mode):
        return _("not a regular file")
    if not os.access(path, os.W_OK):
        return os.strerror(13)  # EACCES
    return ""
