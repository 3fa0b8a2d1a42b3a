"""The kubelet's side of a Pod's volumes, in a directory of this run that stands for /var/lib/kubelet.

    emptyDir        pods/<uid>/volumes/kubernetes.io~empty-dir/<name>, mode 0777, and its "ready" marker under
                    pods/<uid>/plugins/kubernetes.io~empty-dir/<name> (pkg/volume/emptydir/empty_dir.go)
    medium: Memory  a tmpfs mounted on that directory, size = min(node allocatable, pod memory limit,
                    sizeLimit), noswap where the kernel has it (calculateEmptyDirMemorySize)
    subPath         the subdirectory opened without following a symlink (openat2 RESOLVE_BENEATH|
                    RESOLVE_NO_SYMLINKS) and /proc/self/fd/N bound onto
                    pods/<uid>/volume-subpaths/<volume>/<container>/<index>: that path is what the runtime
                    binds into the container (pkg/volume/util/subpath/subpath_linux.go)
The Pod's directory goes with the Pod: every mount under it first, then its files (volumes/tree.py).
"""

from __future__ import annotations

import errno
import os

from isodemo import runs
from isodemo.kernel import mount, openat2
from isodemo.volumes import tree

EMPTY_DIR = "kubernetes.io~empty-dir"  # EscapeQualifiedName("kubernetes.io/empty-dir")
KIND = "kubelet-dir"  # the run record's kind for it: `isodemo cleanup` removes the tree (leftovers.py)


def memory_size(allocatable: int, pod_limit: int | None, size_limit: int | None) -> int:
    """calculateEmptyDirMemorySize: the smallest positive one of the three."""
    return min(value for value in (allocatable, pod_limit, size_limit) if value is not None and value > 0)


def node_allocatable() -> int:
    """MemTotal from /proc/meminfo: a node's allocatable memory before kube-reserved, system-reserved and the
    eviction threshold are taken off it (none are on this machine)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError(errno.ENOENT, "no MemTotal in /proc/meminfo")


class Kubelet:
    """/tmp/isodemo-<run>-kubelet: one run's stand-in for /var/lib/kubelet, removed whole at the end."""

    def __init__(self, run: runs.Run) -> None:
        self.run = run
        self.root = os.path.join(runs.SHARED_TMP_NAME, run.object_name("kubelet"))

    def __enter__(self) -> Kubelet:
        self.run.note(KIND, self.root)  # before it exists: `isodemo cleanup` finds it after a SIGKILL
        os.mkdir(self.root, 0o750)
        return self

    def __exit__(self, *exc: object) -> None:
        tree.remove(self.root)

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.root, "pods", uid)

    def empty_dir(self, uid: str, name: str) -> tuple[str, list[str]]:
        """The emptyDir's directory (mode 0777, whatever the umask) and its ready marker; returns the path and
        the calls made."""
        path = os.path.join(self.pod_dir(uid), "volumes", EMPTY_DIR, name)
        os.makedirs(path, 0o750, exist_ok=True)
        os.chmod(path, 0o777)
        plugin = os.path.join(self.pod_dir(uid), "plugins", EMPTY_DIR, name)
        os.makedirs(plugin, 0o750, exist_ok=True)
        with open(os.path.join(plugin, "ready"), "w"):
            pass
        return path, [f'mkdir("{path}", 0750)', f'chmod("{path}", 0777)', f'creat("{plugin}/ready")']

    def memory_medium(self, path: str, size: int) -> tuple[str, str]:
        """tmpfs on the emptyDir's directory; `noswap` (Linux 6.4) where the kernel takes it, as the kubelet
        asks. Returns the options used and the call."""
        options = f"size={size},noswap"
        try:
            mount.mount("tmpfs", path, "tmpfs", 0, options)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            options = f"size={size}"
            mount.mount("tmpfs", path, "tmpfs", 0, options)
        return options, mount.call_text("tmpfs", path, "tmpfs", 0, options)

    def subpath(self, uid: str, volume: tuple[str, str], sub: str, container: str, index: int) -> tuple[str, list[str]]:
        """`subPath: sub` of the volume at `volume_path`: made if missing, opened beneath the volume with no
        symlink followed, and its /proc/self/fd/N bound to the path the runtime is given. `volume`: (name, path)."""
        name, volume_path = volume
        calls = []
        base = os.open(volume_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                os.mkdir(sub, 0o755, dir_fd=base)
                calls.append(f'mkdirat(<{name}>, "{sub}", 0755)')
            except FileExistsError:
                pass
            fd = openat2.open_beneath(base, sub, os.O_PATH | os.O_DIRECTORY)
            calls.append(f'openat2(<{name}>, "{sub}", O_PATH|O_DIRECTORY, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) = {fd}')
        finally:
            os.close(base)
        try:
            target = os.path.join(self.pod_dir(uid), "volume-subpaths", name, container, str(index))
            os.makedirs(target, 0o750, exist_ok=True)
            source = f"/proc/self/fd/{fd}"
            mount.mount(source, target, None, mount.MS_BIND)
            calls.append(mount.call_text(source, target, None, mount.MS_BIND))
        finally:
            os.close(fd)
        return target, calls
