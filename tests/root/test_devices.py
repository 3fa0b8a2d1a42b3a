"""The device cgroup of `isodemo run`: root in the container keeps CAP_MKNOD, yet it can open only runc's
allowed devices (container/devices.py); every other node, made with mknod or shipped in an image, fails with
EPERM. On cgroup v1 that is the devices controller, on v2 a BPF_PROG_TYPE_CGROUP_DEVICE program
(kernel/bpf.py), which goes away with the container's cgroup. --privileged: no rules, as Docker.

Runs on the host (cgroup v1) and in the cgroup v2 VM (tests/vm/run-in-vm)."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from isodemo import host
from isodemo.kernel import bpf
from tests.conftest import isodemo_argv, run_isodemo
from tests.unit.test_bpf import allowed_by_rules

V2 = host.probe().cgroup_mode == "v2"
PROGRAM_NAME = "isodemo_devices"  # what kernel/bpf.py names the programs it loads
EPERM_TEXT = "Operation not permitted"

MKNOD_AND_OPEN = """
mknod /tmp/m c 1 3 && head -c1 /tmp/m >/dev/null && echo null-ok
mknod /tmp/d b 7 0 && head -c1 /tmp/d >/dev/null; echo "block rc=$?"
mknod /tmp/lc c 10 237 && cat /tmp/lc; echo "loop-control rc=$?"
"""


def run(*args: str) -> tuple[int, str]:
    result = run_isodemo("run", *args)
    return result.code, result.stdout + result.stderr


def our_programs() -> list[tuple[int, int, str]]:
    return [p for p in bpf.loaded_programs() if p[2] == PROGRAM_NAME]


def bpffs() -> list[str]:
    return sorted(os.listdir("/sys/fs/bpf")) if os.path.isdir("/sys/fs/bpf") else []


def wait_until_gone(before: list[tuple[int, int, str]], seconds: float = 10) -> list[tuple[int, int, str]]:
    """The programs of ours that are not in `before`, once none is left or the time is up: a removed
    cgroup frees its programs a little later (from a workqueue, then after an RCU grace period)."""
    deadline = time.monotonic() + seconds
    while True:
        extra = [p for p in our_programs() if p not in before]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


@pytest.fixture
def programs_checked() -> Iterator[None]:
    """No BPF program of isodemo's outlives the test, and nothing is pinned in the BPF filesystem."""
    before, pinned = our_programs(), bpffs()
    yield
    assert wait_until_gone(before) == [], "a device program is still loaded after the container's cgroup is gone"
    assert bpffs() == pinned


# -- in a container -----------------------------------------------------------------------------------------------


def test_mknod_works_but_only_allowed_devices_open(programs_checked: None) -> None:
    code, out = run("--verbose", "busybox", "sh", "-c", MKNOD_AND_OPEN)
    assert code == 0, out
    assert "null-ok" in out  # c 1:3 is on the list
    assert f"head: /tmp/d: {EPERM_TEXT}" in out and "block rc=1" in out  # a block device: mknod yes, open no
    assert f"cat: can't open '/tmp/lc': {EPERM_TEXT}" in out and "loop-control rc=1" in out  # c 10:237: no
    # --verbose names what did it: the v1 files, or the BPF program on v2
    assert ("bpf(BPF_PROG_ATTACH" if V2 else "echo a > /sys/fs/cgroup/devices/") in out


def test_privileged_has_no_device_rules(programs_checked: None) -> None:
    """Docker's --privileged: every device allowed. An open may still fail (/dev/loop-control cannot be
    read: EINVAL; loop0 may not exist: ENXIO), but never with EPERM."""
    before = our_programs()
    code, out = run("--privileged", "busybox", "sh", "-c", MKNOD_AND_OPEN)
    assert code == 0, out
    assert "null-ok" in out
    assert EPERM_TEXT not in out, out
    assert our_programs() == before  # no program was even loaded


def test_the_default_devices_work() -> None:
    script = """
for d in null zero full random urandom; do head -c1 /dev/$d >/dev/null && echo "$d ok"; done
echo x > /dev/null && echo "write ok"
head -c1 /dev/tty; echo "tty rc=$?"
: <>/dev/ptmx && echo "ptmx ok"
"""
    code, out = run("busybox", "sh", "-c", script)
    assert code == 0, out
    for name in ("null", "zero", "full", "random", "urandom"):
        assert f"{name} ok" in out, out
    assert "write ok" in out and "ptmx ok" in out, out
    # /dev/tty (c 5:0) is allowed: without a controlling terminal it fails ENXIO, not EPERM
    assert "head: /dev/tty: No such device or address" in out and "tty rc=1" in out, out


