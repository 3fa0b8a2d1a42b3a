"""lock_down against the real kernel: a forked child (root, like a container's process before execve) locks
itself down and reports what /proc/self/status shows and what each refused call answers.

The probes are chosen so that the filter and the capabilities can be told apart: without the filter,
keyctl(KEYCTL_GET_KEYRING_ID) answers ENOKEY, unshare(0) succeeds for anyone, setns(-1) fails with EBADF,
clone with a namespace flag and CLONE_SIGHAND without CLONE_VM fails with EINVAL and clone3(NULL) with
EFAULT; only the filter answers EPERM (ENOSYS for clone3).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
from collections.abc import Callable
from typing import Any

import pytest

from isodemo.container.security import DEFAULT_CAPABILITIES
from isodemo.inside import security as inside
from isodemo.kernel import capabilities, seccomp
from isodemo.kernel.namespaces import CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = [
    pytest.mark.host_only,
    pytest.mark.skipif(platform.machine() != "x86_64", reason="the probes use x86_64 syscall numbers"),
]

DOCKER_DEFAULT_MASK = 0x00000000A80425FB
# asm/unistd_64.h
SYS_CLONE, SYS_MOUNT, SYS_KEYCTL, SYS_CLONE3 = 56, 165, 250, 435
CLONE_SIGHAND = 0x00000800
KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING = 0, -1
BUSYBOX = "/bin/busybox"


def _errno_of(call: Callable[[], int]) -> str:
    """'ok' when the raw syscall returned >= 0, else the errno's name."""
    ctypes.set_errno(0)
    result = call()
    return "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()]


def _probe() -> dict[str, Any]:
    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    long = ctypes.c_long
    with open("/proc/self/status") as f:
        fields = [line.partition(":") for line in f]
    status = {key: value.split()[0] for key, _sep, value in fields if key.startswith(("Cap", "NoNewPrivs", "Seccomp"))}
    results: dict[str, Any] = {"status": status, "uid": os.getuid()}
    results["mount"] = _errno_of(
        lambda: syscall(long(SYS_MOUNT), b"none", b"/nonexistent-isodemo", b"tmpfs", long(0), None)
    )
    results["unshare"] = _errno_of(lambda: libc.unshare(0))
    results["setns"] = _errno_of(lambda: libc.setns(-1, 0))
    results["keyctl"] = _errno_of(
        lambda: syscall(long(SYS_KEYCTL), long(KEYCTL_GET_KEYRING_ID), long(KEY_SPEC_THREAD_KEYRING), long(0))
    )

    def clone(flag: int) -> Callable[[], int]:
        # CLONE_SIGHAND without CLONE_VM: the kernel refuses it (EINVAL), so no process is ever created
        return lambda: int(syscall(long(SYS_CLONE), long(flag | CLONE_SIGHAND), None, None, None, long(0)))

    for name, flag in (("user", CLONE_NEWUSER), ("ns", CLONE_NEWNS), ("pid", CLONE_NEWPID), ("net", CLONE_NEWNET)):
        results[f"clone_{name}"] = _errno_of(clone(flag))
    results["clone3"] = _errno_of(lambda: syscall(long(SYS_CLONE3), None, long(88)))
    child = os.fork()
    if child == 0:
        os._exit(7)
    results["fork_status"] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    return results


