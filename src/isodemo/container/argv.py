"""`isodemo run`'s command line -> RunSpec, as `docker run` reads it (docker's rules: container/options.py).

parse() walks the words with the option table (container/options.py), hands each option to a Line, which
sets RunSpec's fields, each value checked by container/option_values.py as isodemo.values checks the demos'
options, then checks what only the whole line can say. What container/runtime.py gets is valid input, and
what is left to fail is the machine; a bad line is a RunError (exit 125, as `docker run`) whose message
names the option. Nothing here imports click, argparse or re: this module is on the path of `isodemo run
busybox /bin/true`, which must start faster than runc; option_values (with isodemo.values, its `re`, and
isodemo.errors) is imported only when an option needs it, the help (container/help.py) only when asked for.
"""

from __future__ import annotations

import os

from isodemo.container.options import (
    OPTIONS,
    USAGE,
    HelpRequested,
    Option,
    Stop,
    boolean,
    peek,
    read,
    syntax_error,
    wants_help,
)
from isodemo.container.spec import DEFAULT_STOP_TIMEOUT, RunSpec
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~7 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Mapping

    from isodemo.container.spec import Publish, Volume
    from isodemo.errors import RunError

__all__ = ["OPTIONS", "USAGE", "HelpRequested", "help_text", "parse", "peek", "wants_help"]


def _error(message: str, hint: str | None = None) -> RunError:
    from isodemo.container import option_values

    return option_values.run_error(message, hint)


def _invalid(option: Option, value: str, problem: str, hint: str | None = None) -> RunError:
    from isodemo.container import option_values

    return option_values.invalid(option, value, problem, hint)


class Line:
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
        if key == "help":  # parse() asked wants_help() first: the last --help[=BOOL] among the options decides
            boolean(option, value)  # a value that is no boolean is refused, as for any flag
            return
        if value is None or not option.takes_value:
            self._flag(option, flag, value)
            return
        from isodemo.container import option_values

        option_values.set_value(self, option, value)

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
        on = boolean(option, value)
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
    line = Line(os.environ if environ is None else environ)
    try:
        start = read(args, line.take)
    except Stop as stop:
        raise syntax_error(stop) from None
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


def help_text() -> str:
    """`isodemo run --help`, in the current language (container/help.py)."""
    from isodemo.container import help as run_help

    return run_help.help_text()
