"""The click commands. Light on purpose: the demos and tools behind them are imported when one runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import click

from isodemo import catalog, i18n
from isodemo.i18n import _
from isodemo.usage import GLOBAL_OPTIONS

OPTIONS_KEY = "isodemo.global"
HELP_WIDTH = 80  # where help text that is not ASCII wraps, in terminal cells


class CellFormatter(click.HelpFormatter):
    """click's help formatter, measuring what is not ASCII in terminal cells: click counts code points, so a
    Korean help text (a Hangul syllable takes two columns) would run to twice the width. ASCII text is left to
    click, exactly as before."""

    def write_text(self, text: str) -> None:
        if text.isascii():
            super().write_text(text)
            return
        from isodemo.narrate.width import wrap

        indent = " " * self.current_indent
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if paragraph.startswith("\b\n"):  # click's mark for a paragraph kept as written
                paragraphs.append("\n".join(indent + line for line in paragraph[2:].splitlines()))
            else:
                paragraphs.append("\n".join(wrap(paragraph, HELP_WIDTH, indent)))
        self.write("\n\n".join(paragraphs) + "\n")

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        if all(first.isascii() and second.isascii() for first, second in rows):
            super().write_dl(rows, col_max, col_spacing)
            return
        from isodemo.narrate.width import cells, wrap

        first_col = min(max(cells(first) for first, _second in rows), col_max) + col_spacing
        hanging = " " * (first_col + self.current_indent)
        for first, second in rows:
            self.write(" " * self.current_indent + first)
            if not second:
                self.write("\n")
                continue
            if cells(first) <= first_col - col_spacing:
                self.write(" " * (first_col - cells(first)))
            else:
                self.write("\n" + hanging)
            lines = wrap(second, HELP_WIDTH - len(hanging)) or [""]
            self.write(lines[0] + "\n" + "".join(hanging + line + "\n" for line in lines[1:]))


class CellContext(click.Context):
    formatter_class = CellFormatter


class Command(click.Command):
    context_class = CellContext


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Global options are accepted before and after the command; whichever is given wins."""
    if value not in (None, False):
        ctx.find_root().meta.setdefault(OPTIONS_KEY, {})[param.name] = value
    return value


def global_options(func: Callable[..., Any]) -> Callable[..., Any]:
    helps = {flags.split()[0]: _(text) for flags, text in GLOBAL_OPTIONS}
    for flag in ("--plain", "--color", "--json", "--step", "--hold"):
        func = click.option(flag, is_flag=True, expose_value=False, callback=_remember, help=helps[flag])(func)
    return click.option(
        "--lang",
        type=click.Choice(["en", "ko"]),
        expose_value=False,
        callback=_remember,
        help=helps["--lang"],
    )(func)


