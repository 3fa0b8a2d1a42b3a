"""`isodemo run`: the values that name something of the host, checked against it: a block device
(--device-write-bps), a host port (-p), a host path (-v), isodemo's own environment (-e K, --env-file).

Called by container/option_values.py's set_value, with its errors: a bad value is a RunError (exit 125)
that names the option and its whole value, in docker's words.
"""

from __future__ import annotations

import os

from isodemo.container.option_values import checked, invalid, shown, whole
from isodemo.container.options import Option
from isodemo.container.spec import PROPAGATIONS, Publish, Volume
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~7 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_FILE_MAX = 1 << 20  # an environment file is a few lines; this keeps `--env-file /dev/zero` finite


def device_rate(option: Option, value: str) -> tuple[str, int]:
    """`/dev/sda:1mb` or `8:0:1mb`: a block device (by path or MAJ:MIN) and bytes per second, at least 4k."""
    import stat

    from isodemo import values

    device, colon, rate_text = value.rpartition(":")
    hint = _("use DEVICE:RATE with a block device, for example /dev/sda:1mb")
    if not colon or not device:
        raise invalid(option, value, _("not DEVICE:RATE"), hint)
    if device.startswith("/"):
        try:
            is_block = stat.S_ISBLK(os.stat(device).st_mode)
        except (OSError, ValueError):
            is_block = False
        if not is_block:
            raise invalid(option, value, _("{device} is not a block device", device=shown(device)), hint)
    else:
        major, colon, minor = device.partition(":")
        if not (colon and _small_number(major) and _small_number(minor)):
            raise invalid(option, value, _("{device} is neither a device path nor MAJ:MIN", device=shown(device)), hint)
    rate = checked(option, value, lambda text: values.size_bytes(text, what=_("rate")), rate_text)
    if rate < values.IO_RATE_MIN:
        raise invalid(option, value, _("rate {value} is below 4k per second", value=shown(rate_text)), hint)
    if rate > values.LIMIT_MAX:
        raise invalid(option, value, _("rate {value} is more than a cgroup can hold", value=shown(rate_text)), hint)
    return device, rate


def _small_number(text: str) -> bool:
    return 0 < len(text) <= 10 and text.isascii() and text.isdigit()


def publish(option: Option, value: str) -> Publish:
    """HOST:CONTAINER[/tcp]: docker's other forms (an address, a range, one port, udp) are refused."""
    ports, slash, protocol = value.partition("/")
    hint = _("use HOST:CONTAINER with two TCP ports, for example -p 8080:80")
    if slash and protocol != "tcp":
        raise invalid(option, value, _("only TCP ports are published"), hint)
    parts = ports.split(":")
    if len(parts) != 2:
        raise invalid(option, value, _("give the host's port and the container's, and nothing else"), hint)
    host, container = (whole(option, value, _("port"), (1, 65535, 8080), text=part) for part in parts)
    return Publish(host, container)


def volume(option: Option, value: str) -> Volume:
    """SRC:DST[:ro|:rw], both absolute, SRC existing; docker's named and anonymous volumes are refused."""
    hint = _("use SRC:DST[:ro] with absolute paths, for example -v /srv/data:/data:ro")
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise invalid(option, value, _("give the host path and the path inside: SRC:DST[:ro]"), hint)
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else ["rw"]
    propagation = "rprivate"
    for mode in modes:
        if mode in PROPAGATIONS:
            propagation = mode
        elif mode not in ("ro", "rw"):
            raise invalid(
                option, value, _("unknown mode {mode}", mode=shown(mode)), _("use :ro or :rw, and rslave or rshared")
            )
    if not source.startswith("/"):
        raise invalid(option, value, _("the host path must be absolute (there are no named volumes)"), hint)
    if not os.path.exists(source):
        raise invalid(option, value, _("the host path {path} does not exist", path=shown(source)), hint)
    if not target.startswith("/"):
        raise invalid(option, value, _("the path inside the container must be absolute"), hint)
    target = os.path.normpath(target)
    if target in ("/", "//"):
        raise invalid(option, value, _("a volume cannot be mounted over the container's /"), hint)
    return Volume(os.path.normpath(source), target, "ro" in modes, propagation)


def env(option: Option, value: str, environ: Mapping[str, str]) -> str | None:
    """K=V as given; K alone takes K's value from isodemo's environment, and is left out when K is not set
    there (docker does the same)."""
    name, equals, _value = value.partition("=")
    if not name:
        raise invalid(option, value, _("no variable name"), _("use K=V, or K alone to pass K's value from here"))
    if equals:
        return value
    return f"{name}={environ[name]}" if name in environ else None


def env_file(option: Option, path: str, environ: Mapping[str, str]) -> list[str]:
    """docker's --env-file format: a K=V per line, its value taken as written (no quotes, no trimming); blank
    lines and lines starting with # skipped; leading whitespace dropped; K alone takes its value from isodemo's
    environment; a name with whitespace in it is refused (`export K=V` included)."""
    hint = _("give a readable file of K=V lines, for example one written by `env`")
    try:
        with open(path, "rb") as source:
            data = source.read(ENV_FILE_MAX + 1)
    except OSError as error:
        raise invalid(option, path, error.strerror or str(error), hint) from None
    if len(data) > ENV_FILE_MAX:
        raise invalid(option, path, _("the file is larger than 1 MiB"), hint)
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line_bytes = raw[:-1] if raw.endswith(b"\r") else raw
        if number == 1 and line_bytes.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
            line_bytes = line_bytes[3:]
        try:
            line = line_bytes.decode("utf-8").lstrip()
        except UnicodeDecodeError:
            raise invalid(option, path, _("line {number} is not UTF-8", number=number), hint) from None
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not name:
            raise invalid(option, path, _("line {number} has no variable name", number=number), hint)
        if " " in name or "\t" in name:
            raise invalid(
                option,
                path,
                _("line {number}: the variable name {name} contains whitespace", number=number, name=shown(name)),
                hint,
            )
        if "\0" in line:
            raise invalid(option, path, _("line {number} contains a NUL byte", number=number), hint)
        if equals:
            found.append(f"{name}={value}")
        elif name in environ:
            found.append(f"{name}={environ[name]}")
    return found
