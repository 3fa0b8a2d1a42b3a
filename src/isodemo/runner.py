"""Runs one command from start to exit code: narrator, preflight, signals, resources, errors, leftovers.

This is the one place where errors become exit codes (INTERFACE.md). Demos and tools only raise.
"""

from __future__ import annotations

import contextlib
import errno
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from isodemo import catalog, i18n, leftovers, preflight, signals, testpoints
from isodemo import host as hostinfo
from isodemo.errors import ExitCode, Interrupted, IsodemoError, OutputClosed
from isodemo.i18n import _
from isodemo.narrate import choose_style, make_narrator
from isodemo.narrate.base import Narrator
from isodemo.narrate.report import ErrorInfo
from isodemo.runs import Run


@dataclass
class GlobalOptions:
    plain: bool = False
    color: bool = False
    json: bool = False
    step: bool = False
    hold: bool = False
    lang: str | None = None


Body = Callable[[Narrator, Any], None]


def narrator_for(opts: GlobalOptions) -> Narrator:
    style = choose_style(json_=opts.json, plain=opts.plain, color=opts.color)
    return make_narrator(style, step_mode=opts.step, force_color=opts.color)


def _work_in_delegated_cgroup(narrator: Narrator, ctx: Any, base: str) -> None:
    from isodemo.cgroups.delegation import Vacate

    ctx.cgroup_top = base
    ctx.enter(Vacate(base, ctx.run.object_name("self")))
    narrator.note(
        _(
            "Not root: working in the cgroup v2 subtree delegated to you, {base} "
            "(what systemd-run --user --scope -p Delegate=yes gives).",
            base=base,
        )
    )
    narrator.fact("rootless", True)
    narrator.fact("delegated_cgroup", base)


def _require_root(name: str, host: hostinfo.Host) -> None:
    """Stop a command that needs root, run without it, with the reason that holds for it: a cgroup demo with
    no rootless mode (cgroup-io) says what is not delegated to the user, the others what needs CAP_SYS_ADMIN."""
    entry = catalog.BY_NAME.get(name)
    if entry is not None and entry.controllers and entry.section == "cgroups" and os.geteuid() != 0:
        from isodemo.cgroups import delegation

        raise delegation.needs_root_for(
            name, entry.controllers, entry.features, host.cgroup_mode, hostinfo.command_line()
        )
    hostinfo.require_root(f"isodemo {name}")


def _work_in_user_namespace(narrator: Narrator, ctx: Any) -> None:
    ctx.rootless = True
    uid = os.getuid()
    narrator.note(
        _(
            "Not root: every namespace of this demo is created inside a new user namespace, where uid {uid} is "
            "uid 0 with the capabilities to create them, as rootless podman does: before each unshare() below, "
            "the helper calls unshare(CLONE_NEWUSER) and isodemo writes its uid_map, setgroups and gid_map. "
            "`isodemo user` shows those steps one by one.",
            uid=uid,
        )
    )
    narrator.fact("rootless", True)


