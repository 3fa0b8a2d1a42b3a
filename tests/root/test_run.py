"""`isodemo run`: every option and every exit code, observed from inside the container and from the host.

Each test runs isodemo as a user does (a separate process) with the session's image store; the host
invariants fixture checks that nothing is left after each one. The VM stage (cgroup v2) runs only the tests
whose outcome depends on the cgroup hierarchy: the others are marked host_only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from isodemo import leftovers, runs
from tests.conftest import Result, isodemo_argv, run_isodemo

DOCKER_CAPS = 0x00000000A80425FB  # Docker's 14 default capabilities


def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Result:
    return run_isodemo("run", *args, timeout=timeout, env=env or {})


def status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {text!r}")


# -- exit codes --------------------------------------------------------------------------------------------


def test_the_command_s_exit_status_is_isodemo_s() -> None:
    assert run("busybox", "true").code == 0
    assert run("busybox", "sh", "-c", "exit 3").code == 3


@pytest.mark.host_only
def test_a_command_that_does_not_exist_exits_127() -> None:
    result = run("busybox", "no-such-command")
    assert result.code == 127, result.stderr
    assert "no-such-command" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.host_only
def test_a_file_that_cannot_be_executed_exits_126() -> None:
    result = run("busybox", "/etc/passwd")
    assert result.code == 126, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["no-such-image"], "no-such-image"),
        (["--memory", "12XB", "busybox", "true"], "--memory"),
        (["--network", "nowhere", "busybox", "true"], "--network"),
        (["--cap-add", "NOT_A_CAP", "busybox", "true"], "NOT_A_CAP"),
        ([], "IMAGE"),
    ],
)
@pytest.mark.host_only
def test_isodemo_s_own_failures_exit_125_with_a_message(args: list[str], words: str) -> None:
    result = run(*args)
    assert result.code == 125, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_json_reports_the_container(image_store: str) -> None:
    result = run("--json", "busybox", "sh", "-c", "sleep 0.2")
    assert result.code == 0, result.stderr
    report = result.json
    facts = report["facts"]
    assert report["ok"] and report["leftovers"] == []
    assert facts["exit_status"] == 0 and facts["oom_killed"] is False
    assert int(facts["cap_eff"], 16) == DOCKER_CAPS
    assert facts["no_new_privs"] is False and facts["seccomp_mode"] == 2
    assert set(facts["namespaces"]) >= {"mnt", "uts", "ipc", "pid", "net"}
    host_ns = {ns: os.stat(f"/proc/self/ns/{ns}").st_ino for ns in facts["namespaces"]}
    assert all(facts["namespaces"][ns] != host_ns[ns] for ns in facts["namespaces"])
    assert facts["overlay"]["merged"].startswith(image_store)
    assert isinstance(facts["start_ms"], float) and facts["start_ms"] > 0
    assert facts["cgroup_paths"] and not any(os.path.exists(p) for p in facts["cgroup_paths"])
    assert not os.path.exists(os.path.dirname(facts["overlay"]["merged"]))


# -- namespaces ----------------------------------------------------------------------------------------------


@pytest.mark.host_only
def test_the_command_is_pid_1_and_sees_only_its_own_processes() -> None:
    result = run("busybox", "sh", "-c", "echo $$; ls -d /proc/[0-9]* | wc -l")
    assert result.code == 0, result.stderr
    pid, count = result.stdout.split()
    assert pid == "1" and int(count) <= 3


@pytest.mark.host_only
def test_pid_host_keeps_the_host_s_pids() -> None:
    result = run("--pid", "host", "busybox", "sh", "-c", "echo $$")
    assert result.code == 0, result.stderr
    assert int(result.stdout) > 1


@pytest.mark.host_only
def test_init_is_pid_1_and_the_command_its_child() -> None:
    result = run("--init", "busybox", "sh", "-c", "echo $$; cat /proc/1/comm")
    assert result.code == 0, result.stderr
    pid, comm = result.stdout.split()
    assert pid != "1" and comm == "isodemo-init"


@pytest.mark.host_only
def test_hostname_and_etc_files() -> None:
    result = run(
        "--hostname", "web-1", "busybox", "sh", "-c", "hostname; cat /etc/hostname; grep -c localhost /etc/hosts"
    )
    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["web-1", "web-1", "2"]
    assert os.uname().nodename != "web-1"


@pytest.mark.host_only
def test_network_none_has_only_lo_up() -> None:
    result = run(
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ok",
    )
    assert result.code == 0, result.stderr
    lines = result.stdout.split()
    assert lines[0] == "lo" and lines[-1] == "ok"


@pytest.mark.host_only
def test_network_host_sees_the_host_s_links() -> None:
    result = run("--network", "host", "busybox", "ls", "/sys/class/net")
    assert result.code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(os.listdir("/sys/class/net"))


# -- the root filesystem -------------------------------------------------------------------------------------


@pytest.mark.host_only
def test_host_users_cannot_reach_the_container_s_files(image_store: str) -> None:
    """The container's upper/ and merged/ hold its setuid files: only root may enter the containers dir."""
    proc = subprocess.Popen(
        isodemo_argv("run", "--stop-timeout", "1", "busybox", "sh", "-c", "echo secret > /probe; echo ready; sleep 30"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        merged = [
            line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if " - overlay " in line and image_store in line
        ]  # fmt: skip
        assert merged and Path(merged[0], "probe").read_text() == "secret\n"  # root reads it
        as_nobody = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", f"{merged[0]}/probe"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert as_nobody.returncode != 0 and "Permission denied" in as_nobody.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


@pytest.mark.host_only
def test_writes_stay_in_the_container() -> None:
    first = run("busybox", "sh", "-c", "echo x > /etc/written && cat /etc/written")
    assert first.code == 0 and first.stdout == "x\n", first.stderr
    assert run("busybox", "test", "-e", "/etc/written").code == 1


@pytest.mark.host_only
def test_the_overlay_shows_on_the_host_while_it_runs(image_store: str) -> None:
    proc = subprocess.Popen(
        isodemo_argv("run", "busybox", "sleep", "30"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        found = []
        for _ in range(200):
            with open("/proc/self/mountinfo") as f:
                found = [line for line in f if " - overlay " in line and image_store in line]
            if found:
                break
            time.sleep(0.05)
        assert found, "no overlay under the store while the container runs"
        assert "lowerdir=" in found[0] and "upperdir=" in found[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


@pytest.mark.host_only
def test_volumes_bind_host_directories(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from the host\n")
    result = run("-v", f"{tmp_path}:/data", "busybox", "sh", "-c", "cat /data/in.txt; echo back > /data/out.txt")
    assert result.code == 0, result.stderr
    assert result.stdout == "from the host\n"
    assert (tmp_path / "out.txt").read_text() == "back\n"
    readonly = run("-v", f"{tmp_path}:/data:ro", "busybox", "sh", "-c", "echo no > /data/x")
    assert readonly.code != 0 and "Read-only file system" in readonly.stderr


@pytest.mark.host_only
def test_proc_and_sys_as_runc_sets_them_up() -> None:
    script = (
        "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-ro;"
        "wc -c < /proc/timer_list;"
        "touch /sys/x 2>/dev/null && echo sysfs-writable || echo sysfs-ro;"
        "ls /dev"
    )
    result = run("busybox", "sh", "-c", script)
    assert result.code == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:3] == ["sys-ro", "0", "sysfs-ro"]
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "stdin", "stdout"} <= set(
        lines[3:]
    )


# -- the process ---------------------------------------------------------------------------------------------


@pytest.mark.host_only
def test_env_workdir_and_user(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\nFROM_FILE=1\nBOTH=file\n")
    result = run(
        "-e", "BOTH=flag", "--env-file", str(env_file), "-w", "/tmp", "-u", "1000:1000",
        "busybox", "sh", "-c", "echo $FROM_FILE $BOTH; pwd; id -u; id -g; grep CapEff /proc/self/status",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["1 flag", "/tmp", "1000", "1000"]
    assert int(lines[4].split()[1], 16) == 0


@pytest.mark.host_only
def test_capabilities_add_drop_and_privileged() -> None:
    def capeff(*args: str) -> int:
        result = run(*args, "busybox", "grep", "CapEff", "/proc/self/status")
        assert result.code == 0, result.stderr
        return int(result.stdout.split()[1], 16)

    net_admin = 1 << 12
    assert capeff() == DOCKER_CAPS
    assert capeff("--cap-drop", "ALL") == 0
    assert capeff("--cap-add", "NET_ADMIN") == DOCKER_CAPS | net_admin
    assert capeff("--cap-drop", "ALL", "--cap-add", "cap_kill") == 1 << 5
    # every capability isodemo itself may give: its own bounding set (runc refuses to give more)
    own = int(status_field(Path("/proc/self/status").read_text(), "CapBnd"), 16)
    assert capeff("--privileged") == own


@pytest.mark.host_only
def test_seccomp_and_no_new_privileges() -> None:
    probe = (
        "grep -E 'NoNewPrivs|Seccomp:' /proc/self/status; unshare -U true 2>/dev/null && echo unshared || echo refused"
    )
    default = run("busybox", "sh", "-c", probe)
    assert default.code == 0, default.stderr
    assert status_field(default.stdout, "NoNewPrivs") == "0"
    assert status_field(default.stdout, "Seccomp") == "2"
    assert default.stdout.split()[-1] == "refused"
    nnp = run("--security-opt", "no-new-privileges", "busybox", "sh", "-c", probe)
    assert status_field(nnp.stdout, "NoNewPrivs") == "1"
    unconfined = run("--security-opt", "seccomp=unconfined", "busybox", "sh", "-c", probe)
    assert status_field(unconfined.stdout, "Seccomp") == "0"


# -- cgroups -------------------------------------------------------------------------------------------------


def _cgroup_file(v2: str, v1: str) -> str:
    """The file inside the container's cgroupfs (mounted read-only at /sys/fs/cgroup)."""
    return f"cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}"


def test_cpu_and_pids_limits_are_written() -> None:
    script = "; ".join([_cgroup_file("cpu.max", "cpu/cpu.cfs_quota_us"), _cgroup_file("pids.max", "pids/pids.max")])
    result = run("--cpus", "0.5", "--pids-limit", "20", "busybox", "sh", "-c", script)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == "50000"
    assert lines[1] == "20"


def test_pids_limit_counts_the_container_s_processes_only() -> None:
    """pids.max 2: PID 1 and one child (isodemo's own helper is not in the container's cgroup), not two."""
    one = run("--pids-limit", "2", "busybox", "sh", "-c", "sleep 0 & wait && echo forked")
    assert one.code == 0 and one.stdout == "forked\n", one.stderr
    many = run("--pids-limit", "4", "busybox", "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 2 & done; wait")
    assert "can't fork" in many.stderr or "Resource temporarily unavailable" in many.stderr, many.stderr


def test_a_child_killed_by_the_oom_killer_leaves_pid_1_running() -> None:
    """The OOM killer picks a process of the container: the one that allocates, not PID 1 or isodemo's."""
    script = "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; echo pid-1-saw $?"
    result = run("--json", "--memory", "16m", "--memory-swap", "16m", "busybox", "sh", "-c", script)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "pid-1-saw 137"
    assert result.json["facts"]["oom_killed"] is False  # PID 1 itself was not killed


def test_device_write_bps_by_maj_min() -> None:
    """--device-write-bps takes a device node or MAJ:MIN; the rule is written for the whole disk."""
    loop = "/dev/loop0"
    if not os.path.exists(loop):
        pytest.skip("no /dev/loop0 here")
    majmin = f"{os.major(os.stat(loop).st_rdev)}:{os.minor(os.stat(loop).st_rdev)}"
    script = _cgroup_file("io.max", "blkio/blkio.throttle.write_bps_device")
    for device in (loop, majmin):
        result = run("--device-write-bps", f"{device}:1mb", "busybox", "sh", "-c", script)
        assert result.code == 0, result.stderr
        assert result.stdout.split()[:2] in ([majmin, "1048576"], [majmin, "rbps=max"]), result.stdout
        assert "1048576" in result.stdout
    refused = run("--device-write-bps", "250:250:1mb", "busybox", "true")
    assert refused.code == 125 and "250:250" in refused.stderr


def test_out_of_memory_exits_137_and_says_why() -> None:
    result = run(
        "--json", "--memory", "16m", "--memory-swap", "16m",
        "busybox", "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=48",
    )  # fmt: skip
    assert result.code == 137, result.stderr
    assert result.json["facts"]["oom_killed"] is True
    assert "OOM" in result.stderr


# -- signals and leftovers -----------------------------------------------------------------------------------


def _start(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(isodemo_argv("run", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # every probe below prints one line once it runs
    assert first.strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


@pytest.mark.host_only
def test_sigterm_is_forwarded_to_pid_1() -> None:
    proc = _start("busybox", "sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 42


@pytest.mark.host_only
def test_pid_1_without_a_handler_is_killed_after_the_stop_timeout() -> None:
    proc = _start("--stop-timeout", "1", "busybox", "sh", "-c", "echo ready; exec sleep 60")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 137, err
    assert 0.9 < time.monotonic() - started < 10
    assert "SIGKILL" in err


@pytest.mark.host_only
def test_a_second_sigint_kills_at_once() -> None:
    # PID 1 ignores SIGINT from the start (trap ''), so the first forwarded SIGINT ends nothing whenever it
    # lands: before `exec sleep`, busybox sh as PID 1 has a SIGINT handler of its own and would exit 130.
    proc = _start("--stop-timeout", "60", "busybox", "sh", "-c", "trap '' INT; echo ready; exec sleep 60")
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 137, err
    assert time.monotonic() - started < 5  # not the 60 s of the stop timeout


def test_sigkill_leaves_what_cleanup_removes(isodemo_cleanup_first: None) -> None:
    proc = subprocess.Popen(
        isodemo_argv("run", "--json", "busybox", "sh", "-c", "echo ready; exec sleep 60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    mine = [run_id for run_id, record in runs.recorded_runs().items() if record.text.startswith(f"{proc.pid} ")]
    assert len(mine) == 1
    proc.kill()
    proc.communicate(timeout=30)
    left = leftovers.find({mine[0]})
    assert any(item.kind == "container directory" for item in left), left
    cleaned = run_isodemo("cleanup")
    assert cleaned.code == 0, cleaned.stdout + cleaned.stderr
    assert leftovers.find({mine[0]}) == []


@pytest.mark.host_only
def test_json_after_the_container_s_output() -> None:
    result = run("--json", "busybox", "echo", "hello")
    assert result.stdout.splitlines()[0] == "hello"
    assert json.loads(result.stdout.splitlines()[-1])["facts"]["exit_status"] == 0


# -- a terminal, a network, no root --------------------------------------------------------------------------


@pytest.mark.host_only
def test_it_gives_the_container_a_terminal_and_ctrl_c_reaches_it() -> None:
    """`-it` through a pty: the container's sh is on a terminal of the size of ours, Ctrl-C (the byte 0x03)
    interrupts its foreground command, not isodemo, and the exit status is the shell's."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes isodemo
        os.execv(isodemo_argv()[0], [*isodemo_argv("run", "-it", "busybox", "sh")])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    output = b""

    def read_until(marker: bytes, seconds: float = 30) -> None:
        nonlocal output
        end = time.monotonic() + seconds
        while marker not in output and time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    output += os.read(fd, 4096)
                except OSError:
                    return

    try:
        read_until(b"# ")
        os.write(fd, b"tty; stty size; sleep 30\r")
        read_until(b"30 100")
        os.write(fd, b"\x03")
        os.write(fd, b"echo after-ctrl-c; exit 7\r")
        read_until(b"after-ctrl-c\r\n")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    text = output.decode(errors="replace")
    assert "/dev/pts/0" in text and "30 100" in text, text  # a pty of the container's own devpts, as docker's
    assert os.waitstatus_to_exitcode(status) == 7, text


@pytest.mark.host_only  # the network plumbing is the net demo's, tested on both hierarchies there
def test_bridge_network_and_a_published_port() -> None:
    import socket

    proc = subprocess.Popen(
        isodemo_argv(
            "run", "--json", "-p", "18080:8080", "busybox", "sh", "-c",
            "ip -4 -o addr show eth0; grep \"$(hostname)$\" /etc/hosts;"
            " echo ready; echo -e 'HTTP/1.0 200 OK\\r\\n\\r\\nhello' | nc -l -p 8080",
        ),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    address_line = proc.stdout.readline()
    hosts_line = proc.stdout.readline()  # /etc/hosts names the container's address: written once it is known
    assert proc.stdout.readline().strip() == "ready", address_line
    address = address_line.split()[3].split("/")[0]
    assert hosts_line.split()[0] == address, hosts_line
    gateway = address.rsplit(".", 1)[0] + ".1"
    reply = b""
    for _ in range(50):
        try:
            with socket.create_connection((gateway, 18080), timeout=2) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                reply = conn.recv(1024)
                break
        except OSError:
            time.sleep(0.1)
    out, err = proc.communicate(timeout=60)
    assert b"hello" in reply, err
    facts = json.loads(out.strip().splitlines()[-1])["facts"]
    assert facts["ip_address"] == address and facts["published"] == {"18080": 8080}


@pytest.mark.host_only
def test_rootless_run_in_a_user_namespace(
    test_user: object, any_user_env: dict[str, str], unprivileged_userns: None, image_store: str
) -> None:
    from tests.root.users import run_as

    store = os.path.join(os.path.dirname(image_store), f"isodemotest-user-store-{os.getpid()}")
    os.mkdir(store, 0o700)
    os.chown(store, test_user.uid, test_user.gid)  # type: ignore[attr-defined]
    env = {**any_user_env, "ISODEMO_STORE": store}
    try:
        result = run_as(test_user, ["run", "busybox", "sh", "-c", "id -u; grep CapEff /proc/self/status"], env)  # type: ignore[arg-type]
        assert result.code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "0" and int(lines[1].split()[1], 16) == DOCKER_CAPS
        refused = run_as(test_user, ["run", "--memory", "64m", "busybox", "true"], env)  # type: ignore[arg-type]
        assert refused.code == 77 and "sudo" in refused.stderr
        assert os.listdir(os.path.join(store, "containers")) == []
    finally:
        import shutil

        shutil.rmtree(store, ignore_errors=True)


@pytest.mark.host_only
def test_userns_maps_root_inside_to_an_unprivileged_range() -> None:
    result = run("--userns", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2] == "65534"  # the image's files belong to the host's root: unmapped inside, shown as nobody