def _in_child(body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `body` in a forked child (this process's capabilities stay as they are); return what it returned."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            answer: dict[str, Any] = body()
        except BaseException as error:  # everything must reach the parent
            answer = {"error": repr(error)}
        os.write(write_end, json.dumps(answer).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    answer = json.loads(b"".join(chunks))
    assert "error" not in answer, answer["error"]
    return answer


def _locked(security: inside.Security, uid: int = 0, gid: int = 0) -> dict[str, Any]:
    def body() -> dict[str, Any]:
        steps = inside.lock_down(security, uid, gid)
        return {"steps": steps, **_probe()}

    return _in_child(body)


def test_unfiltered_probes_are_not_eperm() -> None:
    """The premise of the other tests: without a filter, as root, no probe answers EPERM."""
    seen = _in_child(_probe)
    assert seen["status"]["Seccomp"] == "0"
    assert seen["mount"] == "ENOENT"
    assert seen["unshare"] == "ok"
    assert seen["setns"] == "EBADF"
    assert seen["keyctl"] == "ENOKEY"  # this thread has no keyring yet, and asking does not create one
    assert {seen[f"clone_{n}"] for n in ("user", "ns", "pid", "net")} == {"EINVAL"}
    assert seen["clone3"] == "EFAULT"


def test_the_default_lock_down_is_dockers() -> None:
    seen = _locked(inside.Security(DEFAULT_CAPABILITIES))
    status = seen["status"]
    assert int(status["CapBnd"], 16) == DOCKER_DEFAULT_MASK
    assert int(status["CapPrm"], 16) == DOCKER_DEFAULT_MASK
    assert int(status["CapEff"], 16) == DOCKER_DEFAULT_MASK
    assert int(status["CapInh"], 16) == 0
    assert int(status["CapAmb"], 16) == 0
    assert status["NoNewPrivs"] == "0"
    assert status["Seccomp"] == "2"
    for probe in ("mount", "unshare", "setns", "keyctl", "clone_user", "clone_ns", "clone_pid", "clone_net"):
        assert seen[probe] == "EPERM", probe
    assert seen["clone3"] == "ENOSYS"
    assert seen["fork_status"] == 7
    assert seen["steps"][0] == "seccomp(SECCOMP_SET_MODE_FILTER) 66 rules"
    assert "capset(effective=0x00000000a80425fb, permitted=0x00000000a80425fb, inheritable=0x0)" in seen["steps"]


def test_no_new_privs_when_asked() -> None:
    seen = _locked(inside.Security(DEFAULT_CAPABILITIES, no_new_privs=True))
    assert seen["status"]["NoNewPrivs"] == "1"
    assert seen["status"]["Seccomp"] == "2"
    assert seen["steps"][-1] == "prctl(PR_SET_NO_NEW_PRIVS, 1)"


def test_seccomp_unconfined() -> None:
    seen = _locked(inside.Security(DEFAULT_CAPABILITIES, seccomp=False))
    assert seen["status"]["Seccomp"] == "0"
    assert int(seen["status"]["CapEff"], 16) == DOCKER_DEFAULT_MASK
    assert seen["keyctl"] == "ENOKEY"  # only the filter refused it
    assert seen["setns"] == "EBADF"
    assert seen["clone3"] == "EFAULT"
    assert seen["mount"] == "ENOENT"  # the path is looked up before CAP_SYS_ADMIN is checked


def test_a_non_root_user_has_no_effective_capabilities() -> None:
    seen = _locked(inside.Security(DEFAULT_CAPABILITIES), uid=1000, gid=1000)
    status = seen["status"]
    assert seen["uid"] == 1000
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapPrm"], 16) == 0
    assert int(status["CapBnd"], 16) == DOCKER_DEFAULT_MASK
    assert status["Seccomp"] == "2"
    assert seen["keyctl"] == "EPERM"


def test_cap_sys_admin_kept_lifts_the_mount_refusals() -> None:
    kept = (*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN")
    seen = _locked(inside.Security(kept))
    assert int(seen["status"]["CapEff"], 16) == DOCKER_DEFAULT_MASK | 1 << 21
    assert seen["status"]["Seccomp"] == "2"
    assert seen["mount"] == "ENOENT"
    assert seen["unshare"] == "ok"
    assert seen["clone_user"] == "EINVAL"
    assert seen["clone3"] == "EFAULT"
    assert seen["keyctl"] == "EPERM"  # never allowed, as in Docker's profile


def test_every_refusal_of_the_filter_is_loaded() -> None:
    """The whole FILTER (no capability lifts anything) in a child that keeps every capability: what EPERM
    there comes from the filter alone."""

    def body() -> dict[str, Any]:
        count = inside.load_filter(inside.FILTER)
        return {"count": count, "mode": seccomp.mode(), "cap_eff": capabilities.effective(), **_probe()}

    seen = _in_child(body)
    assert seen["count"] == len(inside.FILTER)
    assert seen["mode"] == seccomp.SECCOMP_MODE_FILTER
    assert seen["cap_eff"] == capabilities.permitted()  # still every capability of this process
    assert seen["mount"] == "EPERM"
    assert seen["unshare"] == "EPERM"


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")
def test_the_sets_survive_execve() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.dup2(write_end, 1)
            inside.lock_down(inside.Security(DEFAULT_CAPABILITIES), 0, 0)
            os.execv(BUSYBOX, [BUSYBOX, "cat", "/proc/self/status"])
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    for field in ("CapBnd", "CapPrm", "CapEff"):
        assert int(status[field], 16) == DOCKER_DEFAULT_MASK, field
    assert int(status["CapInh"], 16) == 0
    assert int(status["CapAmb"], 16) == 0
    assert status["NoNewPrivs"].strip() == "0"
    assert status["Seccomp"].strip() == "2"
