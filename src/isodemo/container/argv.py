"""`isodemo run`'s command line, read the way `docker run` reads it, into a RunSpec.

Docker's rules (its flag parser stops at the first argument that is not an option): options come first,
up to IMAGE; everything after IMAGE is the command and its arguments, options included, so
`isodemo run busybox ls -l` runs `ls -l`. A `--` among the options ends them and is dropped, and so is one
right after IMAGE. With `--rootfs DIR` there is no IMAGE: the first word after the options is the command.
Values come as `--name value` or `--name=value`; short flags combine (`-it`) and take a value attached
(`-m64m`, `-e=K=V`) or as the next word. `-h` is --hostname, as in docker (`--help` is the help).

Every value is checked here, as isodemo.values checks the demos' options: what container/runtime.py gets is
valid input, and what is left to fail is the machine. A bad one is a RunError (exit 125, as `docker run`)
whose message names the option. Nothing here imports click, argparse or re: this module is on the path of
`isodemo run busybox /bin/true`, which must start faster than runc; isodemo.values (and its `re`) and
isodemo.errors are imported only when an option needs them.
"""

from __future__ import annotations

import os

from isodemo.container.spec import DEFAULT_STOP_TIMEOUT, NETWORKS, Publish, RunSpec, Volume
from isodemo.i18n import N_, _

TYPE_CHECKING = False  # `typing` costs ~7 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeVar

    from isodemo.errors import RunError

    T = TypeVar("T")

USAGE = "isodemo run [OPTIONS] IMAGE [COMMAND [ARG...]]"
USAGE_ROOTFS = "isodemo run [OPTIONS] --rootfs DIR COMMAND [ARG...]"
SEE_HELP = N_("see `isodemo run --help`")

TRUE = ("1", "t", "T", "TRUE", "true", "True")  # what docker takes for a boolean (Go's strconv.ParseBool)
FALSE = ("0", "f", "F", "FALSE", "false", "False")

NAME_MAX = 128  # container names: they become part of directory and cgroup names (NAME_MAX is 255)
UID_MAX = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to setresuid(2)
CPU_SHARES_MIN, CPU_SHARES_MAX = 2, 262144  # the kernel's range for cpu.shares (docker's too)
PIDS_MAX = 1 << 22  # PID_MAX_LIMIT in <linux/threads.h>: pids.max above it limits nothing more
STOP_TIMEOUT_MAX = 86400  # a day
ENV_FILE_MAX = 1 << 20  # an environment file is a few lines; this keeps `--env-file /dev/zero` finite


class HelpRequested(Exception):
    """`--help` among the options: nothing else is parsed; the caller prints help_text() and exits 0."""


class _Stop(Exception):
    """A malformed command line, found while splitting it; parse() turns it into a RunError. A plain
    exception, so that peek() needs neither isodemo.errors nor a translated message."""

    def __init__(self, kind: str, flag: str, word: str = "") -> None:
        super().__init__(kind)
        self.kind = kind  # "unknown", "unknown-short", "needs-value", "needs-value-short"
        self.flag = flag
        self.word = word


class Option:
    """One option of `isodemo run`: its names, the form of its value, one line of help."""

    __slots__ = ("help", "key", "long", "metavar", "short", "takes_value")

    def __init__(self, key: str, long: tuple[str, ...], short: str, metavar: str, help_text: str) -> None:
        self.key = key
        self.long = long  # without the leading --; the first is the name docker gives it
        self.short = short  # one letter, or ""
        self.metavar = metavar  # "" for a flag; "[=host]" for --userns, whose value is optional
        self.takes_value = bool(metavar) and not metavar.startswith("[=")
        self.help = help_text  # marked with N_()

    @property
    def label(self) -> str:
        """How docker names a flag in its messages: `-m, --memory`."""
        names = [f"-{self.short}"] if self.short else []
        return ", ".join([*names, *(f"--{name}" for name in self.long)])

    @property
    def synopsis(self) -> str:
        """The left column of the help: `-m, --memory SIZE`."""
        if not self.metavar or self.metavar.startswith("[="):
            return self.label + self.metavar
        return f"{self.label} {self.metavar}"