def test_the_terminal_of_t_is_allowed() -> None:
    """With -t the container's terminal is a host pty (c 136:N): fds 0-2, /dev/console and /dev/tty."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes isodemo
        script = "echo a > /dev/console && echo console-ok; echo b > /dev/tty && echo tty-ok; tty; echo done"
        os.execv(isodemo_argv()[0], isodemo_argv("run", "-t", "busybox", "sh", "-c", script))
    output = b""
    deadline = time.monotonic() + 60
    try:
        while b"done" not in output and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    output += os.read(fd, 4096)
                except OSError:
                    break
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    text = output.decode(errors="replace")
    assert "console-ok" in text and "tty-ok" in text, text
    assert EPERM_TEXT not in text, text
    assert os.waitstatus_to_exitcode(status) == 0, text


@pytest.mark.skipif(not V2, reason="cgroup v2 only: v1 has the devices controller's files, no BPF program")
def test_the_program_lives_as_long_as_the_container(programs_checked: None) -> None:
    before = our_programs()
    proc = subprocess.Popen(
        isodemo_argv("run", "-i", "busybox", "sh", "-c", "echo started; read line; echo $line"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "started"
        attached = [p for p in our_programs() if p not in before]
        assert len(attached) == 1 and attached[0][1] == bpf.BPF_PROG_TYPE_CGROUP_DEVICE, attached
        out, err = proc.communicate("bye\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "bye" in out
    assert wait_until_gone(before) == []


# -- the program alone, in the kernel -----------------------------------------------------------------------------


def _cgroup2_parent() -> str:
    """Where this test may make a cgroup v2 directory: isodemo's subtree on v2; on v1 hybrid, under this
    process's own cgroup of the controller-less cgroup2 mount (/sys/fs/cgroup/unified), which is where the
    kernel runs device programs for a hybrid machine's processes."""
    if V2:
        return os.path.join(host.CGROUP_ROOT, "isodemo")
    unified = os.path.join(host.CGROUP_ROOT, "unified")
    if not os.path.exists(os.path.join(unified, "cgroup.procs")):
        pytest.skip("no cgroup2 hierarchy is mounted (pure v1): nowhere to attach a device program")
    own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    return os.path.join(unified, own.lstrip("/"))


RULES = ["c 1:3 rwm", "c 1:5 r", "c 1:7 w", "b *:* m"]
CHAR, BLOCK = bpf.BPF_DEVCG_DEV_CHAR, bpf.BPF_DEVCG_DEV_BLOCK
MKNOD, READ, WRITE = bpf.BPF_DEVCG_ACC_MKNOD, bpf.BPF_DEVCG_ACC_READ, bpf.BPF_DEVCG_ACC_WRITE
# opens of nodes every machine has: (path, open flags, major, minor, the access the kernel asks about)
OPENS = [
    ("/dev/null", os.O_RDWR, 1, 3, READ | WRITE),
    ("/dev/zero", os.O_RDONLY, 1, 5, READ),
    ("/dev/zero", os.O_WRONLY, 1, 5, WRITE),
    ("/dev/full", os.O_WRONLY, 1, 7, WRITE),
    ("/dev/full", os.O_RDONLY, 1, 7, READ),
    ("/dev/full", os.O_RDWR, 1, 7, READ | WRITE),
]
MKNODS = [(CHAR, 1, 3), (CHAR, 1, 5), (BLOCK, 7, 0)]  # (device type, major, minor) in a temp dir


def _errno_of(action: Callable[[], object]) -> int:
    try:
        action()
    except OSError as error:
        return error.errno or -1
    return 0


def _mknod(directory: str, kind: int, major: int, minor: int) -> None:
    node = os.path.join(directory, f"node-{kind}-{major}-{minor}")
    os.mknod(node, 0o600 | (stat.S_IFCHR if kind == CHAR else stat.S_IFBLK), os.makedev(major, minor))
    os.unlink(node)


def _accesses(directory: str) -> list[int]:
    """0 or the errno of each of OPENS, then of each of MKNODS, in this process."""
    results = [_errno_of(lambda p=path, f=flags: os.close(os.open(p, f))) for path, flags, *_ in OPENS]
    return results + [_errno_of(lambda m=m: _mknod(directory, *m)) for m in MKNODS]


def _expected() -> list[tuple[str, int]]:
    cases = [(f"open {path} {flags:#o}", CHAR, major, minor, access) for path, flags, major, minor, access in OPENS]
    cases += [(f"mknod {kind} {major}:{minor}", kind, major, minor, MKNOD) for kind, major, minor in MKNODS]
    return [(what, 0 if allowed_by_rules(RULES, *device) else errno.EPERM) for what, *device in cases]


def test_the_kernel_runs_the_filter_as_the_rules_say(tmp_path: Path, programs_checked: None) -> None:
    parent = _cgroup2_parent()
    made_parent = not os.path.isdir(parent)
    if made_parent:
        os.mkdir(parent)  # isodemo's subtree on v2, removed below if this test made it
    leaf = os.path.join(parent, f"isodemotest-devices-{os.getpid()}")
    os.mkdir(leaf)
    try:
        program_id = bpf.attach_device_filter(leaf, RULES)
        assert (program_id, bpf.BPF_PROG_TYPE_CGROUP_DEVICE, PROGRAM_NAME) in our_programs()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                with open(os.path.join(leaf, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
                os.write(write_end, ",".join(map(str, _accesses(str(tmp_path)))).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as f:
            results = [int(word) for word in f.read().split(",")]
        os.waitpid(pid, 0)
        expected = _expected()
        assert len(results) == len(expected)
        for (what, wanted), got in zip(expected, results, strict=True):
            assert got == wanted, f"{what}: {errno.errorcode.get(got, got)}, expected {errno.errorcode.get(wanted, 0)}"
    finally:
        os.rmdir(leaf)  # the child has exited: empty
        if made_parent:
            with contextlib.suppress(OSError):  # a run that started meanwhile uses it: that run removes it
                os.rmdir(parent)
