"""Every syscall a step names is one the process really makes: each demo runs under `strace -f`, and every
name in its steps' `syscalls` lists is looked for in the trace of isodemo and all its children.

The rule for an entry of `syscalls` (docs/json.md):
- it starts with the kernel's name of a syscall, then "(": `unshare(CLONE_NEWPID)`, `clone(SIGCHLD)  (fork)`.
  What follows the name (arguments, symbolic or elided, a note in parentheses) is for the learner and is not
  checked. A C library name that is not the syscall it makes (fork, waitpid, stat, open) is not allowed:
  the entry names what the kernel sees, and may add the library name as a note.
- a netlink message (`RTM_NEWLINK ...`, `NFT_MSG_NEWRULE ...`) is not a syscall: it is carried by sendto or
  sendmsg on an AF_NETLINK socket, and the entry is checked as that.
- anything else (a description such as "write memory.max") fails the test.
A name counts as made when the trace shows it or its twin in EQUIVALENT: architectures without the classic
syscalls (arm64 has no mkdir, only mkdirat) and C libraries that use the newer one (glibc's pwritev is
pwritev2) make the other. The check is for the whole run, not step by step: strace does not see steps.

strace traces everything: which names to look for is only known from the run's own JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from isodemo import catalog
from tests.conftest import isodemo_argv

NAME = re.compile(r"([a-z_][a-z0-9_]*)\(")
NETLINK_MESSAGE = re.compile(r"(RTM|NFT_MSG)_[A-Z]+")
TRACE_LINE = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_][a-z0-9_]*)[( ]")
EQUIVALENT = {
    "clone": {"clone3"},
    "mkdir": {"mkdirat"},
    "rmdir": {"unlinkat"},
    "symlink": {"symlinkat"},
    "pwritev": {"pwritev2"},
    "preadv": {"preadv2"},
}
NETLINK_SEND = {"sendto", "sendmsg"}
DEMOS = [entry.name for entry in catalog.demos()]


def syscall_of(entry: str) -> str | None:
    """The syscall an entry of a step's `syscalls` names, or None when it names none (a description)."""
    if NETLINK_MESSAGE.match(entry):
        return "sendmsg"
    match = NAME.match(entry)
    return match[1] if match else None


def traced_names(trace: str) -> set[str]:
    return {m[1] for m in map(TRACE_LINE.match, trace.splitlines()) if m}


def made(name: str, trace: set[str]) -> bool:
    if name == "sendmsg":
        return bool(NETLINK_SEND & trace)
    return name in trace or bool(EQUIVALENT.get(name, set()) & trace)


def test_the_rule() -> None:
    assert syscall_of("unshare(CLONE_NEWPID|CLONE_NEWNS)") == "unshare"
    assert syscall_of("clone(SIGCHLD)  (fork)") == "clone"
    assert syscall_of("RTM_NEWLINK kind veth") == "sendmsg"
    assert syscall_of("write memory.max") is None
    trace = traced_names('12  mkdirat(AT_FDCWD, "x", 0777) = 0\n13  <... clone3 resumed>) = 14\n--- SIGCHLD ---\n')
    assert trace == {"mkdirat", "clone3"}
    assert made("mkdir", trace) and made("clone", trace) and not made("fork", trace)
    assert not made("sendmsg", trace) and made("sendmsg", {"sendto"})


@pytest.mark.host_only  # ~25 s in all; the trace does not depend on the cgroup version
@pytest.mark.parametrize("demo", DEMOS)
def test_named_syscalls_are_made(demo: str, tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: sudo apt install strace (setup.sh --dev installs it)")
    trace_file = tmp_path / "trace"
    proc = subprocess.run(
        [strace, "-f", "-qq", "-o", str(trace_file), *isodemo_argv("--json", demo)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["error"] is None, report["error"]  # a claim that fails under load is not this test's business
    trace = traced_names(trace_file.read_text())
    problems = []
    for number, step in enumerate(report["steps"], 1):
        for entry in step["syscalls"]:
            name = syscall_of(entry)
            if name is None:
                problems.append(f"step {number} ({step['title']}): {entry!r} names no syscall")
            elif not made(name, trace):
                problems.append(f"step {number} ({step['title']}): {entry!r}: no {name} in the trace")
    assert not problems, "\n".join(problems)
    assert any(step["syscalls"] for step in report["steps"])
