"""What `isodemo run` was asked to do: the parsed command line, as plain data (no click, no kernel).

`container/argv.py` builds a RunSpec from `docker run`-style arguments; `container/runtime.py` turns it
into kernel objects. Every value here is already checked (sizes parsed, names known): what is left to fail
is the machine, not the input.

Plain classes, not dataclasses: this module is on the start-up path of `isodemo run busybox /bin/true`, and
`dataclasses` (with the `inspect` it imports) costs ~5 ms of it. They compare, hash and print as the frozen
dataclasses they were; mypy keeps them read-only (Final).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Final

NETWORKS = ("none", "bridge", "host")
DEFAULT_STOP_TIMEOUT = 10.0  # seconds between the forwarded signal and SIGKILL, as `docker stop`


class Volume:
    """`-v HOST:CONTAINER[:ro][,rslave|,rshared]`: a bind mount of a host path into the container, with the
    propagation of its mount (docker's names; containerd's for a Kubernetes volume's mountPropagation)."""

    __slots__ = ("container", "host", "propagation", "readonly")

    def __init__(self, host: str, container: str, readonly: bool = False, propagation: str = "rprivate") -> None:
        self.host: Final = host  # absolute, exists
        self.container: Final = container  # absolute, inside the container
        self.readonly: Final = readonly
        self.propagation: Final = propagation  # one of PROPAGATIONS

    def _values(self) -> tuple[str, str, bool, str]:
        return (self.host, self.container, self.readonly, self.propagation)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Volume) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (
            f"Volume(host={self.host!r}, container={self.container!r}, readonly={self.readonly!r}, "
            f"propagation={self.propagation!r})"
        )


# A volume's mount propagation (mount(2) with MS_REC): none (rprivate, the default), host to container (rslave),
# both ways (rshared). The container's / gets the strongest one of its volumes, as containerd asks runc to.
PROPAGATIONS = ("rprivate", "rslave", "rshared")


def root_propagation(volumes: tuple[Volume, ...]) -> str:
    """containerd's rootfsPropagation for these volumes (internal/cri/opts/spec_linux_opts.go WithMounts):
    rshared when one is rshared, else rslave when one is rslave; else rprivate (runc's own default is rslave:
    isodemo keeps a private / when no volume needs more)."""
    wanted = {volume.propagation for volume in volumes}
    return next((name for name in ("rshared", "rslave") if name in wanted), "rprivate")


class Publish:
    """`-p HOST:CONTAINER`: a TCP port of the host forwarded (nftables DNAT) to one of the container."""

    __slots__ = ("container_port", "host_port")

    def __init__(self, host_port: int, container_port: int) -> None:
        self.host_port: Final = host_port
        self.container_port: Final = container_port

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Publish) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.host_port, self.container_port) == (other.host_port, other.container_port)

    def __hash__(self) -> int:
        return hash((self.host_port, self.container_port))

    def __repr__(self) -> str:
        return f"Publish(host_port={self.host_port!r}, container_port={self.container_port!r})"


_FIELDS = (
    "image",
    "command",
    "rootfs",
    "name",
    "hostname",
    "memory",
    "memory_swap",
    "cpus",
    "cpu_shares",
    "pids_limit",
    "device_write_bps",
    "network",
    "pid_host",
    "userns",
    "publish",
    "volumes",
    "cap_add",
    "cap_drop",
    "privileged",
    "no_new_privileges",
    "seccomp",
    "init",
    "env",
    "workdir",
    "user",
    "interactive",
    "tty",
    "stop_timeout",
    "verbose",
    "json",
    "extra",
)


class RunSpec:
    """Everything `isodemo run` was asked; read-only once parsed."""

    __slots__ = _FIELDS

    def __init__(
        self,
        image: str | None,
        *,
        command: tuple[str, ...] = (),
        rootfs: str | None = None,
        name: str | None = None,
        hostname: str | None = None,
        memory: int | None = None,
        memory_swap: int | None = None,
        cpus: float | None = None,
        cpu_shares: int | None = None,
        pids_limit: int | None = None,
        device_write_bps: tuple[tuple[str, int], ...] = (),
        network: str = "none",
        pid_host: bool = False,
        userns: bool = False,
        publish: tuple[Publish, ...] = (),
        volumes: tuple[Volume, ...] = (),
        cap_add: tuple[str, ...] = (),
        cap_drop: tuple[str, ...] = (),
        privileged: bool = False,
        no_new_privileges: bool = False,
        seccomp: bool = True,
        init: bool = False,
        env: tuple[str, ...] = (),
        workdir: str | None = None,
        user: tuple[int, int | None] | None = None,
        interactive: bool = False,
        tty: bool = False,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        verbose: bool = False,
        json: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.image: Final = image  # "busybox", a path to a tarball, or a name from `isodemo images`; None with rootfs
        self.command: Final = command  # empty: the image's Entrypoint + Cmd
        self.rootfs: Final = rootfs  # --rootfs DIR instead of an image
        self.name: Final = name
        self.hostname: Final = hostname
        # cgroups (None: no limit; the container still gets its own cgroup)
        self.memory: Final = memory  # bytes
        self.memory_swap: Final = memory_swap  # bytes of memory + swap, -1 unlimited (docker's meaning)
        self.cpus: Final = cpus
        self.cpu_shares: Final = cpu_shares  # docker's cgroup v1 unit (1024 = default); v2 converts to cpu.weight
        self.pids_limit: Final = pids_limit
        self.device_write_bps: Final = device_write_bps  # (path or MAJ:MIN, bytes/s)
        # namespaces
        self.network: Final = network
        self.pid_host: Final = pid_host
        self.userns: Final = userns
        self.publish: Final = publish
        self.volumes: Final = volumes
        # privileges
        self.cap_add: Final = cap_add  # kernel names without CAP_ ("NET_ADMIN"), or "ALL"
        self.cap_drop: Final = cap_drop
        self.privileged: Final = privileged
        self.no_new_privileges: Final = no_new_privileges
        self.seccomp: Final = seccomp  # False: --security-opt seccomp=unconfined
        self.init: Final = init
        # the process
        self.env: Final = env  # K=V in the order given: --env-file lines first, then each -e
        self.workdir: Final = workdir
        self.user: Final = user  # -u UID[:GID]
        self.interactive: Final = interactive  # -i
        self.tty: Final = tty  # -t
        self.stop_timeout: Final = stop_timeout
        # output
        self.verbose: Final = verbose
        self.json: Final = json
        self.extra: Final[dict[str, str]] = (
            {} if extra is None else extra
        )  # global options seen on the line (--lang, --plain)

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunSpec) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())  # TypeError, as the frozen dataclass: `extra` is a dict

    def __repr__(self) -> str:
        return "RunSpec(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS) + ")"