OPTIONS: tuple[Option, ...] = (
    Option("rootfs", ("rootfs",), "", "DIR", N_("A root filesystem directory, instead of IMAGE.")),
    Option("name", ("name",), "", "NAME", N_("The container's name: letters, digits, _ . -")),
    Option("hostname", ("hostname",), "h", "NAME", N_("The container's hostname (RFC 1123).")),
    Option("memory", ("memory",), "m", "SIZE", N_("Memory limit, 6m or more (64m, 1.5g).")),
    Option("memory_swap", ("memory-swap",), "", "SIZE", N_("Memory plus swap limit (-1: unlimited swap).")),
    Option("cpus", ("cpus",), "", "CPUS", N_("CPU quota in CPUs (0.5: half of one CPU).")),
    Option("cpu_shares", ("cpu-shares",), "c", "N", N_("CPU weight, 2 to 262144 (1024 is the default).")),
    Option("pids_limit", ("pids-limit",), "", "N", N_("Most processes at once (-1: no limit).")),
    Option(
        "device_write_bps", ("device-write-bps",), "", "DEV:RATE", N_("Write limit on a block device (/dev/sda:1mb).")
    ),
    Option("network", ("network", "net"), "", "MODE", N_("none (the default), bridge or host.")),
    Option("pid", ("pid",), "", "host", N_("Share the host's PID namespace.")),
    Option("publish", ("publish",), "p", "HOST:CONTAINER", N_("Forward a TCP port of the host to the container.")),
    Option("volume", ("volume",), "v", "SRC:DST[:ro]", N_("Bind mount the host path SRC at DST inside.")),
    Option("userns", ("userns",), "", "[=host]", N_("Root inside a new user namespace (=host: none).")),
    Option("cap_add", ("cap-add",), "", "CAP", N_("Add a capability (NET_ADMIN, ... or ALL).")),
    Option("cap_drop", ("cap-drop",), "", "CAP", N_("Drop a capability (CHOWN, ... or ALL).")),
    Option("privileged", ("privileged",), "", "", N_("Every capability, no seccomp, no masked paths.")),
    Option("security_opt", ("security-opt",), "", "OPT", N_("no-new-privileges or seccomp=unconfined.")),
    Option("init", ("init",), "", "", N_("Run a tiny init as PID 1 that reaps zombies.")),
    Option("env", ("env",), "e", "K=V", N_("Set a variable (K alone: its value here).")),
    Option("env_file", ("env-file",), "", "FILE", N_("Read K=V lines from FILE (# starts a comment).")),
    Option("workdir", ("workdir",), "w", "DIR", N_("The command's working directory (absolute).")),
    Option("user", ("user",), "u", "UID[:GID]", N_("Run the command as this numeric user and group.")),
    Option("stop_timeout", ("stop-timeout",), "", "SECONDS", N_("Seconds from SIGTERM to SIGKILL (default 10).")),
    Option("interactive", ("interactive",), "i", "", N_("Keep stdin open for the command.")),
    Option("tty", ("tty",), "t", "", N_("Give the command a terminal (a pty): -it.")),
    Option("rm", ("rm",), "", "", N_("Accepted: a run always removes its container.")),
    Option("detach", ("detach",), "d", "", N_("Refused: a run stays in the foreground.")),
    Option("verbose", ("verbose",), "", "", N_("Show each step taken, with its syscall.")),
    Option("json", ("json",), "", "", N_("Print one JSON object of facts at the end.")),
    Option("plain", ("plain",), "", "", N_("No colour or boxes (automatic without a terminal or with NO_COLOR).")),
    Option("color", ("color",), "", "", N_("Colour and boxes even without a terminal.")),
    Option("lang", ("lang",), "", "[en|ko]", N_("Language of the narration (facts and JSON keys stay).")),
    Option("help", ("help",), "", "", N_("Show this message and exit.")),
)
# isodemo's global options for demos: accepted on the line (so the message can say why), never in the help.
DEMO_ONLY = (Option("demo_only", ("step", "hold"), "", "", ""),)

_LONG = {name: option for option in OPTIONS + DEMO_ONLY for name in option.long}
_SHORT = {option.short: option for option in OPTIONS if option.short}


