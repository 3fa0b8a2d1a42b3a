"""The command line: parse, pick a narrator, map errors to exit codes. Imports lazily.

`isodemo`, `isodemo -h` and `isodemo --help` print the help without importing click (see usage.py):
python itself starts in ~15 ms and click alone costs ~40 ms more. The installed command starts Python
without site (launcher.py): the help and `isodemo run` need only the standard library and isodemo; every
other command gets the venv's packages before it imports click.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` costs ~7 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Any

HELP_ARGS: tuple[list[str], ...] = ([], ["-h"], ["--help"])


def main(argv: list[str] | None = None) -> int:
    """`argv` None: this process is the `isodemo` command (its signals end it, see signals.report_done)."""
    if argv is None and _run_arguments(sys.argv[1:]) is not None:
        import gc

        # `isodemo run`: no cycle collection while the container starts (container/main.py turns it back on)
        gc.disable()
    from isodemo.narrate.output import guarded, replace_unencodable

    replace_unencodable(sys.stdout, sys.stderr)  # PYTHONIOENCODING=ascii: `?` for what it lacks, no error
    args = sys.argv[1:] if argv is None else argv
    import os

    from isodemo import i18n

    # --json: one object for programs, the same in every language (its texts too), so always English
    i18n.set_language("en" if _json_requested(args) else i18n.choose(i18n.requested_in(args), os.environ))
    if _without_lang(args) in HELP_ARGS:  # `isodemo --lang ko --help` is as fast as `isodemo --help`
        from isodemo.usage import top_help

        out = guarded(sys.stdout, ends_demo=False)  # `isodemo | head -1`: the rest goes nowhere, quietly
        out.write(top_help())
        out.flush()
        return 141 if getattr(out, "lost", False) else 0  # ExitCode.OUTPUT_CLOSED, without importing enum
    if argv is None:
        from isodemo import signals

        signals.own_process()
    run_args = _run_arguments(args)
    if run_args is not None:  # `isodemo run`: its own lean path, no click (container/main.py says why)
        from isodemo.container import argv as run_argv
        from isodemo.container.main import main as run_main

        seen = run_argv.peek(run_args)  # only the options before IMAGE: the rest is the command's
        i18n.set_language("en" if "json" in seen else i18n.choose(seen.get("lang"), os.environ))
        code = run_main(run_args)
        if argv is None:  # done, cleaned and reported: the interpreter's teardown would only cost time
            from isodemo import signals

            signals.exit_process(code)
        return code
    from isodemo.launcher import add_site_packages

    add_site_packages()  # started by the launcher, without site: click, rich, pyroute2 are in site-packages
    try:
        return _click_main(args)
    except SystemExit as done:
        # click's own output (--help, --version) to a reader that quit: click swallows the EPIPE and exits
        # 1. It is the same event as a demo's closed stdout, and gets the same code.
        if done.code == 1 and _reader_gone(sys.stdout):
            from isodemo.errors import ExitCode

            return int(ExitCode.OUTPUT_CLOSED)
        raise


def _without_lang(args: list[str]) -> list[str]:
    """`args` less one `--lang en|ko` or `--lang=en|ko`, before or after the rest (`isodemo --help --lang ko`);
    another value stays, for click to refuse."""
    for index, arg in enumerate(args):
        if arg == "--lang" and args[index + 1 : index + 2] in (["en"], ["ko"]):
            return args[:index] + args[index + 2 :]
        if arg in ("--lang=en", "--lang=ko"):
            return args[:index] + args[index + 1 :]
    return args


GLOBAL_FLAGS = frozenset({"--plain", "--color", "--json", "--step", "--hold"})


def _run_arguments(args: list[str]) -> list[str] | None:
    """For `isodemo [global options] run ...`: the global options, then what follows `run`; else None."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in GLOBAL_FLAGS or arg.startswith("--lang="):
            index += 1
        elif arg == "--lang":
            index += 2
        else:
            break
    if args[index : index + 1] != ["run"]:
        return None
    return args[:index] + args[index + 1 :]


def _json_requested(args: list[str]) -> bool:
    """--json among the options (not after `--`, where arguments belong to something else)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def _reader_gone(stream: Any) -> bool:
    """True when `stream` is a pipe whose every reader has closed it (poll() reports POLLERR for it)."""
    import select

    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _click_main(args: list[str]) -> int:
    import click

    from isodemo import click_words, i18n

    click_words.speak(i18n.language())  # click's usage errors and help in the chosen language
    try:
        group = make_group()
        try:
            # Without standalone mode click returns what ctx.exit() was given instead of calling sys.exit.
            code = group.main(args=args, prog_name="isodemo", standalone_mode=False)
        except click.exceptions.Exit as done:
            return int(done.exit_code)
        except click.UsageError as error:
            return _usage_error(error, args)
        except click.Abort:
            return 130
        except click.ClickException as error:
            error.show(file=_stderr())
            return error.exit_code
        return code if isinstance(code, int) else 0
    finally:
        click_words.quiet()


def _usage_error(error: Any, args: list[str]) -> int:
    """Exit 2 with click's message; with --json, still one JSON object on stdout."""
    from isodemo.errors import ExitCode, UsageError

    if "--json" in args:
        from isodemo import host
        from isodemo.narrate.jsonout import JsonNarrator

        narrator = JsonNarrator()
        command = error.ctx.info_name if error.ctx is not None else None
        narrator.begin(None if command in (None, "isodemo") else command, host.probe().summary())
        narrator.fail(UsageError(error.format_message()), ExitCode.USAGE)
        narrator.finish()
    else:
        error.show(file=_stderr())
    return int(ExitCode.USAGE)


def _stderr() -> Any:
    """stderr that survives a reader gone (`isodemo pdi 2>&1 | head -0`): the exit code still says it."""
    from isodemo.narrate.output import guarded

    return guarded(sys.stderr, ends_demo=False)


def make_group() -> Any:
    import click

    from isodemo import catalog, commands
    from isodemo.i18n import _
    from isodemo.usage import top_help

    class Isodemo(click.Group):
        context_class = commands.CellContext

        def list_commands(self, ctx: click.Context) -> list[str]:
            return catalog.names()

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            return commands.all_commands().get(cmd_name)

        def get_help(self, ctx: click.Context) -> str:
            return top_help().rstrip("\n")

        def resolve_command(
            self, ctx: click.Context, args: list[str]
        ) -> tuple[str | None, click.Command | None, list[str]]:
            name = args[0]
            if self.get_command(ctx, name) is None and not name.startswith("-"):
                import difflib

                close = difflib.get_close_matches(name, catalog.names(), n=3, cutoff=0.5)
                if close:
                    ctx.fail(
                        _(
                            "no such command {name}. Did you mean {close}? `isodemo list` shows every demo.",
                            name=repr(name),
                            close=_(" or ").join(close),
                        )
                    )
                ctx.fail(_("no such command {name}. `isodemo list` shows every demo.", name=repr(name)))
            return super().resolve_command(ctx, args)

    from isodemo import __version__

    group = commands.global_options(click.version_option(__version__, prog_name="isodemo")(lambda: None))
    return Isodemo(
        name="isodemo",
        callback=group,
        params=getattr(group, "__click_params__", []),
        context_settings={"help_option_names": ["-h", "--help"], "terminal_width": 88, "max_content_width": 88},
        no_args_is_help=True,
    )
