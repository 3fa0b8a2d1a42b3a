"""What `isodemo run` was asked to do: the parsed command line, as plain data (no click, no kernel).

`container/argv.py` builds a RunSpec from `docker run`-style arguments; `container/runtime.py` turns it
into kernel objects. Every value here is already checked (sizes parsed, names known): what is left to fail
is the machine, not the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NETWORKS = ("none", "bridge", "host")
DEFAULT_STOP_TIMEOUT = 10.0  # seconds between the forwarded signal and SIGKILL, as `docker stop`


@dataclass(frozen=True)
class Volume:
    """`-v HOST:CONTAINER[:ro]`: a bind mount of a host path into the container."""

    host: str  # absolute, exists
    container: str  # absolute, inside the container
    readonly: bool = False


@dataclass(frozen=True)
class Publish:
    """`-p HOST:CONTAINER`: a TCP port of the host forwarded (nftables DNAT) to one of the container."""

    host_port: int
    container_port: int


@dataclass(frozen=True)
class RunSpec:
    image: str | None  # "busybox", a path to a tarball, or a name from `isodemo images`; None with rootfs
    command: tuple[str, ...] = ()  # empty: the image's Entrypoint + Cmd
    rootfs: str | None = None  # --rootfs DIR instead of an image
    name: str | None = None
    hostname: str | None = None
    # cgroups (None: no limit; the container still gets its own cgroup)
    memory: int | None = None  # bytes
    memory_swap: int | None = None  # bytes of memory + swap, -1 unlimited (docker's meaning)
    cpus: float | None = None
    cpu_shares: int | None = None  # docker's cgroup v1 unit (1024 = default); v2 converts to cpu.weight
    pids_limit: int | None = None
    device_write_bps: tuple[tuple[str, int], ...] = ()  # (path or MAJ:MIN, bytes/s)
    # namespaces
    network: str = "none"
    pid_host: bool = False
    userns: bool = False
    publish: tuple[Publish, ...] = ()
    volumes: tuple[Volume, ...] = ()
    # privileges
    cap_add: tuple[str, ...] = ()  # kernel names without CAP_ ("NET_ADMIN"), or "ALL"
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp: bool = True  # False: --security-opt seccomp=unconfined
    init: bool = False
    # the process
    env: tuple[str, ...] = ()  # K=V in the order given: --env-file lines first, then each -e
    workdir: str | None = None
    user: tuple[int, int | None] | None = None  # -u UID[:GID]
    interactive: bool = False  # -i
    tty: bool = False  # -t
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    # output
    verbose: bool = False
    json: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # global options seen on the line (--lang, --plain)