def _read(args: list[str], take: Callable[[Option, str, str | None], None]) -> int:
    """Call take(option, flag, value) for each option before IMAGE, in order, and return the index of the first
    word that is not an option. `value` is None for a flag given alone (`--rm`, `-i`). A `--` ends the options
    and is skipped. Raises _Stop at an unknown option or a missing value."""
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return index + 1
        if len(word) < 2 or word[0] != "-":
            return index
        index += 1
        if word[1] == "-":
            name, equals, value = word[2:].partition("=")
            option = _LONG.get(name)
            if option is None:
                raise _Stop("unknown", word.partition("=")[0])
            if equals:
                take(option, f"--{name}", value)
            elif option.takes_value:
                if index >= len(args):
                    raise _Stop("needs-value", f"--{name}")
                take(option, f"--{name}", args[index])
                index += 1
            elif option.key == "userns" and args[index : index + 1] == ["host"]:  # docker's `--userns host`
                take(option, f"--{name}", "host")
                index += 1
            else:
                take(option, f"--{name}", None)
            continue
        position = 1
        while position < len(word):  # -it, -m64m, -e=K=V, -ie K=V: as docker's flag parser groups them
            letter = word[position]
            option = _SHORT.get(letter)
            if option is None:
                raise _Stop("unknown-short", letter, word)
            rest = word[position + 1 :]
            if len(rest) >= 2 and rest[0] == "=":
                take(option, f"-{letter}", rest[1:])
                break
            if option.takes_value:
                if rest:
                    take(option, f"-{letter}", rest)
                elif index < len(args):
                    take(option, f"-{letter}", args[index])
                    index += 1
                else:
                    raise _Stop("needs-value-short", letter, word)
                break
            take(option, f"-{letter}", None)
            position += 1
    return index


def peek(args: list[str]) -> dict[str, str]:
    """The global options among the options (before IMAGE), as far as the line can be read, without checking
    anything: {"json": "true", "lang": "ko", "plain": "true", "color": "true", "help": "true"}, each key only
    when given. For the caller to choose the language and the output before parse() says what is wrong."""
    found: dict[str, str] = {}

    def take(option: Option, flag: str, value: str | None) -> None:
        if option.key == "lang" and value is not None:
            found["lang"] = value
        elif option.key in ("json", "plain", "color", "help"):
            if value is None or value in TRUE:
                found[option.key] = "true"
            else:
                found.pop(option.key, None)

    try:
        _read(args, take)
    except _Stop:
        return found  # what came before the word it could not read
    return found


def wants_help(args: list[str]) -> bool:
    """`--help` among the options (not after IMAGE, where it is the command's)."""
    return "help" in peek(args)


# -- errors ------------------------------------------------------------------------------------------------


def _error(message: str, hint: str | None = None) -> RunError:
    from isodemo.errors import RunError

    return RunError(message, hint or _(SEE_HELP))


def _shown(value: str) -> str:
    from isodemo.values import shown

    return shown(value)


def _invalid(option: Option, value: str, problem: str, hint: str | None = None) -> RunError:
    """docker's words: `invalid argument "12XB" for "-m, --memory" flag: ...`."""
    return _error(
        _(
            'invalid argument {value} for "{flag}" flag: {problem}',
            value=_shown(value),
            flag=option.label,
            problem=problem,
        ),
        hint,
    )


def _syntax(stop: _Stop) -> RunError:
    if stop.kind == "unknown":
        return _error(_("unknown flag: {flag}", flag=stop.flag), _("`isodemo run --help` lists the options"))
    if stop.kind == "unknown-short":
        return _error(
            _("unknown shorthand flag: {letter} in {word}", letter=repr(stop.flag), word=_shown(stop.word)),
            _("`isodemo run --help` lists the options"),
        )
    if stop.kind == "needs-value":
        return _error(_("flag needs an argument: {flag}", flag=stop.flag))
    hint = None
    if stop.flag == "h":
        hint = _("-h is --hostname here, as in docker; `isodemo run --help` shows the help")
    return _error(_("flag needs an argument: {letter} in {word}", letter=repr(stop.flag), word=_shown(stop.word)), hint)


def _checked(option: Option, value: str, parser: Callable[[str], T], text: str | None = None) -> T:
    """`parser(text)` (by default the option's whole value), one of isodemo.values' parsers; its UsageError
    (exit 2 for a demo) becomes run's RunError (125), naming the option and its whole value."""
    from isodemo.errors import UsageError

    try:
        return parser(value if text is None else text)
    except UsageError as error:
        raise _invalid(option, value, error.message, error.hint) from None


