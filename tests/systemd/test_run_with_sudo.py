"""`sudo isodemo run` from the user's session, on a machine where systemd mounted cgroup2 (with nsdelegate).

With nsdelegate, a cgroup namespace is a delegation boundary: no process inside it can move to a cgroup outside
its root. isodemo's helper leaves the container's cgroup for its shim once PID 1 is forked, so PID 1 must make
the cgroup namespace, not the helper (isolated_child._own_cgroup_namespace): before that, every `sudo isodemo
run` on the learners' VM ended with "the namespace helper exited before it started the child".
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.systemd.session import Session

ISODEMO = os.path.join(os.environ.get("ISODEMO_VENV", "/opt/isodemo/venv"), "bin", "isodemo")


def test_sudo_isodemo_run_in_a_session(session: Session) -> None:
    if os.environ.get("ISODEMO_VM_SUDOERS") != "1":
        pytest.skip("the user may not sudo here: run-in-systemd-vm --sudoers")
    with open("/proc/self/mounts") as f:
        options = next(line.split()[3] for line in f if line.split()[1] == "/sys/fs/cgroup")
    assert "nsdelegate" in options.split(","), options  # what systemd mounts: the condition of this test
    proc = subprocess.run(
        ["sudo", "-n", ISODEMO, "run", "busybox", "cat", "/proc/self/cgroup"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "0::/\n"  # the container's own cgroup is the root of its cgroup namespace
    cleanup = subprocess.run(
        ["sudo", "-n", ISODEMO, "cleanup", "--dry-run", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert '"found": []' in cleanup.stdout, cleanup.stdout
