"""inside/container.py against the real kernel: a busybox image as an overlay, the container's mounts as runc
lays them out, pivot_root, execve and its exit codes, --init, a terminal, volumes that cannot leave the root.

Each test drives an Isolated child the way container/runtime.py does: prepare_root (then, for a terminal,
console.open_console), then exec_process. After
prepare_root the child is inside the new root, so what box.call asks it shows the container's view. Its
output comes back through /out, a volume of a host directory.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import os
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from isodemo import host
from isodemo.errors import CannotExecute, CommandNotFound, RunError
from isodemo.inside import console, container, filesystem, security
from isodemo.isolated import ChildGone, Isolated
from isodemo.kernel import devices, namespaces, procfs
from isodemo.kernel import process as kprocess
from isodemo.kernel.userns import IdMap, Mapping
from tests.root.test_kernel import _NoImportsNow

# Kubernetes' and moby's lists (shared/design/k8s-reference.md, section 7), as container/security.py passes them.
MASKED = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/interrupts",
)
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEV = {
    "fd",
    "full",
    "mqueue",
    "null",
    "ptmx",
    "pts",
    "random",
    "shm",
    "stderr",
    "stdin",
    "stdout",
    "tty",
    "urandom",
    "zero",
}
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_VERSION = 2 if host.probe().cgroup_mode == "v2" else 1
ROOT_OUTSIDE = 100000  # who root inside is with --userns as root (container/runtime.py's USERNS_BASE)


def _namespaces(*extra: str, net: bool = True) -> list[str]:
    names = ["mnt", "pid", "uts", "ipc", *extra]
    if net:
        names.append("net")
    if "cgroup" in namespaces.available_types():
        names.append("cgroup")
    return names


def _lock_down_is_a_stub() -> bool:
    return "NotImplementedError" in inspect.getsource(security.lock_down)


@pytest.fixture(autouse=True)
def _lock_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until inside/security.py's lock_down is filled in (another workstream), these tests run without it."""
    if _lock_down_is_a_stub():
        monkeypatch.setattr(security, "lock_down", lambda *args, **kwargs: [])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-layer busybox image, plus files that execve must refuse."""
    busybox = shutil.which("busybox")
    if busybox is None or not host.is_static_elf(busybox):
        pytest.skip("needs busybox-static")
    layer = tmp_path_factory.mktemp("busybox-layer")
    filesystem.populate_busybox(str(layer), busybox)
    (layer / "etc" / "notexec").write_text("not a program\n")
    (layer / "bin" / "garbage").write_text("garbage\n")
    (layer / "bin" / "badinterp").write_text("#!/nonexistent\n")
    for name in ("garbage", "badinterp"):
        os.chmod(layer / "bin" / name, 0o755)
    return str(layer)


class Container:
    """One container's directories: upper, work and merged on a tmpfs of the child's own (an overlay's upper
    cannot be on overlayfs, which /tmp is in the VM stage), and /out, a host directory, for its reports."""

    def __init__(self, tmp_path: Path, image: str) -> None:
        self.tmp = tmp_path
        self.image = image
        self.base = tmp_path / "container"
        self.out = tmp_path / "out"
        self.base.mkdir()
        self.out.mkdir()

    def mounts(self, **options: object) -> container.Mounts:
        volumes = ((str(self.out), "/out", False), *options.pop("volumes", ()))  # type: ignore[misc]
        defaults: dict[str, object] = {
            "masked_paths": MASKED,
            "readonly_paths": READONLY,
            "cgroup_version": CGROUP_VERSION,
        }
        return container.Mounts(
            root=str(self.base / "merged"),
            overlay=container.Overlay((self.image,), str(self.base / "upper"), str(self.base / "work")),
            volumes=volumes,
            **{**defaults, **options},  # type: ignore[arg-type]
        )

    def prepare(self, box: Isolated, links: tuple[tuple[str, str], ...] = (), **options: object) -> list[str]:
        """The directories in the child's mount namespace, `links` (target, name) in the upper layer, then
        prepare_root: the child is in the container's root after it."""
        box.call(filesystem.mount_tmpfs, str(self.base))
        for name in ("upper", "work", "merged"):
            box.call(os.mkdir, str(self.base / name))
        for target, name in links:
            box.call(os.makedirs, str(self.base / "upper" / os.path.dirname(name)), exist_ok=True)
            box.call(os.symlink, target, str(self.base / "upper" / name))
        return box.call(container.prepare_root, self.mounts(**options))

    def output(self, name: str) -> str:
        return (self.out / name).read_text()


