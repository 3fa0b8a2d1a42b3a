"""`isodemo inspect` against a real podman pod: two busybox containers and the pod's infra container.

What podman says (`podman inspect`, `podman pod inspect`) and what /proc says are the reference; isodemo
inspect must find the same runtime, container id and pod from the cgroup names, and the same sharing from the
namespace inodes: net, ipc and uts shared with the infra container, mnt and pid not.

Nothing is left on the machine, and nothing outside this test's own places is touched:
- podman runs rootful with every path of its own under a temp dir (--root, --runroot, --tmpdir,
  --network-config-dir, CONTAINERS_CONF), storage driver vfs (no mounts), events to a file, --network none;
  the image is imported from a tar of busybox-static (no registry), the infra command is a `pause` script.
- Every podman command runs in a holder's private mount namespace (nsenter -m), where a tmpfs covers /run and
  /var/lib/containers (podman writes its netns files and a blob cache there), and in the holder's cgroup
  namespace (nsenter -C), whose root is a cgroup this test makes under its own cgroup in every v1 hierarchy,
  bound over that hierarchy's mount point: podman's cgroupfs manager then makes /libpod_parent/<pod id>/...
  below this test's cgroup, and runc finds it where it looks (the mount's root reads "/" in that namespace).
- After the test: pod and containers removed (podman pod rm -f), remaining processes of the test's cgroup
  killed by pid, the holder killed (its namespaces and mounts go with it), the cgroups removed bottom-up,
  the temp dir removed. The root conftest checks the host's mounts, links, cgroups and netns before and after.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from isodemo.kernel import procfs
from isodemo.tools import runtimes
from tests.conftest import run_isodemo

pytestmark = pytest.mark.host_only

IMAGE = "localhost/isodemotest-busybox:latest"
# What pause.c does, in sh: exit 0 on SIGINT/SIGTERM, otherwise wait (busybox has no pause applet).
PAUSE = b'#!/bin/sh\ntrap "exit 0" INT TERM\nwhile :; do sleep 3600 & wait $!; done\n'
# Lowering a limit needs no privilege; podman's defaults (nofile 1048576) need CAP_SYS_RESOURCE, which a
# machine that runs these tests in a container may not give.
CONTAINERS_CONF = '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'


def _busybox_tar() -> bytes:
    busybox = shutil.which("busybox") or "/bin/busybox"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in ("sh", "sleep", "cat", "ls", "ps"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        info = tarfile.TarInfo("pause")
        info.mode, info.size = 0o755, len(PAUSE)
        tar.addfile(info, io.BytesIO(PAUSE))
    return out.getvalue()


def _hierarchies() -> dict[str, tuple[str, str]]:
    """Each mounted cgroup hierarchy: mount point -> (this process's cgroup in it, the mount's root)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers] = path
    found = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype, options = line.split(" - ")[1].split()[0], line.split(" - ")[1].split()[2]
        if fstype == "cgroup2":
            key = ""
        elif fstype == "cgroup":
            key = next((k for k in own if k and set(k.split(",")) <= set(options.split(","))), "?")
        else:
            continue
        if key in own:
            found[fields[4]] = (own[key], fields[3])
    return found


