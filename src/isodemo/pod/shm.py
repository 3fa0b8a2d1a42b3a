"""The sandbox's /dev/shm: one tmpfs of the pod, bound over /dev/shm in each of its containers.

containerd mounts it for the sandbox (`defaultShmSize` 64 MiB) under its state directory
(/run/containerd/io.containerd.grpc.v1.cri/sandboxes/<id>/shm) and every container of the pod bind-mounts it:
that is why a file in /dev/shm is seen by all of them, although each has its own mount namespace. isodemo
mounts it on /tmp/isodemo-<run>-shm (`isodemo cleanup` knows that name: a mount, then a directory).
"""

from __future__ import annotations

import contextlib
import os
from types import TracebackType

from isodemo.kernel import mount
from isodemo.runs import SHARED_TMP, Run

SHM_FLAGS = mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC
SHM_OPTIONS = "mode=1777,size=65536k"


class SandboxShm:
    """Owns /tmp/isodemo-<run>-shm and the tmpfs on it; removal is safe at any point of the creation."""

    def __init__(self, run: Run) -> None:
        self.path = os.path.join(SHARED_TMP, run.object_name("shm"))

    @property
    def syscall(self) -> str:
        return mount.call_text("shm", self.path, "tmpfs", SHM_FLAGS, SHM_OPTIONS)

    @property
    def shell(self) -> str:
        return f"mkdir {self.path} && mount -t tmpfs -o nosuid,nodev,noexec,{SHM_OPTIONS} shm {self.path}"

    def __enter__(self) -> SandboxShm:
        os.mkdir(self.path, 0o755)
        mount.mount("shm", self.path, "tmpfs", SHM_FLAGS, SHM_OPTIONS)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if os.path.ismount(self.path):
            mount.umount2(self.path, mount.MNT_DETACH)
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.path)