def execute(
    name: str,
    opts: GlobalOptions,
    body: Body,
    *,
    needs_root: bool,
    options: dict[str, Any] | None = None,
    rootless_cgroups: bool = False,
    rootless_namespaces: bool = False,
) -> int:
    """Run a demo or tool `body(narrator, ctx)` and return the exit code.

    `rootless_cgroups`: without root, the demo may still run in a cgroup v2 subtree delegated to the user.
    `rootless_namespaces`: without root, the demo runs inside a user namespace, when this machine allows one.
    """
    from isodemo.context import DemoContext

    narrator = narrator_for(opts)
    host = hostinfo.probe()
    delegated = None
    refused: IsodemoError | Interrupted | None = None
    if needs_root and rootless_cgroups and host.linux and not host.root:
        from isodemo.cgroups import delegation

        try:  # before any output: this may re-execute isodemo under systemd-run
            with signals.interrupts_unwind():  # a signal here ends the run as one during the demo
                entry = catalog.BY_NAME.get(name)
                delegated = delegation.rootless_base(
                    host.cgroup_mode, hostinfo.command_line(), entry.controllers if entry else ()
                )
        except (IsodemoError, Interrupted) as error:
            refused = error
    in_userns = False
    if needs_root and rootless_namespaces and host.linux and not host.root:
        from isodemo import rootless

        try:
            with signals.interrupts_unwind():  # a signal during the check ends the run as one during the demo
                blocker = rootless.check()
        except (IsodemoError, Interrupted) as error:  # a namespace limit refused it, or a signal: say it, stop
            refused = error
        else:
            if blocker is None:
                in_userns = True
            else:
                refused = rootless.needs_root_instead(name, hostinfo.command_line(), blocker)
    narrator.begin(name, host.summary())
    # --json: one object for programs, the same in every language (its texts too), so always English
    wanted = "en" if opts.json else i18n.choose(opts.lang, os.environ)
    if i18n.language() != wanted and not i18n.set_language(wanted):  # asked for, not installed: say so
        narrator.note("한국어 카탈로그가 없어 영어로 진행합니다: sudo ./setup.sh (the Korean catalog is not built)")
    run = Run.new()
    code = ExitCode.OK
    with signals.interrupts_unwind():
        try:
            try:
                hostinfo.require_linux()
                if refused:
                    raise refused
                if needs_root and not delegated and not in_userns:
                    _require_root(name, host)
                preflight.check(name, host)  # tools, controllers, kernel features: before anything is created
                run.register()
                with contextlib.ExitStack() as stack:
                    ctx = DemoContext(run, host, stack, opts.hold, options or {})
                    try:
                        if delegated:
                            _work_in_delegated_cgroup(narrator, ctx, delegated)
                        if in_userns:
                            _work_in_user_namespace(narrator, ctx)
                        body(narrator, ctx)
                    finally:
                        signals.disarm()  # the teardown below must not be cut short by a second signal
            finally:
                signals.disarm()  # from here on a signal must not cut the teardown or the report short
        except IsodemoError as error:
            code = error.exit_code
            narrator.fail(error, code)
        except Interrupted as interrupt:
            code = ExitCode.INTERRUPTED
            _interrupted(narrator, interrupt.signame)
        except OutputClosed:
            if signals.received():  # a hung-up terminal fails the write and sends SIGHUP: the signal says why
                code = ExitCode.INTERRUPTED
                _interrupted(narrator, signals.received() or "")
            else:  # the reader quit (`| head`, `less`): not an error to tell (to nobody); the code says it
                code = ExitCode.OUTPUT_CLOSED
                narrator.report.error = ErrorInfo("OutputClosed", "stdout was closed by its reader", None, code)
        except KeyboardInterrupt:
            code = ExitCode.INTERRUPTED
            narrator.fail(
                IsodemoError(_("interrupted; the teardown ran (leftovers, if any, are listed)")),
                code,
                kind="Interrupted",
            )
        except OSError as error:
            # A syscall failed where no demo expected it: this machine lacks or forbids something.
            code = ExitCode.MISSING_FEATURE
            name = errno.errorcode.get(error.errno or 0, "")
            narrator.fail(
                IsodemoError(
                    _("a system call failed: {error} {name}", error=error, name=name).rstrip(),
                    _("`isodemo doctor` shows what this machine supports"),
                ),
                code,
                kind=type(error).__name__,
            )
        except Exception as error:
            code = ExitCode.INTERNAL
            traceback.print_exc()
            narrator.fail(
                IsodemoError(
                    _("internal error, a bug in isodemo: {kind}: {error}", kind=type(error).__name__, error=error),
                    _("please report it with the traceback above"),
                ),
                code,
                kind=type(error).__name__,
            )
        left = leftovers.of_run(run) if host.linux else []
        if not left:  # with leftovers, the record stays: it is what lets `isodemo cleanup` remove them
            run.unregister()
        report = narrator.finish(left)
        if code == ExitCode.OK and not report.ok:
            code = ExitCode.OBSERVATION_FAILED
        if code == ExitCode.OK and getattr(narrator.out, "lost", False):  # the report itself found no reader
            code = ExitCode.OUTPUT_CLOSED
        # A signal from here on finds the work done and cleaned: it changes nothing, the process exits
        # with this code at once (in the isodemo process; a test calling execute gets its handlers back).
        signals.report_done(code)
        testpoints.hit("runner.reported")
    return int(code)


def _interrupted(narrator: Narrator, signame: str) -> None:
    narrator.fail(
        IsodemoError(_("interrupted by {signal}; the teardown ran (leftovers, if any, are listed)", signal=signame)),
        ExitCode.INTERRUPTED,
        kind="Interrupted",
    )
