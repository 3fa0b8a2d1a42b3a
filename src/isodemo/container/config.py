"""The container's process from the image's config and the command line, as Docker combines them. Pure logic.

- argv: the image's Entrypoint, then the command given after IMAGE, or else the image's Cmd.
- env: the image's Env, then --env-file and -e (a later K replaces an earlier one); PATH, HOSTNAME and HOME
  as Docker adds them when missing; TERM=xterm with -t.
- user: -u, else the image's User; a name is looked up in the image's /etc/passwd; the groups are the
  primary group and every /etc/group entry that lists the user by name.
- /etc/hostname, /etc/hosts, /etc/resolv.conf: the files Docker writes for each container and binds over the
  image's own.
"""

from __future__ import annotations

from isodemo.errors import RunError
from isodemo.i18n import _

TYPE_CHECKING = False  # collections.abc imports collections (~1 ms of every start); mypy treats this as true
if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Docker's fallback when no usable nameserver is left (libnetwork/resolvconf: defaultIPv4Dns)
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def command(entrypoint: Sequence[str], cmd: Sequence[str], given: Sequence[str]) -> tuple[str, ...]:
    argv = (*entrypoint, *(given or cmd))
    if not argv:
        raise RunError(
            _("no command specified: the image has no Cmd or Entrypoint"),
            _("give one after the image, for example: isodemo run IMAGE sh"),
        )
    return argv


def environment(
    image_env: Sequence[str], given: Sequence[str], *, hostname: str, home: str, tty: bool
) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for entry in (*image_env, *given):
        key, _sep, value = entry.partition("=")
        merged.pop(key, None)  # a later definition moves to the end, as in Docker's list
        merged[key] = value
    defaults = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname, "HOME": home}
    if tty:
        defaults["TERM"] = "xterm"
    for key, value in defaults.items():
        merged.setdefault(key, value)
    return tuple(f"{key}={value}" for key, value in merged.items())


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def user(
    spec_user: tuple[int, int | None] | None, image_user: str, passwd: str, group: str
) -> tuple[int, int, tuple[int, ...], str]:
    """(uid, gid, supplementary groups, home) for the container's process."""
    users = [fields for fields in _table(passwd) if len(fields) >= 6]
    uid: int
    gid: int | None
    if spec_user is not None:
        uid, gid = spec_user
    elif image_user:
        name, _sep, group_part = image_user.partition(":")
        if name.isdigit():
            uid = int(name)
        else:
            match = [fields for fields in users if fields[0] == name and fields[2].isdigit()]
            if not match:
                raise RunError(
                    _("unable to find user {name}: no matching entries in the image's /etc/passwd", name=name)
                )
            uid = int(match[0][2])
        gid = _group_id(group_part, group) if group_part else None
    else:
        uid, gid = 0, None
    entry = next((fields for fields in users if fields[2] == str(uid)), None)
    if gid is None:
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    if entry is not None and not entry[5].startswith("/"):
        entry = [*entry[:5], ""]  # a home that is not a path: Docker's default instead
    home = entry[5] if entry and entry[5] else ("/root" if uid == 0 else "/")
    login = entry[0] if entry else None
    groups = [gid]
    for fields in _table(group):
        if len(fields) >= 4 and login and login in fields[3].split(",") and fields[2].isdigit():
            groups.append(int(fields[2]))
    return uid, gid, tuple(dict.fromkeys(groups)), home


def _group_id(name: str, group: str) -> int:
    """The gid of `name` (a number, or a name in the image's /etc/group), as Docker resolves User's group."""
    if name.isdigit():
        return int(name)
    match = [fields for fields in _table(group) if len(fields) >= 3 and fields[0] == name and fields[2].isdigit()]
    if not match:
        raise RunError(_("unable to find group {name}: no matching entries in the image's /etc/group", name=name))
    return int(match[0][2])


def hosts_file(hostname: str, address: str | None) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    if address:
        lines.append(f"{address}\t{hostname}")
    return "\n".join(lines) + "\n"


def resolv_conf(host_text: str, *, host_network: bool) -> str:
    """The host's resolv.conf; outside the host's network, without nameservers on loopback (a resolver on
    127.0.0.53 is not reachable from a container's own network namespace), as Docker filters it."""
    if host_network:
        return host_text
    kept = []
    for line in host_text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and (words[1].startswith("127.") or words[1] == "::1"):
            continue
        kept.append(line)
    if not any(line.split()[:1] == ["nameserver"] for line in kept):
        kept += [f"nameserver {server}" for server in FALLBACK_NAMESERVERS]
    return "\n".join(kept) + "\n"