@pytest.fixture
def box_dirs(tmp_path: Path, image: str) -> Container:
    return Container(tmp_path, image)


def _process(script: str, **options: object) -> container.Process:
    return container.Process(argv=("sh", "-c", script), env=(PATH, "HOME=/root"), **options)  # type: ignore[arg-type]


def _run(box: Isolated, process: container.Process) -> int:
    """execve succeeds: the channel closes with it; Isolated reports the command's end and its status."""
    with pytest.raises(ChildGone):
        box.call(container.exec_process, process)
    assert box.exit_status is not None
    return box.exit_status


# -- probes the child runs after pivot_root (this module is imported there already) --------------------------


def mounts_by_point() -> dict[str, procfs.MountInfo]:
    return {m.mount_point: m for m in procfs.mountinfo()}


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def write_errno(path: str) -> int:
    try:
        filesystem.write_file(path, "1")
    except OSError as error:
        return error.errno or 0
    return 0


def mkdir_errno(path: str) -> int:
    try:
        os.mkdir(path)
    except OSError as error:
        return error.errno or 0
    return 0


def device_nodes() -> list[tuple[str, str, int, int]]:
    return [(d.path, d.kind, d.major, d.minor) for d in devices.host_devices("/dev")]


# -- the layout ---------------------------------------------------------------------------------------------


def test_the_container_sees_what_runc_mounts(box_dirs: Container) -> None:
    with Isolated(_namespaces()) as box:
        steps = box_dirs.prepare(box)
        assert 'pivot_root(".", ".")' in steps
        assert steps[0].startswith('mount("overlay"') and "lowerdir=" + box_dirs.image in steps[0]
        seen = box.call(mounts_by_point)

        assert seen["/"].fstype == "overlay"
        assert not any(point.startswith(str(box_dirs.tmp)) for point in seen), "the old root is detached"
        assert {m.propagation for m in seen.values()} == {"private"}
        assert "nosuid,nodev,noexec" in seen["/proc"].options
        assert [seen[p].fstype for p in ("/dev", "/dev/shm", "/dev/mqueue")] == ["tmpfs", "tmpfs", "mqueue"]
        assert {"gid=5", "mode=620", "ptmxmode=666"} <= set(seen["/dev/pts"].super_options.split(","))
        assert seen["/sys"].fstype == "sysfs" and seen["/sys"].options.startswith("ro,")
        cgroups = [m for point, m in seen.items() if point.startswith("/sys/fs/cgroup/") or point == "/sys/fs/cgroup"]
        if CGROUP_VERSION == 2:
            assert [(m.fstype, m.options[:3]) for m in cgroups] == [("cgroup2", "ro,")]
        else:
            assert seen["/sys/fs/cgroup"].fstype == "tmpfs"
            hierarchies = [m for m in cgroups if m.fstype == "cgroup"]
            assert hierarchies and all(m.options.startswith("ro,") for m in hierarchies)
            assert all(m.root == "/" for m in hierarchies), "a cgroup namespace shows only its own cgroup"
        assert str(box_dirs.out).endswith(seen["/out"].root)  # its root is within the filesystem of /tmp

        # masked: /dev/null over files, an empty read-only tmpfs over directories; what this kernel lacks, skipped
        for path in MASKED:
            if not os.path.exists(path):
                assert path not in seen
            elif os.path.isdir(path):
                assert (seen[path].fstype, seen[path].options[:3]) == ("tmpfs", "ro,")
            else:
                assert (seen[path].root, seen[path].major_minor) == ("/null", seen["/dev"].major_minor)
        assert box.call(read, "/proc/keys") == ""
        for path in READONLY:
            if os.path.exists(path):
                assert seen[path].options.startswith("ro,nosuid,nodev,noexec")
        assert box.call(write_errno, "/proc/sys/kernel/hostname") == errno.EROFS
        assert box.call(mkdir_errno, "/sys/isodemo") == errno.EROFS
        cgroup_dir = "/sys/fs/cgroup/isodemo" if CGROUP_VERSION == 2 else "/sys/fs/cgroup/pids/isodemo"
        assert box.call(mkdir_errno, cgroup_dir) == errno.EROFS

        expected_dev = DEV | ({"core"} if os.path.exists("/proc/kcore") else set())
        assert set(box.call(filesystem.listdir, "/dev")) == expected_dev
        assert box.call(os.readlink, "/dev/ptmx") == "pts/ptmx"
        assert _run(box, _process("ls /dev > /out/dev; exit 3")) == 3
    assert set(box_dirs.output("dev").split()) == expected_dev


