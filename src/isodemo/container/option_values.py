"""`isodemo run`: one option's value, checked and set on the line (set_value), with docker's words when it is
bad: a RunError (exit 125, as `docker run`) whose message names the option and its whole value,
`invalid argument "12XB" for "-m, --memory" flag: ...`. Values that name something of the host (a block
device, a port, a path, isodemo's environment) are checked by container/host_values.py.

container/argv.py imports this module only when an option with a value is given, or a line is bad: a plain
`isodemo run busybox /bin/true` needs none of it. Sizes, numbers and host names are isodemo.values' parsers
(and its `re`), imported only when such an option is given.
"""

from __future__ import annotations

import os

from isodemo.container.options import FALSE, TRUE, Option
from isodemo.container.spec import NETWORKS
from isodemo.i18n import N_, _

TYPE_CHECKING = False  # `typing` costs ~7 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from isodemo.container.argv import Line
    from isodemo.errors import RunError

    T = TypeVar("T")

SEE_HELP = N_("see `isodemo run --help`")

NAME_MAX = 128  # container names: they become part of directory and cgroup names (NAME_MAX is 255)
UID_MAX = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to setresuid(2)
CPU_SHARES_MIN, CPU_SHARES_MAX = 2, 262144  # the kernel's range for cpu.shares (docker's too)
PIDS_MAX = 1 << 22  # PID_MAX_LIMIT in <linux/threads.h>: pids.max above it limits nothing more
STOP_TIMEOUT_MAX = 86400  # a day


# -- errors ------------------------------------------------------------------------------------------------


def run_error(message: str, hint: str | None = None) -> RunError:
    """run's error for a bad line (exit 125); its hint, unless another is given, points to the help."""
    from isodemo.errors import RunError

    return RunError(message, hint or _(SEE_HELP))


def shown(value: str) -> str:
    """A value as a message quotes it (isodemo.values.shown): repr, cut short when very long."""
    from isodemo import values

    return values.shown(value)


def invalid(option: Option, value: str, problem: str, hint: str | None = None) -> RunError:
    """docker's words: `invalid argument "12XB" for "-m, --memory" flag: ...`."""
    return run_error(
        _(
            'invalid argument {value} for "{flag}" flag: {problem}',
            value=shown(value),
            flag=option.label,
            problem=problem,
        ),
        hint,
    )


def checked(option: Option, value: str, parser: Callable[[str], T], text: str | None = None) -> T:
    """`parser(text)` (by default the option's whole value), one of isodemo.values' parsers; its UsageError
    (exit 2 for a demo) becomes run's RunError (125), naming the option and its whole value."""
    from isodemo.errors import UsageError

    try:
        return parser(value if text is None else text)
    except UsageError as error:
        raise invalid(option, value, error.message, error.hint) from None


def whole(
    option: Option, value: str, what: str, bounds: tuple[int, int, int], *, why: str = "", text: str | None = None
) -> int:
    """A whole number (values.whole_number) within `bounds`, (low, high, an example), in `text` or else in the
    whole value."""
    from isodemo import values

    low, high, example = bounds
    return checked(option, value, lambda number: values.whole_number(number, low, high, what, example, why=why), text)


# -- one option's value ------------------------------------------------------------------------------------


