"""`isodemo run`'s options: the table (each one's names, docker's; the form of its value; one line of help),
and the walk over the words that finds them, read the way `docker run` reads them.

Docker's rules (its flag parser stops at the first argument that is not an option): options come first,
up to IMAGE; everything after IMAGE is the command and its arguments, options included, so
`isodemo run busybox ls -l` runs `ls -l`. A `--` among the options ends them and is dropped, and so is one
right after IMAGE. With `--rootfs DIR` there is no IMAGE: the first word after the options is the command.
Values come as `--name value` or `--name=value`; short flags combine (`-it`) and take a value attached
(`-m64m`, `-e=K=V`) or as the next word. `-h` is --hostname, as in docker (`--help` is the help).

container/argv.py applies what the walk finds and builds the RunSpec; container/option_values.py checks
each value; container/help.py prints the table as `run --help`. This module is on the path of every
`isodemo run`: it imports nothing but isodemo.i18n, and what only a bad line needs is imported when it is bad.
"""

from __future__ import annotations

from isodemo.i18n import N_, _

TYPE_CHECKING = False  # `typing` costs ~7 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable

    from isodemo.errors import RunError

USAGE = "isodemo run [OPTIONS] IMAGE [COMMAND [ARG...]]"
USAGE_ROOTFS = "isodemo run [OPTIONS] --rootfs DIR COMMAND [ARG...]"

TRUE = ("1", "t", "T", "TRUE", "true", "True")  # what docker takes for a boolean (Go's strconv.ParseBool)
FALSE = ("0", "f", "F", "FALSE", "false", "False")


class HelpRequested(Exception):
    """`--help` among the options: nothing else is parsed; the caller prints help_text() and exits 0."""


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

LONG = {name: option for option in OPTIONS + DEMO_ONLY for name in option.long}  # "memory" -> its Option
SHORT = {option.short: option for option in OPTIONS if option.short}  # "m" -> the same


def boolean(option: Option, value: str | None) -> bool:
    """A flag's value: given alone (None) or one of docker's words for true or false."""
    if value is None or value in TRUE:
        return True
    if value in FALSE:
        return False
    from isodemo.container import option_values

    raise option_values.invalid(option, value, _("not a boolean"), _("use true or false, or the flag alone"))


# -- the walk over the words ---------------------------------------------------------------------------------


class Stop(Exception):
    """A malformed command line, found while splitting it; parse() turns it into a RunError. A plain
    exception, so that peek() needs neither isodemo.errors nor a translated message."""

    def __init__(self, kind: str, flag: str, word: str = "") -> None:
        super().__init__(kind)
        self.kind = kind  # "unknown", "unknown-short", "needs-value", "needs-value-short"
        self.flag = flag
        self.word = word


def read(args: list[str], take: Callable[[Option, str, str | None], None]) -> int:
    """Call take(option, flag, value) for each option before IMAGE, in order, and return the index of the first
    word that is not an option. `value` is None for a flag given alone (`--rm`, `-i`). A `--` ends the options
    and is skipped. Raises Stop at an unknown option or a missing value."""
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
            option = LONG.get(name)
            if option is None:
                raise Stop("unknown", word.partition("=")[0])
            if equals:
                take(option, f"--{name}", value)
            elif option.takes_value:
                if index >= len(args):
                    raise Stop("needs-value", f"--{name}")
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
            option = SHORT.get(letter)
            if option is None:
                raise Stop("unknown-short", letter, word)
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
                    raise Stop("needs-value-short", letter, word)
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
        read(args, take)
    except Stop:
        return found  # what came before the word it could not read
    return found


def wants_help(args: list[str]) -> bool:
    """`--help` among the options (not after IMAGE, where it is the command's)."""
    return "help" in peek(args)


def syntax_error(stop: Stop) -> RunError:
    """run's error for words the walk could not read (parse() raises it), in docker's words."""
    from isodemo.container import option_values

    error, shown = option_values.run_error, option_values.shown
    if stop.kind == "unknown":
        return error(_("unknown flag: {flag}", flag=stop.flag), _("`isodemo run --help` lists the options"))
    if stop.kind == "unknown-short":
        return error(
            _("unknown shorthand flag: {letter} in {word}", letter=repr(stop.flag), word=shown(stop.word)),
            _("`isodemo run --help` lists the options"),
        )
    if stop.kind == "needs-value":
        return error(_("flag needs an argument: {flag}", flag=stop.flag))
    hint = None
    if stop.flag == "h":
        hint = _("-h is --hostname here, as in docker; `isodemo run --help` shows the help")
    return error(_("flag needs an argument: {letter} in {word}", letter=repr(stop.flag), word=shown(stop.word)), hint)
