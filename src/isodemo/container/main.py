"""`isodemo run`: parse, build the container, wait for it, clean up, and exit with its status.

The start-up path of `run` is kept lean on purpose (no click, no rich: cli.py sends `run` here before it
imports either), so that a container starts faster than `runc run` starts one. Exit codes are docker's:
the command's own status; 125 when isodemo fails (a bad option too, as `docker run`), 126 when the command
cannot be executed, 127 when it does not exist; 77 when only root could do what was asked; 130 when a
signal ends isodemo before the container started.
"""

from __future__ import annotations

import os
import sys

from isodemo import signals
from isodemo.errors import ExitCode, Interrupted, IsodemoError, RunError
from isodemo.i18n import _
from isodemo.narrate.runlog import RunLog

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from typing import Any

    from isodemo.container.spec import RunSpec
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)


def main(args: list[str]) -> int:
    """`args`: what follows `run` on the command line (global options included)."""
    from isodemo.container import argv

    try:
        spec = argv.parse(args)
    except argv.HelpRequested:
        from isodemo.narrate.output import guarded

        out = guarded(sys.stdout, ends_demo=False)
        out.write(argv.help_text())
        out.flush()
        return int(ExitCode.OUTPUT_CLOSED) if getattr(out, "lost", False) else 0
    except RunError as error:
        log = RunLog(json="json" in argv.peek(args))  # not `"--json" in args`: that may be the command's
        log.fail(type(error).__name__, error.message, error.hint, int(error.exit_code))
        log.finish(_host_summary(), [])
        return int(error.exit_code)
    if spec.network == "bridge":
        from isodemo.launcher import add_site_packages

        # netlink's pyroute2 is in the venv (started without site: launcher.py), for this process and for
        # the helper, which is forked before the network is made
        add_site_packages()
    return execute(spec, RunLog(verbose=spec.verbose, json=spec.json))


def execute(spec: RunSpec, log: RunLog) -> int:
    from isodemo import host as hostinfo
    from isodemo.context import DemoContext
    from isodemo.contexts import ExitStack
    from isodemo.runs import Run

    host = hostinfo.probe()
    run = Run.new()
    code = int(ExitCode.RUN_FAILED)
    clean = False
    with signals.interrupts_unwind():
        try:
            try:
                hostinfo.require_linux()
                rootless = not host.root and _rootless_allowed()
                run.register()
                started: list[Any] = []
                with ExitStack() as stack:
                    ctx = DemoContext(run, host, stack, False, {}, rootless=rootless)
                    try:
                        code = _run_container(spec, ctx, log, started)
                    finally:
                        signals.disarm()  # the teardown must not be cut short by a second signal
                for container in started:
                    container.lap("teardown")  # everything removed (benchmarks/runtime.py reads the laps)
                clean = True
            finally:
                signals.disarm()
        except IsodemoError as error:
            code = int(error.exit_code)
            if code in (int(ExitCode.OBSERVATION_FAILED), int(ExitCode.MISSING_FEATURE)):
                code = int(ExitCode.RUN_FAILED)  # for `run`, every failure of isodemo is docker's 125
            log.fail(type(error).__name__, error.message, error.hint, code)
        except Interrupted as interrupt:
            code = int(ExitCode.INTERRUPTED)
            log.fail(
                "Interrupted",
                _("interrupted by {signal} before the container started; the teardown ran", signal=interrupt.signame),
                None,
                code,
            )
        except OSError as error:
            code = int(ExitCode.RUN_FAILED)
            log.fail(type(error).__name__, _("a system call failed: {error}", error=error), None, code)
        except Exception as error:  # a bug in isodemo: say so, with the traceback, still 125 like docker
            import traceback

            log.say(traceback.format_exc().rstrip("\n"))
            code = int(ExitCode.RUN_FAILED)
            log.fail(
                type(error).__name__,
                _("internal error, a bug in isodemo: {kind}: {error}", kind=type(error).__name__, error=error),
                _("please report it with the traceback above"),
                code,
            )
    left: list[str] = []
    if spec.json or not clean:
        from isodemo import leftovers

        left = leftovers.of_run(run)
    if not left:
        run.unregister()
    log.finish(host.summary(), left)
    signals.report_done(code)
    return code


def _rootless_allowed() -> bool:
    """Without root: a user namespace first, as rootless podman; NeedsRoot (77) when the machine refuses one."""
    from isodemo import host as hostinfo
    from isodemo import rootless

    blocker = rootless.check()
    if blocker is not None:
        raise rootless.needs_root_instead("run", hostinfo.command_line(), blocker)
    return True


def _run_container(spec: RunSpec, ctx: Any, log: RunLog, built: list[Any]) -> int:
    """Build, start and wait for the container; `built` gets the runtime.Started, for its last lap."""
    from isodemo.container import runtime, waiting

    started = runtime.build(spec, ctx, log)
    built.append(started)
    with waiting.forwarding() as wakeup:
        runtime.start(started, log)
        _collect_again()
        # From here on a signal is the container's: none may end isodemo (130) and lose the container's status,
        # also after the wait, while the handlers of signals.interrupts_unwind are back.
        signals.disarm()
        status = waiting.Waiter(started.box, spec.stop_timeout, log, started.pty).wait(wakeup)
    started.lap("exited")  # the container's end seen (its status known)
    log.fact("exit_status", status)
    oom_killed = False
    if started.cgroup is not None:
        kills, source = started.cgroup.oom_kills()
        oom_killed = kills > 0 and status == 128 + signal.SIGKILL
        if oom_killed:
            log.note(
                _(
                    "the container was killed by the OOM killer: its memory limit of {limit} bytes was reached "
                    "({source}: oom_kill {kills})",
                    limit=spec.memory,
                    source=source,
                    kills=kills,
                )
            )
    log.fact("oom_killed", oom_killed)
    return status


def _collect_again() -> None:
    """cli.main turns the cycle collector off while a container starts (`isodemo run` as the command, not a
    caller of cli.main): its ~12 passes over the new objects of the imports cost ~1.3 ms of the start (the
    child made its own too, having forked it), and none of them is garbage. Once the command runs,
    what the start made is frozen (never scanned again) and the collector is back for the wait and the
    teardown."""
    import gc

    if signals.is_own_process() and not gc.isenabled():
        gc.freeze()
        gc.enable()


def _host_summary() -> dict[str, Any]:
    try:
        from isodemo import host as hostinfo

        return hostinfo.probe().summary()
    except Exception:
        pass  # a summary is only for the report: say the least
    return {"linux": sys.platform.startswith("linux"), "root": os.geteuid() == 0}