def test_privileged_gets_every_device_a_writable_sys_and_no_masks(box_dirs: Container) -> None:
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box, privileged=True)
        seen = box.call(mounts_by_point)
        assert seen["/sys"].options.startswith("rw,")
        assert not any(m.options.startswith("ro,") for p, m in seen.items() if p.startswith("/sys/fs/cgroup"))
        assert not set(MASKED + READONLY) & set(seen)
        assert box.call(device_nodes) == device_nodes()
        assert box.call(os.readlink, "/dev/ptmx") == "pts/ptmx"


def test_without_a_sysfs_or_mknod_the_hosts_are_bound_read_only(box_dirs: Container) -> None:
    """What a user namespace gets: device nodes bound from the host; without a network namespace of its own,
    the host's /sys, read-only mount by mount (the container's /sys/fs/cgroup is its own)."""
    with Isolated(_namespaces(net=False)) as box:
        box_dirs.prepare(box, sysfs=False, mknod=False)
        seen = box.call(procfs.mountinfo)
        under_sys = [m for m in seen if m.mount_point == "/sys" or m.mount_point.startswith("/sys/")]
        host_sys = [m for m in under_sys if not m.mount_point.startswith("/sys/fs/cgroup")]
        assert host_sys and all(m.options.startswith("ro,") for m in host_sys)
        null = next(m for m in seen if m.mount_point == "/dev/null")
        assert (null.fstype, null.root) == ("devtmpfs", "/null")
        assert box.call(mkdir_errno, "/sys/isodemo") == errno.EROFS
        assert _run(box, _process("echo ok > /dev/null && exit 4")) == 4


@pytest.mark.usefixtures("unprivileged_userns")
def test_in_a_user_namespace_the_child_mounts_the_overlay_itself(box_dirs: Container) -> None:
    """Rootless: root only in its user namespace, the child mounts the overlay (userxattr) and binds devices."""
    with Isolated(_namespaces("user")) as box:
        steps = box_dirs.prepare(box, mknod=False)
        assert steps[0].endswith(',userxattr")')
        assert box.call(mounts_by_point)["/"].fstype == "overlay"
        assert _run(box, _process("echo hello > /out/hello")) == 0
    assert box_dirs.output("hello") == "hello\n"


