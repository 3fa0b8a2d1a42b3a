"""The zygote: a small process forked from isodemo before the rest of the run, that clones every container
and reaps them. A container's first process is a copy of it, so the smaller it is, the cheaper each clone.

It clones with raw clone(2) (CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET|SIGCHLD): the
child is PID 1 of its new PID namespace at once, where unshare(1) needs a second fork. Python has no
os.clone before 3.12's os.unshare; through ctypes.PyDLL the call keeps the GIL, and the zygote has one thread,
so the copy is as consistent as a fork's.

Talk: isodemo writes one JSON line (the shared plan), then "stop"; the zygote answers one line per
container ("ok INDEX PID SECONDS CLONE_NS STAGE_NS..." or "err INDEX REASON"), "done", and after stop "stopped".
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import time

from isodemo.cgroups import Cgroup
from isodemo.density import child, rtnl
from isodemo.kernel import namespaces, process

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
else:
    import _signal as signal  # the C module: the zygote stays small

CLONE_FLAGS = (
    namespaces.CLONE_NEWPID
    | namespaces.CLONE_NEWNS
    | namespaces.CLONE_NEWUTS
    | namespaces.CLONE_NEWIPC
    | namespaces.CLONE_NEWNET
)
SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220}


def _raw_clone() -> object:
    library = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL stays held across the call
    function = library.syscall
    function.restype = ctypes.c_long
    function.argtypes = [ctypes.c_long, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return function


def clone(flags: int) -> int:
    """clone(2) without a new stack: like fork(2), with namespace flags. 0 in the child."""
    pid = int(_raw_clone()(SYS_CLONE[os.uname().machine], flags | signal.SIGCHLD, None, None, None))  # type: ignore[operator]
    if pid < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"clone: {os.strerror(error)}")
    return pid


def mac_of(run_id: str, index: int) -> str:
    """A locally administered MAC (02:...) from the run id and the container's index: never the bridge's."""
    return f"02:{run_id[0:2]}:{run_id[2:4]}:{run_id[4:6]}:{index >> 8:02x}:{index & 0xFF:02x}"


def veth_name(run_id: str, index: int) -> str:
    """The host end: 15 bytes at most (IFNAMSIZ). The kernel deletes it with its container's namespace."""
    return f"iso{run_id}{index:04x}"


class Plan:
    """What the zygote knows at fork: the run, the count, where directories and cgroups go."""

    def __init__(self, run_id: str, count: int, base: str, cgroup: Cgroup, parallel: int) -> None:
        self.run_id = run_id
        self.count = count
        self.base = base
        self.cgroup = cgroup
        self.parallel = parallel


def serve(plan: Plan, commands: int, reports: int) -> None:
    """The zygote's life; never returns (os._exit)."""
    code = 0
    try:
        process.set_pdeathsig()
        process.set_comm(f"isodemo-{plan.run_id}")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)  # isodemo decides when this ends: it sends "stop"
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # forked while isodemo held its signals
        line = _read_line(commands)
        if line:
            pids, stopped = _start_all(plan, json.loads(line), reports, commands)
            if not stopped:
                os.read(commands, 64)  # "stop", or end of file: isodemo is gone
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        os.write(reports, f"stopped {time.monotonic()}\n".encode())
    except BaseException:  # the zygote never returns into isodemo's code
        code = 1
    finally:
        os._exit(code)


def _read_line(fd: int) -> str:
    """One line from a pipe, read a byte at a time: nothing after it is taken from the pipe."""
    data = b""
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return data.decode()


def _start_all(plan: Plan, config: dict[str, object], reports: int, commands: int) -> tuple[list[int], bool]:
    """Clone every container, at most plan.parallel still setting up at a time; stop early when isodemo
    says stop (Ctrl-C) or goes away. The pids, and whether it was told to stop."""
    shared = child.Shared(
        int(str(config["bridge_index"])),
        str(config["bridge_mac"]),
        str(config["gateway"]),
        int(str(config["prefixlen"])),
        str(config["lower"]),
        str(config["exec_name"]),
        int(str(config["memory_limit"])),
    )
    addresses = list(config["addresses"])  # type: ignore[call-overload]
    inflight: dict[int, tuple[int, int, int]] = {}
    poller = select.poll()
    pids = []

    said: dict[int, bytes] = {}
    stop = []
    poller.register(commands, select.POLLIN | select.POLLHUP)

    def collect(timeout_ms: int) -> None:
        for fd, _event in poller.poll(timeout_ms):
            if fd == commands:
                poller.unregister(commands)
                stop.append(True)
                continue
            chunk = os.read(fd, 4096)
            if chunk:  # the child's stage times (then end of file at its execve), or why it failed
                said[fd] = said.get(fd, b"") + chunk
                continue
            now = time.monotonic()
            index, pid, cloned_ns = inflight.pop(fd)
            poller.unregister(fd)
            os.close(fd)
            text = said.pop(fd, b"").decode(errors="replace")
            timings, _newline, reason = text.partition("\n") if text.startswith("T ") else ("", "", text)
            if reason:
                line = f"err {index} {reason}".replace("\n", " ")
            else:
                line = f"ok {index} {pid} {now} {cloned_ns} {timings[2:]}"
            os.write(reports, (line + "\n").encode())

    for index in range(plan.count):
        while len(inflight) >= plan.parallel and not stop:
            collect(-1)
        if stop:
            break
        name = f"c{index:05d}"
        spec = child.Spec(
            index,
            veth_name(plan.run_id, index),
            mac_of(plan.run_id, index),
            str(addresses[index]),
            f"{plan.run_id}-{index}",
            os.path.join(plan.base, name),
            plan.cgroup.child(name),
        )
        host_sock = rtnl.open_socket()
        read_end, write_end = os.pipe()  # both close-on-exec: end of file here means execve succeeded
        before = time.monotonic_ns()
        pid = clone(CLONE_FLAGS)
        if pid == 0:
            os.close(read_end)
            child.become(spec, shared, host_sock, write_end)
        host_sock.close()
        os.close(write_end)
        pids.append(pid)
        inflight[read_end] = (index, pid, time.monotonic_ns() - before)
        poller.register(read_end, select.POLLIN | select.POLLHUP)
        collect(0)
    while inflight and not stop:
        collect(-1)
    os.write(reports, b"done\n")
    return pids, bool(stop)