def _whole(
    option: Option, value: str, what: str, bounds: tuple[int, int, int], *, why: str = "", text: str | None = None
) -> int:
    """A whole number (values.whole_number) within `bounds`, (low, high, an example), in `text` or else in the
    whole value."""
    from isodemo import values

    low, high, example = bounds
    return _checked(option, value, lambda number: values.whole_number(number, low, high, what, example, why=why), text)


# -- one option's value ------------------------------------------------------------------------------------


def _boolean(option: Option, value: str | None) -> bool:
    if value is None or value in TRUE:
        return True
    if value in FALSE:
        return False
    raise _invalid(option, value, _("not a boolean"), _("use true or false, or the flag alone"))


def _container_name(option: Option, value: str) -> str:
    """docker's rule for names, [a-zA-Z0-9][a-zA-Z0-9_.-]+, and at most 128 characters."""
    good = 2 <= len(value) <= NAME_MAX and value.isascii() and value[0].isalnum()
    if not (good and all(char.isalnum() or char in "_.-" for char in value)):
        raise _invalid(
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


def _memory(option: Option, value: str) -> int:
    from isodemo import values

    return _checked(option, value, values.container_memory)


def _device_rate(option: Option, value: str) -> tuple[str, int]:
    """`/dev/sda:1mb` or `8:0:1mb`: a block device (by path or MAJ:MIN) and bytes per second, at least 4k."""
    import stat

    from isodemo import values

    device, colon, rate_text = value.rpartition(":")
    hint = _("use DEVICE:RATE with a block device, for example /dev/sda:1mb")
    if not colon or not device:
        raise _invalid(option, value, _("not DEVICE:RATE"), hint)
    if device.startswith("/"):
        try:
            is_block = stat.S_ISBLK(os.stat(device).st_mode)
        except (OSError, ValueError):
            is_block = False
        if not is_block:
            raise _invalid(option, value, _("{device} is not a block device", device=_shown(device)), hint)
    else:
        major, colon, minor = device.partition(":")
        if not (colon and _small_number(major) and _small_number(minor)):
            raise _invalid(
                option, value, _("{device} is neither a device path nor MAJ:MIN", device=_shown(device)), hint
            )
    rate = _checked(option, value, lambda text: values.size_bytes(text, what=_("rate")), rate_text)
    if rate < values.IO_RATE_MIN:
        raise _invalid(option, value, _("rate {value} is below 4k per second", value=_shown(rate_text)), hint)
    if rate > values.LIMIT_MAX:
        raise _invalid(option, value, _("rate {value} is more than a cgroup can hold", value=_shown(rate_text)), hint)
    return device, rate


def _small_number(text: str) -> bool:
    return 0 < len(text) <= 10 and text.isascii() and text.isdigit()


def _publish(option: Option, value: str) -> Publish:
    """HOST:CONTAINER[/tcp]: docker's other forms (an address, a range, one port, udp) are refused."""
    ports, slash, protocol = value.partition("/")
    hint = _("use HOST:CONTAINER with two TCP ports, for example -p 8080:80")
    if slash and protocol != "tcp":
        raise _invalid(option, value, _("only TCP ports are published"), hint)
    parts = ports.split(":")
    if len(parts) != 2:
        raise _invalid(option, value, _("give the host's port and the container's, and nothing else"), hint)
    host, container = (_whole(option, value, _("port"), (1, 65535, 8080), text=part) for part in parts)
    return Publish(host, container)


def _volume(option: Option, value: str) -> Volume:
    """SRC:DST[:ro|:rw], both absolute, SRC existing; docker's named and anonymous volumes are refused."""
    hint = _("use SRC:DST[:ro] with absolute paths, for example -v /srv/data:/data:ro")
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise _invalid(option, value, _("give the host path and the path inside: SRC:DST[:ro]"), hint)
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise _invalid(option, value, _("unknown mode {mode}", mode=_shown(mode)), _("use :ro or :rw"))
    if not source.startswith("/"):
        raise _invalid(option, value, _("the host path must be absolute (there are no named volumes)"), hint)
    if not os.path.exists(source):
        raise _invalid(option, value, _("the host path {path} does not exist", path=_shown(source)), hint)
    if not target.startswith("/"):
        raise _invalid(option, value, _("the path inside the container must be absolute"), hint)
    target = os.path.normpath(target)
    if target in ("/", "//"):
        raise _invalid(option, value, _("a volume cannot be mounted over the container's /"), hint)
    return Volume(os.path.normpath(source), target, mode == "ro")


def _capability(option: Option, value: str) -> str:
    """As docker: any case, with or without CAP_; the names themselves are checked by container/security.py."""
    name = value.upper() if value.isascii() else value
    if name.startswith("CAP_"):
        name = name[4:]
    if not name:
        raise _invalid(option, value, _("no capability name"), _("use a name such as NET_ADMIN, or ALL"))
    return name


def _user(option: Option, value: str) -> tuple[int, int | None]:
    uid_text, colon, gid_text = value.partition(":")
    if any(char.isalpha() for char in value):
        raise _invalid(
            option,
            value,
            _("user and group names are not looked up"),
            _("give numeric ids, for example -u 1000:1000 (`id` shows yours)"),
        )
    uid = _whole(option, value, _("user id"), (0, UID_MAX, 1000), text=uid_text)
    gid = _whole(option, value, _("group id"), (0, UID_MAX, 1000), text=gid_text) if colon else None
    return uid, gid


def _env(option: Option, value: str, environ: Mapping[str, str]) -> str | None:
    """K=V as given; K alone takes K's value from isodemo's environment, and is left out when K is not set
    there (docker does the same)."""
    name, equals, _value = value.partition("=")
    if not name:
        raise _invalid(option, value, _("no variable name"), _("use K=V, or K alone to pass K's value from here"))
    if equals:
        return value
    return f"{name}={environ[name]}" if name in environ else None


def _env_file(option: Option, path: str, environ: Mapping[str, str]) -> list[str]:
    """docker's --env-file format: a K=V per line, its value taken as written (no quotes, no trimming); blank
    lines and lines starting with # skipped; leading whitespace dropped; K alone takes its value from isodemo's
    environment; a name with whitespace in it is refused (`export K=V` included)."""
    hint = _("give a readable file of K=V lines, for example one written by `env`")
    try:
        with open(path, "rb") as source:
            data = source.read(ENV_FILE_MAX + 1)
    except OSError as error:
        raise _invalid(option, path, error.strerror or str(error), hint) from None
    if len(data) > ENV_FILE_MAX:
        raise _invalid(option, path, _("the file is larger than 1 MiB"), hint)
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line_bytes = raw[:-1] if raw.endswith(b"\r") else raw
        if number == 1 and line_bytes.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
            line_bytes = line_bytes[3:]
        try:
            line = line_bytes.decode("utf-8").lstrip()
        except UnicodeDecodeError:
            raise _invalid(option, path, _("line {number} is not UTF-8", number=number), hint) from None
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not name:
            raise _invalid(option, path, _("line {number} has no variable name", number=number), hint)
        if " " in name or "\t" in name:
            raise _invalid(
                option,
                path,
                _("line {number}: the variable name {name} contains whitespace", number=number, name=_shown(name)),
                hint,
            )
        if "\0" in line:
            raise _invalid(option, path, _("line {number} contains a NUL byte", number=number), hint)
        if equals:
            found.append(f"{name}={value}")
        elif name in environ:
            found.append(f"{name}={environ[name]}")
    return found


def _security_opt(option: Option, value: str, line: _Line) -> None:
    """no-new-privileges[:true|false] (also with =), seccomp=unconfined (also with :), as docker takes them."""
    if value == "no-new-privileges":
        line.no_new_privileges = True
        return
    key, sep, setting = value.partition("=")
    if not sep:
        key, sep, setting = value.partition(":")
    if key == "no-new-privileges" and sep:
        if setting not in TRUE + FALSE:
            raise _invalid(option, value, _("not a boolean"), _("use no-new-privileges, or :true or :false after it"))
        line.no_new_privileges = setting in TRUE
    elif key == "seccomp" and sep:
        if setting != "unconfined":
            raise _invalid(
                option,
                value,
                _("seccomp profiles are not read: isodemo's filter is built in"),
                _("use seccomp=unconfined to run without a filter"),
            )
        line.seccomp = False
    else:
        raise _invalid(
            option,
            value,
            _("not a security option isodemo knows"),
            _("use no-new-privileges[:true|false] or seccomp=unconfined"),
        )


# -- the whole line ----------------------------------------------------------------------------------------


class _Line:
    """What the options said so far: RunSpec's fields, and whether --network was given."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.rootfs: str | None = None
        self.name: str | None = None
        self.hostname: str | None = None
        self.memory: int | None = None
        self.memory_swap: int | None = None
        self.cpus: float | None = None
        self.cpu_shares: int | None = None
        self.pids_limit: int | None = None
        self.device_write_bps: list[tuple[str, int]] = []
        self.network = "none"
        self.network_given = False
        self.pid_host = False
        self.userns = False
        self.publish: list[Publish] = []
        self.volumes: list[Volume] = []
        self.cap_add: list[str] = []
        self.cap_drop: list[str] = []
        self.privileged = False
        self.no_new_privileges = False
        self.seccomp = True
        self.init = False
        self.env_files: list[str] = []
        self.env: list[str] = []
        self.workdir: str | None = None
        self.user: tuple[int, int | None] | None = None
        self.interactive = False
        self.tty = False
        self.stop_timeout = DEFAULT_STOP_TIMEOUT
        self.verbose = False
        self.json = False
        self.extra: dict[str, str] = {}

    def take(self, option: Option, flag: str, value: str | None) -> None:
        key = option.key
        if value is not None and "\0" in value:
            raise _invalid(option, value, _("it contains a NUL byte"))
        if key == "help":
            if _boolean(option, value):
                raise HelpRequested
            return
        if value is None or not option.takes_value:
            self._flag(option, flag, value)
            return
        from isodemo import values

        if key == "rootfs":
            if not os.path.isdir(value):
                raise _invalid(option, value, _("not a directory"), _("give the directory of a root filesystem"))
            self.rootfs = os.path.abspath(value)
        elif key == "name":
            self.name = _container_name(option, value)
        elif key == "hostname":
            self.hostname = _checked(option, value, values.hostname)
        elif key == "memory":
            self.memory = _memory(option, value)
        elif key == "memory_swap":
            self.memory_swap = -1 if value == "-1" else _memory(option, value)
        elif key == "cpus":
            self.cpus = _checked(option, value, values.cpus)
        elif key == "cpu_shares":
            why = _("the kernel's range for cpu.shares; 0 is the default")
            shares = (
                0
                if value == "0"
                else _whole(option, value, _("CPU shares"), (CPU_SHARES_MIN, CPU_SHARES_MAX, 512), why=why)
            )
            self.cpu_shares = shares or None
        elif key == "pids_limit":
            why = _("-1 or 0: no limit")
            limit = 0 if value in ("-1", "0") else _whole(option, value, _("pids limit"), (1, PIDS_MAX, 100), why=why)
            self.pids_limit = limit or None
        elif key == "device_write_bps":
            self.device_write_bps.append(_device_rate(option, value))
        elif key == "network":
            if value not in NETWORKS:
                raise _invalid(option, value, _("not a network mode"), _("use none, bridge or host"))
            self.network, self.network_given = value, True
        elif key == "pid":
            if value != "host":
                raise _invalid(option, value, _("only host is known"), _("use --pid host, or leave it out"))
            self.pid_host = True
        elif key == "publish":
            self.publish.append(_publish(option, value))
        elif key == "volume":
            self.volumes.append(_volume(option, value))
        elif key == "cap_add":
            self.cap_add.append(_capability(option, value))
        elif key == "cap_drop":
            self.cap_drop.append(_capability(option, value))
        elif key == "security_opt":
            _security_opt(option, value, self)
        elif key == "env":
            variable = _env(option, value, self.environ)
            if variable is not None:
                self.env.append(variable)
        elif key == "env_file":
            self.env_files += _env_file(option, value, self.environ)
        elif key == "workdir":
            if not value.startswith("/"):
                raise _invalid(option, value, _("not an absolute path"), _("use an absolute path, for example /tmp"))
            self.workdir = os.path.normpath(value)
        elif key == "user":
            self.user = _user(option, value)
        elif key == "stop_timeout":
            self.stop_timeout = float(_whole(option, value, _("stop timeout"), (0, STOP_TIMEOUT_MAX, 10)))
        elif key == "lang":
            if value not in ("en", "ko"):
                raise _invalid(option, value, _("not a language isodemo speaks"), _("use en or ko"))
            self.extra["lang"] = value

    def _flag(self, option: Option, flag: str, value: str | None) -> None:
        key = option.key
        if key == "demo_only":
            raise _error(
                _("{flag} is not an option of isodemo run", flag=flag),
                _(
                    "--step and --hold pause a demo's narration, and a run has none; "
                    "`isodemo run --help` lists its options"
                ),
            )
        if key == "userns":
            if value is not None and value not in ("host", "private"):
                raise _invalid(
                    option, value, _("not a user namespace mode"), _("use --userns, or --userns=host for none")
                )
            self.userns = value != "host"
            return
        on = _boolean(option, value)
        if key == "detach":
            if on:
                raise _error(
                    _("isodemo run has no detached mode (-d)"),
                    _(
                        "a run stays in the foreground and removes its container when the command ends; "
                        "start it in the background with the shell's & instead"
                    ),
                )
        elif key in ("plain", "color"):
            if on:
                self.extra[key] = "true"
            else:
                self.extra.pop(key, None)
        elif key == "privileged":
            self.privileged = on
        elif key == "init":
            self.init = on
        elif key == "interactive":
            self.interactive = on
        elif key == "tty":
            self.tty = on
        elif key == "verbose":
            self.verbose = on
        elif key == "json":
            self.json = on
        # rm: accepted and without effect, a run always removes its container

    def check(self) -> None:
        """What only the whole line can say: options that need or contradict each other."""
        if self.memory_swap is not None:
            if self.memory is None:
                raise _error(
                    _("--memory-swap needs --memory: it limits memory plus swap"),
                    _("give both, for example --memory 64m --memory-swap 128m"),
                )
            if self.memory_swap != -1 and self.memory_swap < self.memory:
                raise _error(
                    _("--memory-swap is below --memory: it counts memory plus swap"),
                    _("use at least the size of --memory, or -1 for unlimited swap"),
                )
        if self.publish:
            if not self.network_given:
                self.network = "bridge"  # docker's default network is a bridge: -p alone works there too
            elif self.network != "bridge":
                raise _error(
                    _(
                        "-p publishes a port of the container's own network: it needs --network bridge, not {network}",
                        network=self.network,
                    ),
                    _("use --network bridge, or leave --network out"),
                )
        host_ports = [published.host_port for published in self.publish]
        for port in host_ports:
            if host_ports.count(port) > 1:
                raise _error(_("host port {port} is published twice", port=port), _("give each -p its own host port"))
        targets = [volume.container for volume in self.volumes]
        for target in targets:
            if targets.count(target) > 1:
                raise _error(_("two volumes are mounted at {path}", path=target), _("give each -v its own path inside"))
        if "plain" in self.extra and "color" in self.extra:
            raise _error(_("--plain and --color contradict each other: give one of them"))


def parse(args: list[str], *, environ: Mapping[str, str] | None = None) -> RunSpec:
    """`isodemo run`'s words (after `run`; isodemo's global options may stand among the options) -> RunSpec.

    Raises HelpRequested for `--help` among the options, RunError (exit 125) for anything it cannot take.
    `environ` is where `-e K` and an env-file's `K` find K's value (isodemo's environment by default).
    """
    if wants_help(args):
        raise HelpRequested
    line = _Line(os.environ if environ is None else environ)
    try:
        start = _read(args, line.take)
    except _Stop as stop:
        raise _syntax(stop) from None
    rest = args[start:]
    if any("\0" in word for word in rest):
        raise _error(_("a NUL byte cannot be part of IMAGE or of the command"))
    image = None
    if line.rootfs is None:
        if not rest:
            raise _error(
                _("isodemo run requires at least 1 argument"),
                _("usage: {usage}; `isodemo run --help` tells more", usage=USAGE),
            )
        image, rest = rest[0], rest[1:]
        if not image:
            raise _error(
                _("invalid image name ''"),
                _("give busybox, the path of an image tarball, or a name that `isodemo images` lists"),
            )
        if rest[:1] == ["--"]:
            rest = rest[1:]
    line.check()
    return RunSpec(
        image=image,
        command=tuple(rest),
        rootfs=line.rootfs,
        name=line.name,
        hostname=line.hostname,
        memory=line.memory,
        memory_swap=line.memory_swap,
        cpus=line.cpus,
        cpu_shares=line.cpu_shares,
        pids_limit=line.pids_limit,
        device_write_bps=tuple(line.device_write_bps),
        network=line.network,
        pid_host=line.pid_host,
        userns=line.userns,
        publish=tuple(line.publish),
        volumes=tuple(line.volumes),
        cap_add=tuple(line.cap_add),
        cap_drop=tuple(line.cap_drop),
        privileged=line.privileged,
        no_new_privileges=line.no_new_privileges,
        seccomp=line.seccomp,
        init=line.init,
        env=(*line.env_files, *line.env),
        workdir=line.workdir,
        user=line.user,
        interactive=line.interactive,
        tty=line.tty,
        stop_timeout=line.stop_timeout,
        verbose=line.verbose,
        json=line.json,
        extra=line.extra,
    )


# -- `isodemo run --help` -----------------------------------------------------------------------------------

ABOUT = (
    N_(
        "Run a command in a new container, as `docker run` does: its own namespaces and cgroup, the image's "
        "layers stacked with overlayfs, Docker's default capabilities and seccomp filter. The container is "
        "removed when the command ends."
    ),
    N_(
        "IMAGE is busybox (built here from busybox-static), a `docker save` or OCI image tarball, or a name "
        "that `isodemo images` lists. Everything after IMAGE is the command and its arguments, options "
        "included; a `--` right after IMAGE is dropped."
    ),
    N_(
        "Options take their value as `--memory 64m` or `--memory=64m`; short flags combine (-it). -e, -p, "
        "-v, --cap-add, --cap-drop, --device-write-bps and --security-opt may be repeated."
    ),
)
EXIT_STATUS: tuple[tuple[str, str], ...] = (
    ("0-255", N_("the command's own exit status (128+N: ended by signal N)")),
    ("125", N_("isodemo failed: a bad option or image, or the machine")),
    ("126", N_("the command cannot be executed")),
    ("127", N_("the command does not exist in the container")),
    ("137", N_("the command was killed: SIGKILL, or the OOM killer")),
    ("77", N_("needs root, or an option that cannot work rootless")),
    ("130", N_("interrupted before the container started")),
)
EXAMPLES = (
    "sudo isodemo run -it busybox sh",
    "sudo isodemo run -m 64m --pids-limit 20 busybox cat /proc/self/cgroup",
    "sudo isodemo run -p 8080:80 busybox httpd -f -p 80",
    "isodemo run --json ./image.tar",
)
HELP_WIDTH = 80  # columns, in terminal cells (a Hangul syllable takes two)


def help_text() -> str:
    """`isodemo run --help`, in the current language: the same text whether click or container/main.py
    prints it (tests/cli_reference.py puts it in docs/cli.md)."""
    from isodemo.narrate.width import cells

    usage = _("Usage:")
    lines = [f"{usage} {USAGE}", " " * cells(usage) + f" {USAGE_ROOTFS}"]
    for paragraph in ABOUT:
        lines += ["", *_wrapped(_(paragraph), "  ")]
    lines += ["", _("Options") + ":"]
    lines += _table([(option.synopsis, _(option.help)) for option in OPTIONS])
    lines += ["", _("Exit status, as with docker run:")]
    lines += _table([(code, _(text)) for code, text in EXIT_STATUS])
    lines += ["", _("Examples:"), *(f"  {example}" for example in EXAMPLES)]
    return "\n".join(lines) + "\n"


def _wrapped(text: str, indent: str) -> list[str]:
    from isodemo.narrate.width import wrap

    return wrap(text, HELP_WIDTH, indent)


def _table(rows: list[tuple[str, str]], indent: int = 2) -> list[str]:
    """Two columns; the right one wrapped to HELP_WIDTH, its lines under each other."""
    from isodemo.narrate.width import cells, ljust

    width = max(cells(left) for left, _right in rows) + 2
    lines = []
    for left, right in rows:
        wrapped = _wrapped(right, " " * (indent + width)) or [""]
        lines.append(" " * indent + ljust(left, width) + wrapped[0].lstrip())
        lines += wrapped[1:]
    return lines