def test_a_remapped_root_becomes_root_in_its_user_namespace() -> None:
    """--userns as root: 0 inside is 100000 outside, so the child (host root, unmapped in its namespace) is
    the overflow user until it takes uid 0 there, as runc does after the maps; files it makes are 100000's.
    Everything it reaches lives in /dev/shm: uid 100000 may not enter pytest's 0700 temporary directories."""
    busybox = shutil.which("busybox")
    assert busybox is not None
    base = Path(tempfile.mkdtemp(prefix="hchild-userns-", dir="/dev/shm"))
    try:
        os.chmod(base, 0o755)
        filesystem.populate_busybox(str(base / "lower"), busybox)
        for name in ("upper", "work", "merged", "out"):
            (base / name).mkdir()
            os.chown(base / name, ROOT_OUTSIDE, ROOT_OUTSIDE)
        mapping = Mapping(IdMap(0, ROOT_OUTSIDE, 65536), IdMap(0, ROOT_OUTSIDE, 65536))
        mounts = container.Mounts(
            root=str(base / "merged"),
            overlay=container.Overlay((str(base / "lower"),), str(base / "upper"), str(base / "work")),
            volumes=((str(base / "out"), "/out", False),),
            masked_paths=MASKED,
            readonly_paths=READONLY,
            mknod=False,
            cgroup_version=CGROUP_VERSION,
        )
        with Isolated(_namespaces("user"), mapping=mapping) as box:
            steps = box.call(container.prepare_root, mounts)
            assert steps[:2] == ["setresgid(0, 0, 0)", "setresuid(0, 0, 0)"]
            assert box.call(os.getuid) == 0
            assert _run(box, _process("id -u > /out/id; touch /made")) == 0
        assert (base / "out" / "id").read_text() == "0\n"
        assert os.stat(base / "upper" / "made").st_uid == ROOT_OUTSIDE
    finally:
        shutil.rmtree(base)


# -- bind mounts --------------------------------------------------------------------------------------------


def test_binds_resolve_symlinks_inside_the_root(box_dirs: Container, tmp_path: Path) -> None:
    """A symlink in the image that points at a host path leads to that path *inside* the root, never out."""
    name = f"hchild-escape-{uuid.uuid4().hex[:8]}"
    links = (("/tmp", "escape"), ("../run/resolv.conf", "resolv-link"), ("../resolv-link", "etc/resolv.conf"))
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "data").write_text("from the host\n")
    etc = {}
    for file in ("hostname", "hosts", "resolv.conf"):
        (tmp_path / file).write_text(f"{file} of this container\n")
        etc[f"/etc/{file}"] = str(tmp_path / file)
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box, links, etc_files=etc, volumes=((str(volume), f"/escape/{name}", True),))
        assert box.call(os.path.isdir, f"/tmp/{name}")
        assert box.call(read, f"/tmp/{name}/data") == "from the host\n"
        assert box.call(write_errno, f"/tmp/{name}/new") == errno.EROFS
        assert box.call(read, "/etc/hostname") == "hostname of this container\n"
        assert box.call(read, "/etc/resolv.conf") == "resolv.conf of this container\n"
        assert box.call(read, "/run/resolv.conf") == "resolv.conf of this container\n"
    assert not os.path.exists(f"/tmp/{name}")


@pytest.mark.parametrize("target", ["/proc/isodemo", "/escape/../../proc/self", "/"])
def test_a_bind_over_proc_or_the_root_is_refused(box_dirs: Container, tmp_path: Path, target: str) -> None:
    with Isolated(_namespaces()) as box, pytest.raises(RunError, match="cannot mount over"):
        box_dirs.prepare(box, (("/tmp", "escape"),), volumes=((str(tmp_path), target, False),))


# -- execve -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("init", [False, True], ids=["plain", "init"])
@pytest.mark.parametrize(
    ("argv0", "error", "says"),
    [
        ("nosuch", CommandNotFound, 'exec: "nosuch": executable file not found in $PATH'),
        ("/nosuch", CommandNotFound, 'exec: "/nosuch": stat /nosuch: no such file or directory'),
        ("/etc/notexec", CannotExecute, 'exec: "/etc/notexec": permission denied'),
        ("/etc", CannotExecute, 'exec: "/etc": is a directory'),
        ("/bin/garbage", CannotExecute, "exec /bin/garbage: exec format error"),
        ("garbage", CannotExecute, "exec /bin/garbage: exec format error"),
        ("/bin/badinterp", CommandNotFound, "exec /bin/badinterp: no such file or directory"),
    ],
)
def test_exec_failures_are_docker_exit_codes(
    box_dirs: Container, init: bool, argv0: str, error: type[RunError], says: str
) -> None:
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        with pytest.raises(error) as caught:
            box.call(container.exec_process, container.Process(argv=(argv0,), env=(PATH,), init=init))
        assert str(caught.value) == says
        assert caught.value.exit_code == (127 if error is CommandNotFound else 126)
        assert box.call(os.getpid) == 1  # still the Isolated child, still serving