def checked(parser: str, module: str = "values") -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that runs isodemo.<module>.<parser> (isodemo.values by default) and turns its
    UsageError into exit 2.

    The parser is named, not imported, so that building the commands imports nothing but click.
    """

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from isodemo.errors import UsageError

        if value is None:
            return value
        try:
            return getattr(importlib.import_module(f"isodemo.{module}"), parser)(value)
        except UsageError as error:
            raise click.BadParameter(
                _("{problem}; {hint}", problem=error.message, hint=error.hint) if error.hint else error.message
            ) from None
        except Exception as error:  # a parser's bug: exit 70 with its traceback, as the runner does for a demo
            import traceback

            traceback.print_exc()
            raise ParserBug(
                _("internal error, a bug in isodemo: {kind}: {error}", kind=type(error).__name__, error=error)
            ) from None

    return callback


class ParserBug(click.ClickException):
    """A parser raised something other than UsageError: that is isodemo's bug, not the user's value."""

    exit_code = 70  # ExitCode.INTERNAL, not imported: building the commands imports nothing but click


def _options(ctx: click.Context) -> Any:
    from isodemo.runner import GlobalOptions

    options = GlobalOptions(**ctx.find_root().meta.get(OPTIONS_KEY, {}))
    if options.plain and options.color:
        raise click.UsageError(_("--plain and --color contradict each other: give one of them"), ctx)
    return options


def _execute(
    ctx: click.Context,
    name: str,
    body: Any,
    *,
    needs_root: bool,
    rootless_cgroups: bool = False,
    rootless_namespaces: bool = False,
    **options: Any,
) -> None:
    from isodemo import click_words
    from isodemo.runner import execute

    click_words.quiet()  # the command line is parsed: the demo's child processes get the user's environment
    code = execute(
        name,
        _options(ctx),
        body,
        needs_root=needs_root,
        options=options,
        rootless_cgroups=rootless_cgroups,
        rootless_namespaces=rootless_namespaces,
    )
    ctx.exit(code)


def demo_command(name: str, *params: Callable[[Any], Any]) -> click.Command:
    entry = catalog.BY_NAME[name]

    def callback(**options: Any) -> None:
        module = importlib.import_module(f"isodemo.demos.{name.replace('-', '_')}")
        _execute(
            click.get_current_context(),
            name,
            module.run,
            needs_root=entry.needs_root,
            rootless_cgroups=entry.rootless_cgroups,
            rootless_namespaces=entry.rootless_namespaces,
            **options,
        )

    command: Callable[..., Any] = global_options(callback)
    for param in params:
        command = param(command)
    text = _("{summary}.\n\nKubernetes: {kubernetes}.", summary=_(entry.summary), kubernetes=_(entry.kubernetes))
    return click.command(name, cls=Command, help=text, short_help=_(entry.summary))(command)


def tool_command(
    name: str,
    module_name: str,
    *params: Callable[[Any], Any],
    help_text: str | None = None,
    function: str = "run",
) -> click.Command:
    """A tool: `function(narrator, ctx)` of isodemo.tools.<module_name> runs it (`run` unless named)."""
    entry = catalog.BY_NAME[name]

    def callback(**options: Any) -> None:
        module = importlib.import_module(f"isodemo.tools.{module_name}")
        needs_root = entry.needs_root and not options.get("dry_run")
        _execute(click.get_current_context(), name, getattr(module, function), needs_root=needs_root, **options)

    command: Callable[..., Any] = global_options(callback)
    for param in params:
        command = param(command)
    text = help_text or _("{summary}.", summary=_(entry.summary))
    return click.command(name, cls=Command, help=text, short_help=_(entry.summary))(command)


class RunCommand(Command):
    """`isodemo run`: docker's command line, read by isodemo.container.argv, never by click.

    cli.main sends `isodemo [global options] run ...` to isodemo.container.main before click is even
    imported (a container must start faster than runc starts one). This command is click's side of the same
    line: it is listed with the others, its help is argv's (one text, whichever path prints it), and a line
    that reaches it anyway (`make_group().main(...)`) goes to the same place, global options included.
    """

    def __init__(self) -> None:
        entry = catalog.BY_NAME["run"]
        super().__init__("run", help=_(entry.summary), short_help=_(entry.summary), add_help_option=False)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.args = list(args)  # every word is argv's: click would read `run busybox ls -l` as its own options
        return []

    def get_help(self, ctx: click.Context) -> str:
        from isodemo.container import argv

        return argv.help_text().rstrip("\n")

    def invoke(self, ctx: click.Context) -> Any:
        from isodemo.container import argv

        given = ctx.find_root().meta.get(OPTIONS_KEY, {})
        words = [f"--{flag}" for flag in ("plain", "color", "json", "step", "hold") if given.get(flag)]
        words += ["--lang", given["lang"]] if given.get("lang") else []
        words += ctx.args
        if argv.wants_help(words):
            click.echo(self.get_help(ctx))
            ctx.exit(0)
        run = importlib.import_module("isodemo.container.main")
        ctx.exit(run.main(words))


def speed_option(default: str, help_text: str) -> Callable[[Any], Any]:
    """--speed N of the control-loop demos: how many times faster than Kubernetes' own periods they run."""
    return click.option(
        "--speed",
        metavar="N",
        default=default,
        show_default=True,
        callback=checked("speed", "kube.options"),
        help=help_text,
    )


def value_option(flag: str, default: str | None, parser: str, metavar: str, help_text: str) -> Callable[[Any], Any]:
    """An option whose value one of isodemo.values' parsers checks (exit 2 with the accepted form).

    The help states the accepted form and range: the parser accepts exactly that and nothing else.
    """
    return click.option(
        flag, default=default, show_default=True, metavar=metavar, callback=checked(parser), help=help_text
    )


_BUILT: dict[str, dict[str, click.Command]] = {}


def all_commands() -> dict[str, click.Command]:
    """Every command, its --help in the current language (built once per language)."""
    language = i18n.language()
    if language not in _BUILT:
        _BUILT[language] = _build()
    return _BUILT[language]


def __getattr__(name: str) -> Any:
    if name == "COMMANDS":  # the commands in the current language
        return all_commands()
    raise AttributeError(name)