def set_value(line: Line, option: Option, value: str) -> None:
    """Check `value`, given to `option` (one that takes a value), and set what it says on the line (argv.Line):
    the field that RunSpec will hold."""
    from isodemo.container import host_values

    key = option.key
    if key == "rootfs":
        if not os.path.isdir(value):
            raise invalid(option, value, _("not a directory"), _("give the directory of a root filesystem"))
        line.rootfs = os.path.abspath(value)
    elif key == "name":
        line.name = container_name(option, value)
    elif key == "hostname":
        from isodemo import values

        line.hostname = checked(option, value, values.hostname)
    elif key == "memory":
        line.memory = memory(option, value)
    elif key == "memory_swap":
        line.memory_swap = -1 if value == "-1" else memory(option, value)
    elif key == "cpus":
        from isodemo import values

        line.cpus = checked(option, value, values.cpus)
    elif key == "cpu_shares":
        why = _("the kernel's range for cpu.shares; 0 is the default")
        bounds = (CPU_SHARES_MIN, CPU_SHARES_MAX, 512)
        shares = 0 if value == "0" else whole(option, value, _("CPU shares"), bounds, why=why)
        line.cpu_shares = shares or None
    elif key == "pids_limit":
        why = _("-1 or 0: no limit")
        bounds = (1, PIDS_MAX, 100)
        limit = 0 if value in ("-1", "0") else whole(option, value, _("pids limit"), bounds, why=why)
        line.pids_limit = limit or None
    elif key == "device_write_bps":
        line.device_write_bps.append(host_values.device_rate(option, value))
    elif key == "network":
        if value not in NETWORKS:
            raise invalid(option, value, _("not a network mode"), _("use none, bridge or host"))
        line.network, line.network_given = value, True
    elif key == "pid":
        if value != "host":
            raise invalid(option, value, _("only host is known"), _("use --pid host, or leave it out"))
        line.pid_host = True
    elif key == "publish":
        line.publish.append(host_values.publish(option, value))
    elif key == "volume":
        line.volumes.append(host_values.volume(option, value))
    elif key == "cap_add":
        line.cap_add.append(capability(option, value))
    elif key == "cap_drop":
        line.cap_drop.append(capability(option, value))
    elif key == "security_opt":
        setting, on = security_opt(option, value)
        if setting == "seccomp":
            line.seccomp = on
        else:
            line.no_new_privileges = on
    elif key == "env":
        variable = host_values.env(option, value, line.environ)
        if variable is not None:
            line.env.append(variable)
    elif key == "env_file":
        line.env_files += host_values.env_file(option, value, line.environ)
    elif key == "workdir":
        if not value.startswith("/"):
            raise invalid(option, value, _("not an absolute path"), _("use an absolute path, for example /tmp"))
        line.workdir = os.path.normpath(value)
    elif key == "user":
        line.user = user(option, value)
    elif key == "stop_timeout":
        bounds = (0, STOP_TIMEOUT_MAX, 10)
        line.stop_timeout = float(whole(option, value, _("stop timeout"), bounds))
    elif key == "lang":
        if value not in ("en", "ko"):
            raise invalid(option, value, _("not a language isodemo speaks"), _("use en or ko"))
        line.extra["lang"] = value


def container_name(option: Option, value: str) -> str:
    """docker's rule for names, [a-zA-Z0-9][a-zA-Z0-9_.-]+, and at most 128 characters."""
    good = 2 <= len(value) <= NAME_MAX and value.isascii() and value[0].isalnum()
    if not (good and all(char.isalnum() or char in "_.-" for char in value)):
        raise invalid(
            option,
            value,
            _("not a container name"),
            _(
                "use 2-{max} ASCII letters, digits, '_', '.' and '-', starting with a letter or a digit, "
                "for example web-1",
                max=NAME_MAX,
            ),
        )
    return value


def memory(option: Option, value: str) -> int:
    from isodemo import values

    return checked(option, value, values.container_memory)


def capability(option: Option, value: str) -> str:
    """As docker: any case, with or without CAP_; the names themselves are checked by container/security.py."""
    name = value.upper() if value.isascii() else value
    if name.startswith("CAP_"):
        name = name[4:]
    if not name:
        raise invalid(option, value, _("no capability name"), _("use a name such as NET_ADMIN, or ALL"))
    return name


def user(option: Option, value: str) -> tuple[int, int | None]:
    uid_text, colon, gid_text = value.partition(":")
    if any(char.isalpha() for char in value):
        raise invalid(
            option,
            value,
            _("user and group names are not looked up"),
            _("give numeric ids, for example -u 1000:1000 (`id` shows yours)"),
        )
    uid = whole(option, value, _("user id"), (0, UID_MAX, 1000), text=uid_text)
    gid = whole(option, value, _("group id"), (0, UID_MAX, 1000), text=gid_text) if colon else None
    return uid, gid


def security_opt(option: Option, value: str) -> tuple[str, bool]:
    """no-new-privileges[:true|false] (also with =), seccomp=unconfined (also with :), as docker takes them:
    ("no_new_privileges", on) or ("seccomp", False)."""
    if value == "no-new-privileges":
        return "no_new_privileges", True
    key, sep, setting = value.partition("=")
    if not sep:
        key, sep, setting = value.partition(":")
    if key == "no-new-privileges" and sep:
        if setting not in TRUE + FALSE:
            raise invalid(option, value, _("not a boolean"), _("use no-new-privileges, or :true or :false after it"))
        return "no_new_privileges", setting in TRUE
    if key == "seccomp" and sep:
        if setting != "unconfined":
            raise invalid(
                option,
                value,
                _("seccomp profiles are not read: isodemo's filter is built in"),
                _("use seccomp=unconfined to run without a filter"),
            )
        return "seccomp", False
    raise invalid(
        option,
        value,
        _("not a security option isodemo knows"),
        _("use no-new-privileges[:true|false] or seccomp=unconfined"),
    )