def test_environment_cwd_and_signals_are_the_containers_own(box_dirs: Container) -> None:
    """Exactly process.env; the working directory created; no signal ignored or blocked (the Isolated child
    ignores SIGINT and SIGTERM, and an ignored disposition survives execve); no descriptor but 0, 1, 2."""
    script = (
        "env > /out/env; pwd > /out/pwd; grep -E '^Sig(Ign|Blk)' /proc/self/status > /out/signals; "
        "ls /proc/self/fd > /out/fds"
    )
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        process = container.Process(argv=("sh", "-c", script), env=(PATH, "A=1", "A=2", "B=x=y"), cwd="/work/dir")
        assert _run(box, process) == 0
    env = dict(line.split("=", 1) for line in box_dirs.output("env").splitlines())
    assert {k: v for k, v in env.items() if k not in ("PWD", "SHLVL")} == {"PATH": PATH[5:], "A": "2", "B": "x=y"}
    assert box_dirs.output("pwd") == "/work/dir\n"
    assert box_dirs.output("signals").split() == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]
    assert set(box_dirs.output("fds").split()) == {"0", "1", "2", "3"}  # 3: the directory ls reads


def test_a_working_directory_that_cannot_exist_is_125(box_dirs: Container) -> None:
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        with pytest.raises(RunError) as caught:
            box.call(container.exec_process, container.Process(argv=("true",), env=(PATH,), cwd="/etc/passwd/x"))
        assert caught.value.exit_code == 125


# -- --init -------------------------------------------------------------------------------------------------


def test_init_reaps_orphans_forwards_signals_and_exits_with_the_commands_status(box_dirs: Container) -> None:
    """The command orphans a process (its parent exits first): PID 1 must reap it. Then it sends SIGTERM to
    PID 1, which passes it on: the command's trap exits 7, and so does PID 1."""
    script = (
        "trap 'echo TERM > /out/signal; exit 7' TERM; "
        "(sleep 0.1 &); sleep 0.5; cat /proc/[0-9]*/stat > /out/stat; "
        "kill -TERM 1; while :; do sleep 0.05; done"
    )
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        assert _run(box, _process(script, init=True)) == 7
    assert box_dirs.output("signal") == "TERM\n"
    stats = {int(line.split()[0]): procfs.parse_stat(line) for line in box_dirs.output("stat").splitlines()}
    assert box_dirs.output("stat").startswith(f"1 ({container.INIT_COMM})")
    assert [pid for pid, fields in stats.items() if fields[0] == "Z"] == []
    assert stats[2][1] == "1", "the command is PID 1's child"


def test_init_exits_128_plus_the_signal_that_killed_the_command(box_dirs: Container) -> None:
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        assert _run(box, _process("kill -KILL $$", init=True)) == 128 + signal.SIGKILL


def test_init_forwards_a_signal_from_the_host(box_dirs: Container) -> None:
    """SIGTERM from outside the pid namespace, as `isodemo run` forwards it: without a handler PID 1 would
    never get it (the kernel protects a namespace's init); blocked and waited for, it is passed on."""
    script = "trap 'exit 9' TERM; touch /out/ready; while :; do sleep 0.05; done"
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        outcome: list[BaseException] = []

        def execute() -> None:
            try:
                box.call(container.exec_process, _process(script, init=True))
            except BaseException as error:
                outcome.append(error)

        thread = threading.Thread(target=execute)
        thread.start()
        for _ in range(200):
            if (box_dirs.out / "ready").exists():
                break
            threading.Event().wait(0.05)
        box.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert [type(e) for e in outcome] == [ChildGone]
        assert box.exit_status == 9