def _build() -> dict[str, click.Command]:
    return {
        "pid": demo_command("pid"),
        "uts": demo_command(
            "uts",
            value_option(
                "--hostname",
                "isodemo-box",
                "hostname",
                "NAME",
                _(
                    "The hostname to set inside: at most 64 characters, RFC 1123 (letters, digits and '-' in "
                    "dot-separated labels)."
                ),
            ),
        ),
        "ipc": demo_command("ipc"),
        "mnt": demo_command("mnt"),
        "user": demo_command("user"),
        "cgroupns": demo_command("cgroupns"),
        "timens": demo_command(
            "timens",
            value_option(
                "--boottime",
                "604800",
                "clock_offset",
                "SECONDS",
                _("Seconds added to CLOCK_BOOTTIME (and uptime) inside: 0 to 315360000 (ten years)."),
            ),
            value_option(
                "--monotonic",
                "86400",
                "clock_offset",
                "SECONDS",
                _("Seconds added to CLOCK_MONOTONIC inside: 0 to 315360000 (ten years)."),
            ),
        ),
        "net": demo_command(
            "net",
            value_option(
                "--rate", "10", "rate_mbit", "MBIT", _("The bandwidth limit of the last step: 1 to 1000 Mbit/s.")
            ),
            value_option(
                "--subnet", None, "subnet", "CIDR", _("A private IPv4 /24 for the containers (default: a free one).")
            ),
            value_option(
                "--port",
                "8080",
                "port",
                "PORT",
                _("The host-side port to publish (DNAT) the container's server on: 1024 to 65535."),
            ),
        ),
        "cgroup-memory": demo_command(
            "cgroup-memory",
            value_option(
                "--limit",
                "64m",
                "memory_limit",
                "SIZE",
                _(
                    "The memory limit, as docker's --memory takes it: digits 0-9, an optional fraction, an optional "
                    "unit b, k, m or g (64m, 1.5g); from 6m to half of this machine's MemAvailable (/proc/meminfo), "
                    "so that the host keeps the rest."
                ),
            ),
        ),
        "cgroup-cpu": demo_command(
            "cgroup-cpu",
            value_option(
                "--cpus",
                "0.2",
                "cpus",
                "CPUS",
                _(
                    "The CPU quota, as docker's --cpus takes it: 0.2 is 20% of one CPU; from 0.01 to the number of "
                    "CPUs here."
                ),
            ),
        ),
        "cgroup-pids": demo_command(
            "cgroup-pids",
            value_option(
                "--limit",
                "20",
                "pids_limit",
                "N",
                _(
                    "pids.max, as docker's --pids-limit takes it: 2 to 4096, and at most half of the processes this "
                    "machine can still start."
                ),
            ),
        ),
        "cgroup-io": demo_command(
            "cgroup-io",
            value_option(
                "--limit",
                "1mb",
                "rate_bytes",
                "RATE",
                _("Bytes per second, as docker's --device-write-bps takes it (a size: 512k, 2mb): from 4k to 64m."),
            ),
        ),
        "limits": demo_command(
            "limits",
            click.option(
                "-f",
                "--filename",
                metavar="FILE",
                callback=checked("pod_file", "kube.options"),
                help=_(
                    "A Pod manifest, YAML or JSON (kind: Pod, apiVersion: v1), as `kubectl apply -f` takes it: "
                    "its containers' requests and limits of cpu and memory are used, instead of the default Pod."
                ),
            ),
            click.option(
                "--api-cpu",
                metavar="CPU",
                default="500m",  # the help says it
                callback=checked("cpu_quantity", "kube.options"),
                help=_("The default Pod's api container: requests.cpu = limits.cpu (default 500m)."),
            ),
            click.option(
                "--api-memory",
                metavar="MEMORY",
                default="64Mi",  # the help says it
                callback=checked("memory_quantity", "kube.options"),
                help=_("The default Pod's api container: requests.memory = limits.memory, 8Mi to 1Gi (default 64Mi)."),
            ),
            click.option(
                "--batch-cpu",
                metavar="CPU",
                default="750m",  # the help says it
                callback=checked("cpu_quantity", "kube.options"),
                help=_("The default Pod's batch container: requests.cpu, no limit (default 750m)."),
            ),
            click.option(
                "--cache-cpu",
                metavar="CPU",
                default="250m",  # the help says it
                callback=checked("cpu_quantity", "kube.options"),
                help=_("The default Pod's cache container: requests.cpu, no limit (default 250m)."),
            ),
            click.option(
                "--cpu-weight-formula",
                type=click.Choice(["new", "old"]),
                default="new",
                show_default=True,
                help=_(
                    "cgroup v2: how the runtime turns a container's cpu.shares into cpu.weight: new (log-scale, "
                    "runc 1.3.2+, crun 1.23+) or old (linear, older runc and crun)."
                ),
            ),
        ),
        "run": RunCommand(),
        "container": demo_command(
            "container",
            click.option(
                "--oci-config",
                metavar="FILE.json",
                callback=checked("json_file"),
                help=_("Also write the generated runc config.json, whole, to FILE.json."),
            ),
        ),
        "escape": demo_command("escape"),
        "pod": demo_command(
            "pod",
            click.option(
                "--share-processes",
                is_flag=True,
                help=_(
                    "One pid namespace for the pod (shareProcessNamespace: true): pause is PID 1, the containers "
                    "see each other's processes, and pause reaps their orphans."
                ),
            ),
        ),
        "volume": demo_command("volume"),
        "service": demo_command(
            "service",
            click.option(
                "--replicas",
                metavar="N",
                default="3",
                show_default=True,
                callback=checked("service_replicas", "kube.options"),
                help=_("How many pods the Deployment runs behind the Service: 2 to 10."),
            ),
            click.option(
                "--requests",
                metavar="M",
                default="300",
                show_default=True,
                callback=checked("request_count", "kube.options"),
                help=_("How many requests the client sends through the ClusterIP to measure the spread: 30 to 5000."),
            ),
        ),
        "healing": demo_command(
            "healing",
            speed_option(
                "10", _("How many times faster than Kubernetes' real waits (back-off, probe periods): 1 to 100.")
            ),
        ),
        "rollout": demo_command(
            "rollout",
            click.option(
                "--replicas",
                metavar="N",
                default="4",
                show_default=True,
                callback=checked("replicas", "kube.options"),
                help=_("How many pods the Deployment runs: 1 to 10 (maxSurge and maxUnavailable are 25% of it)."),
            ),
            speed_option(
                "10", _("How many times faster than Kubernetes' periods (readiness probe, preStop wait): 1 to 100.")
            ),
        ),
        "autoscale": demo_command(
            "autoscale",
            speed_option(
                "20",
                _(
                    "How many times faster than Kubernetes' periods (sync 15 s, downscale window 300 s, grace "
                    "30 s): 1 to 100."
                ),
            ),
            click.option(
                "--max-replicas",
                metavar="N",
                default="6",
                show_default=True,
                callback=checked("max_replicas", "kube.options"),
                help=_("The HorizontalPodAutoscaler's maxReplicas: 2 to 10 (minReplicas is 1)."),
            ),
        ),
        "images": tool_command(
            "images",
            "images",
            help_text=_(
                "List the images in isodemo's local store: busybox once it was built, and every tarball that "
                "`isodemo run` imported (layers unpacked once, by digest)."
            ),
        ),
        "rmi": tool_command(
            "rmi",
            "images",
            click.argument("image", metavar="IMAGE", callback=checked("image_ref")),
            function="rmi",
            help_text=_(
                "Remove an image from isodemo's local store, by its name or id as `isodemo images` lists them; "
                "layers that no other image uses go with it.\n\n\b\nExample:\n  isodemo rmi busybox"
            ),
        ),
        "list": tool_command("list", "listing"),
        "doctor": tool_command("doctor", "doctor"),
        "inspect": tool_command(
            "inspect",
            "inspect",
            click.argument("pid", metavar="PID", callback=checked("pid")),
            help_text=_(
                "Compare a process's namespaces with PID 1's (like `lsns -p PID`) and show its cgroups "
                "(/proc/PID/cgroup).\n\n\b\nExample:\n  sudo isodemo inspect $(pgrep -n sleep)"
            ),
        ),
        "bench": tool_command(
            "bench",
            "bench",
            click.option(
                "--density",
                default=None,
                metavar="N",
                callback=checked("count", "density.plan"),
                help=_(
                    "Start N containers at once (each in its own namespaces, cgroup, veth and overlay), check "
                    "every one, tear them down, and measure it all: 1 to 16000, and no more than this machine "
                    "holds now."
                ),
            ),
            help_text=_(
                "Measure what a container costs on this machine: the time to start a process in six new "
                "namespaces (against a plain fork), the memory a minimal container is charged, how many would fit, "
                "and this machine's own boot time where systemd measured it."
            ),
        ),
        "cleanup": tool_command(
            "cleanup",
            "cleanup",
            click.option("--dry-run", is_flag=True, help=_("Only list what would be removed.")),
            help_text=_(
                "Remove every leftover isodemo object: processes, mounts, directories, IPC queues of runs "
                "that were killed with SIGKILL. Runs still going (a --hold elsewhere) are left alone."
            ),
        ),
    }
