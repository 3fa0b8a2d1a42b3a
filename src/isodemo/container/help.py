"""`isodemo run --help`: the usage lines, what a run does, the option table (container/options.py), docker's
exit statuses and examples, in the current language and wrapped to 80 terminal cells.

Imported only when the help is asked for (container/argv.py's help_text, or click's `isodemo run --help`).
"""

from __future__ import annotations

from isodemo.container.options import OPTIONS, USAGE, USAGE_ROOTFS
from isodemo.i18n import N_, _

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
