"""What an image is once it is in the store: `Image` (its layers, lowest first) and `ImageConfig` (how to run it).

`ImageConfig` keeps the five fields of an image config's `config` object that `isodemo run` honours
(OCI image-spec, config.md: Entrypoint, Cmd, Env, WorkingDir, User). `config_from_json` reads them from the
config JSON of a docker-save or OCI tarball and refuses a malformed one, and one execve(2) or the runtime
could not take: a NUL byte in any of them (no argument, environment string or path can hold one), a
WorkingDir that is not absolute (Docker requires one), a User other than a name or id of [A-Za-z0-9._-],
optionally `:` and a group of the same.

Plain classes, not dataclasses: this module is on `isodemo run`'s start-up path, where every import counts.
"""

from __future__ import annotations

from isodemo.errors import ImageError
from isodemo.i18n import _

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # docker's default PATH
USER_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class ImageConfig:
    """How the image says to run it: `entrypoint` + `cmd` is the command, `env` holds "K=V" strings,
    `workdir` "" means /, `user` "" means root (else "uid", "uid:gid" or a name, as the image wrote it)."""

    __slots__ = ("cmd", "entrypoint", "env", "user", "workdir")

    def __init__(
        self,
        *,
        entrypoint: tuple[str, ...] = (),
        cmd: tuple[str, ...] = (),
        env: tuple[str, ...] = (),
        workdir: str = "",
        user: str = "",
    ) -> None:
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.env = env
        self.workdir = workdir
        self.user = user

    def as_dict(self) -> dict[str, object]:
        return {
            "entrypoint": list(self.entrypoint),
            "cmd": list(self.cmd),
            "env": list(self.env),
            "workdir": self.workdir,
            "user": self.user,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ImageConfig:
        """The inverse of as_dict (a record the store wrote itself: checked again all the same, it may be older
        than a check)."""
        return _checked(
            cls(
                entrypoint=_strings(data.get("entrypoint"), "entrypoint", "record"),
                cmd=_strings(data.get("cmd"), "cmd", "record"),
                env=_strings(data.get("env"), "env", "record"),
                workdir=_string(data.get("workdir"), "workdir", "record"),
                user=_string(data.get("user"), "user", "record"),
            ),
            "record",
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageConfig) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.entrypoint, self.cmd, self.env, self.workdir, self.user))

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.as_dict().items())
        return f"ImageConfig({fields})"


class Image:
    """An image ready to run: `layers` are unpacked directories, LOWEST first (overlayfs's lowerdir= wants
    them highest first: reverse them). `id` is "sha256:<hex>" for an image of the store, "" for --rootfs."""

    __slots__ = ("config", "created_by", "id", "layers", "name", "size_bytes")

    def __init__(
        self,
        name: str,
        id: str,
        layers: tuple[str, ...],
        config: ImageConfig,
        *,
        size_bytes: int = 0,
        created_by: str = "",
    ) -> None:
        self.name = name
        self.id = id
        self.layers = layers
        self.config = config
        self.size_bytes = size_bytes
        self.created_by = created_by  # where it came from: the busybox binary, the tarball, the directory

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of the id, as `docker images` shows it."""
        return self.id.partition(":")[2][:12]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and (
            self.name,
            self.id,
            self.layers,
            self.config,
            self.size_bytes,
            self.created_by,
        ) == (other.name, other.id, other.layers, other.config, other.size_bytes, other.created_by)

    def __hash__(self) -> int:
        return hash((self.name, self.id, self.layers))

    def __repr__(self) -> str:
        return f"Image(name={self.name!r}, id={self.id!r}, layers={len(self.layers)}, size_bytes={self.size_bytes})"


def config_from_json(document: object, where: str) -> ImageConfig:
    """The run settings of an image config JSON (its `config` object may be absent or null: all defaults)."""
    if not isinstance(document, dict):
        raise ImageError(_("{where}: the image config is not a JSON object", where=where))
    settings = document.get("config") or {}
    if not isinstance(settings, dict):
        raise ImageError(_("{where}: the image config's `config` is not a JSON object", where=where))
    return _checked(
        ImageConfig(
            entrypoint=_strings(settings.get("Entrypoint"), "Entrypoint", where),
            cmd=_strings(settings.get("Cmd"), "Cmd", where),
            env=_strings(settings.get("Env"), "Env", where),
            workdir=_string(settings.get("WorkingDir"), "WorkingDir", where),
            user=_string(settings.get("User"), "User", where),
        ),
        where,
    )


def _checked(config: ImageConfig, where: str) -> ImageConfig:
    """`config`, unless a field holds what execve(2) or the runtime cannot take (see the module's docstring)."""
    fields = (
        ("Entrypoint", config.entrypoint),
        ("Cmd", config.cmd),
        ("Env", config.env),
        ("WorkingDir", (config.workdir,)),
        ("User", (config.user,)),
    )
    for field, values in fields:
        if any("\0" in value for value in values):
            raise ImageError(
                _(
                    "{where}: {field} holds a NUL byte, which no command, environment or path can hold",
                    where=where,
                    field=field,
                )
            )
    if config.workdir and not config.workdir.startswith("/"):
        from isodemo.values import shown

        raise ImageError(
            _("{where}: WorkingDir {path} is not an absolute path", where=where, path=shown(config.workdir))
        )
    user, _sep, group = config.user.partition(":")
    if not USER_CHARACTERS.issuperset(user) or not USER_CHARACTERS.issuperset(group):
        from isodemo.values import shown

        raise ImageError(
            _(
                "{where}: User {user} is not a user name or id, optionally with :group "
                "(letters, digits, '.', '_' and '-')",
                where=where,
                user=shown(config.user),
            )
        )
    return config


def diff_ids_from_json(document: object, where: str) -> list[str]:
    """rootfs.diff_ids: the sha256 of each layer's uncompressed tar, lowest layer first (hex)."""
    rootfs = document.get("rootfs") if isinstance(document, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise ImageError(_("{where}: the image config has no rootfs.diff_ids list", where=where))
    return [hex_of_digest(item, where) for item in ids]


def hex_of_digest(digest: str, where: str) -> str:
    """ "sha256:<64 hex digits>" -> the hex; any other algorithm or form is refused."""
    algorithm, _sep, hexdigits = digest.partition(":")
    if algorithm != "sha256" or len(hexdigits) != 64 or any(c not in "0123456789abcdef" for c in hexdigits):
        raise ImageError(_("{where}: {digest} is not a sha256 digest", where=where, digest=digest))
    return hexdigits


def _strings(value: object, field: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ImageError(_("{where}: {field} must be a list of strings", where=where, field=field))


def _string(value: object, field: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise ImageError(_("{where}: {field} must be a string", where=where, field=field))
