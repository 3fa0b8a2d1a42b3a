"""timens: a time namespace shifts the boot and monotonic clocks, never the wall clock.

What you will see: a child in a new time namespace reads CLOCK_BOOTTIME and CLOCK_MONOTONIC ahead of the
host's by exactly the offsets its creator wrote to /proc/self/timens_offsets; its uptime is longer; its
CLOCK_REALTIME is the host's.
Kubernetes: no Pod field sets clock offsets; they exist for checkpoint/restore (CRIU), which the kubelet's
container checkpoint API uses.
"""

from __future__ import annotations

from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.i18n import _, ngettext
from isodemo.kernel import namespaces, timens
from isodemo.narrate.base import Narrator

EPSILON = 1e-6  # float rounding of clock_gettime() values in seconds


def run(narrator: Narrator, ctx: DemoContext) -> None:
    offsets = {"monotonic": int(ctx.options.get("monotonic") or 0), "boottime": int(ctx.options.get("boottime") or 0)}
    text = " ".join(f"--{clock} {seconds}" for clock, seconds in offsets.items())
    narrator.step(
        _("A time namespace, with offsets written before its first process"),
        syscalls=[
            "unshare(CLONE_NEWTIME)",
            "write(/proc/self/timens_offsets, "
            f'"monotonic {offsets["monotonic"]} 0\\nboottime {offsets["boottime"]} 0")',
            "clone(SIGCHLD)  (fork)",
        ],
        shell=[ctx.as_root(f"unshare --time {text} --fork sh")],
    )
    narrator.explain(
        _(
            "Like a pid namespace, unshare(CLONE_NEWTIME) does not move the caller (the clocks of a running "
            "program must not jump): it sets the namespace its children will be born in, "
            "/proc/self/ns/time_for_children (newer kernels also move the caller itself at its next execve()). "
            "Until the first process enters it, the offsets can be written to /proc/self/timens_offsets; then "
            "they are frozen."
        )
    )
    box = ctx.isolated(["time"], time_offsets=offsets)
    helper_time = namespaces.ns_link(box.helper_pid, "time")
    helper_children = namespaces.ns_link(box.helper_pid, "time_for_children")
    narrator.compare(
        _("the helper, pid {pid}, that called unshare()", pid=box.helper_pid),
        [f"ns/time:              {helper_time}"],
        [f"ns/time_for_children: {helper_children}"],
        host_title=_("its own namespace"),
        inside_title=_("its children's"),
    )
    show_namespace_identity(narrator, box, "time")
    narrator.claim(
        _("the helper itself stayed in the host's time namespace"),
        helper_time == namespaces.ns_link("self", "time") and helper_children == namespaces.ns_link(box.pid, "time"),
    )
    seen = timens.read_offsets(box.pid)
    narrator.compare(
        f"cat /proc/{box.pid}/timens_offsets", _offset_lines(timens.read_offsets("self")), _offset_lines(seen)
    )
    narrator.claim(
        _("the child's namespace has exactly the offsets written"),
        all(abs(seen.get(clock, 0.0) - seconds) < EPSILON for clock, seconds in offsets.items()),
    )

    narrator.step(
        _("The clocks, read from both sides at the same moment"),
        syscalls=[f"clock_gettime({name}, &ts)" for name in ("CLOCK_MONOTONIC", "CLOCK_BOOTTIME", "CLOCK_REALTIME")],
        shell=["cat /proc/uptime", "date +%s.%N"],
    )
    narrator.explain(
        _(
            "isodemo reads the host's clocks, asks the child for its own, and reads the host's again. The "
            "child's reading happened between the two, so each shifted clock must lie between host-before + "
            "offset and host-after + offset, to the microsecond; the wall clock between the two, unshifted."
        )
    )
    before = timens.clocks()
    inside = box.call(timens.clocks)
    after = timens.clocks()
    expected = {**offsets, "realtime": 0}
    rows = []
    for clock, offset in expected.items():
        measured = inside[clock] - (before[clock] + after[clock]) / 2
        rows.append([f"CLOCK_{clock.upper()}", f"{before[clock]:.3f}", f"{inside[clock]:.3f}", f"{measured:+.3f} s"])
        narrator.fact(f"{clock}_offset_s", round(measured, 3), show=False)
        name = f"CLOCK_{clock.upper()}"
        narrator.claim(
            _("{clock} inside is the host's + {offset} s", clock=name, offset=offset)
            if offset
            else _("{clock} inside is exactly the host's (not shifted)", clock=name),
            before[clock] + offset - EPSILON <= inside[clock] <= after[clock] + offset + EPSILON,
        )
    narrator.table(_("clock_gettime(), seconds"), [_("clock"), _("host"), _("inside"), _("inside - host")], rows)

    narrator.step(
        _("uptime"),
        syscalls=['openat(AT_FDCWD, "/proc/uptime", O_RDONLY)', "read(fd, ...)"],
        shell=["uptime -p", "cat /proc/uptime"],
    )
    host_before = timens.uptime()
    inside_up = narrator.fact("uptime_inside_s", box.call(timens.uptime))
    host_after = narrator.fact("uptime_host_s", timens.uptime())
    narrator.compare(_("uptime (/proc/uptime)"), _duration(host_after), _duration(inside_up))
    narrator.claim(
        _(
            "uptime inside is the host's + {offset} s (/proc/uptime counts in 10 ms steps)",
            offset=offsets["boottime"],
        ),
        host_before + offsets["boottime"] - 0.01 <= inside_up <= host_after + offsets["boottime"] + 0.01,
    )

    ctx.hold_here(
        narrator,
        {"timens": box.pid},
        [f"cat /proc/{box.pid}/timens_offsets", ctx.as_root(f"nsenter -t {box.pid} --time cat /proc/uptime")],
    )
    narrator.explain(
        _(
            "Why this exists: CRIU checkpoints a running container to disk and restores it later, perhaps on "
            "another machine that booted at another time. Without a time namespace, the restored processes would "
            "see CLOCK_MONOTONIC jump (even backwards), and every timeout computed from it break; CRIU creates a "
            "time namespace whose offsets make the clocks continue from where they stopped."
        )
    )
    narrator.kubernetes(
        _(
            "No Pod field sets clock offsets: a container reads the node's clocks. Time namespaces serve container "
            "checkpoint/restore: the kubelet's checkpoint API (ContainerCheckpoint, beta since Kubernetes 1.30) "
            "has the runtime use CRIU, and runc's config has linux.timeOffsets for the restore."
        )
    )


def _offset_lines(offsets: dict[str, float]) -> list[str]:
    return [f"{clock} {seconds:.0f} s" for clock, seconds in offsets.items()] or [_("(none)")]


def _duration(seconds: float) -> str:
    """`uptime -p` style: 7 days, 3:02:01."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return ngettext("{n} day, {clock}", "{n} days, {clock}", days, clock=clock) if days else clock