@pytest.mark.parametrize("init", [False, True], ids=["plain", "init"])
def test_a_container_of_another_user_still_dies_with_its_helper(box_dirs: Container, init: bool) -> None:
    """setresuid() to another user clears the parent-death signal; exec_process sets it again, so a SIGKILLed
    isodemo (whose helper dies of its own parent-death signal) leaves no container behind."""
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        process = container.Process(argv=("sleep", "1000"), env=(PATH,), uid=65534, gid=65534, init=init)
        thread = threading.Thread(target=_run_quietly, args=(box, process))
        thread.start()
        for _ in range(200):  # until the command runs: PID 1 itself, or init's child
            if _command_runs(box.pid, init):
                break
            threading.Event().wait(0.05)
        assert procfs.status(box.pid)["Uid"].split()[0] == "65534"
        os.kill(box.helper_pid, signal.SIGKILL)
        thread.join(timeout=30)
        assert not thread.is_alive()
        for _ in range(200):
            if procfs.is_zombie(box.pid):
                break
            threading.Event().wait(0.05)
        assert procfs.is_zombie(box.pid), "the container outlived its helper"


def _command_runs(pid: int, init: bool) -> bool:
    if not init:
        return bool(kprocess.comm(pid) == "sleep")
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return any(kprocess.comm(child) == "sleep" for child in f.read().split())


def _run_quietly(box: Isolated, process: container.Process) -> None:
    with contextlib.suppress(ChildGone):
        box.call(container.exec_process, process)


# -- a terminal ---------------------------------------------------------------------------------------------


def _rdev(text: str) -> int:
    major, minor = text.strip().split(":")  # stat -c %t:%T, in hex
    return os.makedev(int(major, 16), int(minor, 16))


@pytest.mark.parametrize("init", [False, True], ids=["plain", "init"])
def test_the_tty_becomes_the_controlling_terminal(box_dirs: Container, init: bool) -> None:
    """A pty of the container's own devpts: its slave is fds 0-2 and /dev/console, its master comes back to the
    parent (SCM_RIGHTS); the container's session leader (PID 1) holds the slave as its controlling terminal,
    and the command's process group is the terminal's foreground group."""
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        master, steps = box.call(console.open_console)
        try:
            assert 'mount("/dev/pts/0", "/dev/console", NULL, MS_BIND, NULL)' in steps
            script = (
                "cat /proc/self/stat > /out/stat; stat -c %t:%T /dev/console > /out/console;"
                " stat -L -c %t:%T /proc/self/fd/0 > /out/fd0; tty > /out/tty; echo hi"
            )
            assert _run(box, _process(script, tty=True, init=init)) == 0
            assert os.read(master.fd, 100).replace(b"\r", b"") == b"hi\n"
        finally:
            os.close(master.fd)
    assert box_dirs.output("tty") == "/dev/pts/0\n"  # a devpts of its own numbers from 0
    rdev = _rdev(box_dirs.output("fd0"))
    assert _rdev(box_dirs.output("console")) == rdev
    fields = procfs.parse_stat(box_dirs.output("stat"))
    pgrp, session, tty_nr, tpgid = fields[2:6]
    assert session == "1"
    assert int(tty_nr) == rdev
    assert tpgid == pgrp == ("2" if init else "1")


# -- nothing imported once inside ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "outcome"), [(("nosuch",), CommandNotFound), (("sh", "-c", "exit 5"), 5)], ids=["refused", "runs"]
)
def test_nothing_is_imported_after_pivot_root(
    box_dirs: Container, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], outcome: object
) -> None:
    """After pivot_root isodemo's files are out of reach: every module the child needs (for --init and a
    terminal too, and to report a failed execve) was imported before."""
    with Isolated(_namespaces()) as box:  # the parent's own first uses, before imports stop
        box.call(os.getpid)
    monkeypatch.setattr(sys, "meta_path", [_NoImportsNow(), *sys.meta_path])
    with Isolated(_namespaces()) as box:
        box_dirs.prepare(box)
        master, _steps = box.call(console.open_console)
        try:
            process = container.Process(argv=argv, env=(PATH,), init=True, tty=True)
            if outcome is CommandNotFound:
                with pytest.raises(CommandNotFound):
                    box.call(container.exec_process, process)
            else:
                assert _run(box, process) == outcome
        finally:
            os.close(master.fd)