@dataclass
class PodmanSandbox:
    """podman with every file, mount and cgroup of its own in places this test made (see the docstring)."""

    top: Path
    cgroup_name: str = field(default_factory=lambda: f"isodemotest-podman-{secrets.token_hex(3)}")
    cgroup_dirs: list[Path] = field(default_factory=list)
    binds: list[tuple[Path, str]] = field(default_factory=list)
    holder: subprocess.Popen[bytes] | None = None
    made_var_lib_containers: bool = False

    def start(self) -> None:
        for mount_point, (own, root) in _hierarchies().items():
            if root != "/":
                pytest.skip(f"the cgroup hierarchy at {mount_point} is mounted from {root}, not its root")
            directory = Path(mount_point) / own.lstrip("/") / self.cgroup_name
            directory.mkdir()
            self.cgroup_dirs.append(directory)
            self.binds.append((directory, mount_point))
            if (directory / "cpuset.cpus").exists():  # v1 cpuset: a new cgroup has none until given its parent's
                for name in ("cpuset.cpus", "cpuset.mems"):
                    (directory / name).write_text((directory.parent / name).read_text())
        procs = " ".join(str(d / "cgroup.procs") for d in self.cgroup_dirs)
        script = f'for f in {procs}; do echo $$ > "$f"; done; '
        script += "exec unshare --cgroup --mount --propagation private sleep infinity"
        self.holder = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{self.holder.pid}/ns/cgroup") == os.readlink("/proc/self/ns/cgroup"):
            assert time.monotonic() < deadline, "the holder did not enter its cgroup namespace"
            assert self.holder.poll() is None, "the holder exited"
            time.sleep(0.01)
        for directory, mount_point in self.binds:
            self._in_holder(["mount", "--bind", str(directory), mount_point])
        if not os.path.isdir("/var/lib/containers"):
            os.mkdir("/var/lib/containers", 0o700)
            self.made_var_lib_containers = True
        for place in ("/run", "/var/lib/containers"):
            self._in_holder(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", place])
        (self.top / "containers.conf").write_text(CONTAINERS_CONF)
        (self.top / "busybox.tar").write_bytes(_busybox_tar())
        self.podman("import", "-q", str(self.top / "busybox.tar"), IMAGE)

    def _in_holder(self, argv: list[str]) -> None:
        assert self.holder is not None
        subprocess.run(["nsenter", "-t", str(self.holder.pid), "-m", "--", *argv], check=True, capture_output=True)

    def podman(self, *args: str, check: bool = True) -> str:
        assert self.holder is not None
        argv = ["nsenter", "-t", str(self.holder.pid), "-m", "-C", "--", "podman"]
        argv += ["--root", str(self.top / "root"), "--runroot", str(self.top / "runroot")]
        argv += ["--tmpdir", str(self.top / "tmp"), "--network-config-dir", str(self.top / "net")]
        argv += ["--cgroup-manager", "cgroupfs", "--events-backend", "file", "--storage-driver", "vfs", *args]
        env = {**os.environ, "CONTAINERS_CONF": str(self.top / "containers.conf")}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
        if check:
            assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    def inspect(self, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.podman("inspect", name))
        return found[0]

    def _processes(self) -> list[int]:
        pids = []
        for directory in self.cgroup_dirs:
            for procs in directory.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids += [int(p) for p in procs.read_text().split()]
        holder = self.holder.pid if self.holder else -1
        return sorted({p for p in pids if p != holder and not procfs.is_zombie(p)})

    def close(self) -> None:
        if self.holder is not None and self.holder.poll() is None:
            self.podman("pod", "rm", "-a", "-f", "-t", "0", check=False)
            self.podman("rm", "-a", "-f", "-t", "0", check=False)
            deadline = time.monotonic() + 10  # conmon ends a moment after its container
            while self._processes() and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid in self._processes():  # only processes in this test's own cgroups
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.holder.kill()
        if self.holder is not None:
            self.holder.wait()
        for directory in self.cgroup_dirs:
            for sub in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                _rmdir(sub)
            _rmdir(directory)
        if self.made_var_lib_containers:
            os.rmdir("/var/lib/containers")
        shutil.rmtree(self.top, ignore_errors=True)


def _rmdir(path: Path) -> None:
    """A cgroup whose last process just died may be busy for a moment."""
    deadline = time.monotonic() + 5
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass(frozen=True)
class Pod:
    podman: PodmanSandbox
    pod_id: str
    infra: dict[str, Any]
    containers: dict[str, dict[str, Any]]


@pytest.fixture
def podman_pod() -> Iterator[Pod]:
    if shutil.which("podman") is None or shutil.which("conmon") is None:
        pytest.skip("podman is not installed (sudo apt-get install podman; setup.sh --dev installs it)")
    if not any(line.split(":")[1] for line in Path("/proc/self/cgroup").read_text().splitlines()):
        pytest.skip("podman here is set up under the test's own cgroup v1 hierarchies; this host has cgroup v2 only")
    started = time.monotonic()
    sandbox = PodmanSandbox(Path(tempfile.mkdtemp(prefix="isodemotest-podman-", dir="/var/tmp")))
    try:
        sandbox.start()
        pod_id = sandbox.podman(
            "pod", "create", "--name", "isodemotest-pod", "--network", "none",
            "--infra-image", IMAGE, "--infra-command", "/pause",
        )  # fmt: skip
        for name in ("a", "b"):
            sandbox.podman("run", "-d", "--pull", "never", "--pod", pod_id, "--name", f"isodemotest-{name}", IMAGE,
                           "/bin/sleep", "86400")  # fmt: skip
        infra_id = json.loads(sandbox.podman("pod", "inspect", pod_id))["InfraContainerID"]
        pod = Pod(
            sandbox,
            pod_id,
            sandbox.inspect(infra_id),
            {name: sandbox.inspect(f"isodemotest-{name}") for name in ("a", "b")},
        )
        print(f"podman pod up in {time.monotonic() - started:.2f} s")
        yield pod
    finally:
        sandbox.close()
        print(f"podman pod up and removed in {time.monotonic() - started:.2f} s")


def _ns(pid: int, ns: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{ns}")


def test_inspect_finds_the_podman_container_and_its_pod(podman_pod: Pod) -> None:
    infra_pid = podman_pod.infra["State"]["Pid"]
    for name, container in podman_pod.containers.items():
        pid = container["State"]["Pid"]
        result = run_isodemo("inspect", str(pid), "--json")
        assert result.code == 0, result.stderr
        facts = result.json["facts"]
        assert facts["runtime"] == "podman", name
        assert facts["role"] == "container"
        assert facts["container_id"] == container["Id"]
        assert facts["pod_uid"] == podman_pod.pod_id == container["Pod"]
        assert facts["cgroup_driver"] == "cgroupfs"
        assert facts["qos_class"] is None and facts["kubelet"] is False
        # The same sharing as podman's own view: net, ipc and uts are the infra container's ...
        for ns, mode in (("net", "NetworkMode"), ("ipc", "IpcMode"), ("uts", "UTSMode")):
            assert container["HostConfig"][mode] == f"container:{podman_pod.infra['Id']}", (ns, container["HostConfig"])
            assert _ns(pid, ns) == _ns(infra_pid, ns)
        # ... and as /proc's: mnt and pid are the container's own.
        for ns in ("mnt", "pid"):
            assert _ns(pid, ns) != _ns(infra_pid, ns)
        assert str(infra_pid) in facts["shares_with"], facts["recognised_cgroup"]
        shared = set(facts["shares_with"][str(infra_pid)])
        assert {"net", "ipc", "uts"} <= shared
        assert not {"mnt", "pid"} & shared
        assert {"net", "ipc", "uts"} <= set(facts["shared_namespaces"])
        assert {"mnt", "pid"} <= set(facts["own_namespaces"])
        other = podman_pod.containers["b" if name == "a" else "a"]["State"]["Pid"]
        assert {"net", "ipc", "uts"} <= set(facts["shares_with"][str(other)])
        assert result.json["leftovers"] == []


def test_inspect_finds_the_infra_container_and_conmon(podman_pod: Pod) -> None:
    infra = podman_pod.infra
    result = run_isodemo("inspect", str(infra["State"]["Pid"]), "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert (facts["runtime"], facts["container_id"], facts["pod_uid"]) == ("podman", infra["Id"], podman_pod.pod_id)
    for container in podman_pod.containers.values():
        assert {"net", "ipc", "uts"} <= set(facts["shares_with"][str(container["State"]["Pid"])])

    conmon = infra["State"]["ConmonPid"]
    result = run_isodemo("inspect", str(conmon), "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert (facts["runtime"], facts["role"], facts["pod_uid"]) == ("podman", "conmon", podman_pod.pod_id)
    assert "net" not in facts["shares_with"][str(infra["State"]["Pid"])]  # conmon stays outside the pod


def test_inspect_of_a_host_process_names_no_container() -> None:
    """The test process itself: no runtime's name in its cgroups (unless this machine is itself a container:
    then the names of that one), no pod, nothing shared with a pod."""
    found = runtimes.recognise_process(procfs.cgroup(os.getpid()))
    result = run_isodemo("inspect", str(os.getpid()), "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    if found is None:
        assert (facts["runtime"], facts["container_id"], facts["role"]) == (None, None, None)
    else:
        assert (facts["runtime"], facts["container_id"]) == (found[1].runtime, found[1].container_id)
    if found is None or found[1].pod_path is None:
        assert facts["pod_uid"] is None
        assert facts["shares_with"] == {} and facts["shared_namespaces"] == []
