"""`isodemo mnt` as root, and what happens without a usable busybox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_isodemo


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_mnt_facts() -> None:
    result = run_isodemo("mnt", "--json")
    assert result.code == 0, result.stderr
    facts = result.json["facts"]
    assert facts["propagation"] == "private"
    assert facts["tmpfs_visible_inside"] is True
    assert facts["tmpfs_visible_on_host"] is False
    assert facts["host_mounts_unchanged"] is True
    assert {"bin", "proc", "etc"} <= set(facts["root_after_pivot"])
    assert facts["old_root_detached"] is True


def _hidden_busybox(replacement: str) -> list[str]:
    """isodemo mnt in a private mount namespace where each busybox on PATH is covered by `replacement`."""
    targets = sorted(
        {os.path.realpath(p) for p in ("/bin/busybox", "/usr/bin/busybox", "/sbin/busybox") if os.path.exists(p)}
    )
    binds = " && ".join(f"mount --bind {replacement} {t}" for t in targets)
    python = sys.executable
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        f"{binds} && exec {python} -m isodemo mnt --plain",
    ]


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox is not installed")
@pytest.mark.parametrize(("replacement", "says"), [("/dev/null", "not installed"), ("/bin/ls", "dynamically linked")])
def test_missing_or_dynamic_busybox_exits_3_with_the_apt_command(replacement: str, says: str) -> None:
    proc = subprocess.run(
        _hidden_busybox(replacement), capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )
    assert proc.returncode == 3, proc.stderr
    assert says in proc.stderr
    assert "apt install busybox-static" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_no_leak_where_the_root_mount_is_shared() -> None:
    """On systemd machines / is shared: run the demo in a namespace whose / is shared, as there, and check
    that none of the demo's mounts propagated back into it."""
    script = (
        f"{sys.executable} -m isodemo mnt --json > /tmp/isodemo-test-shared.json; code=$?; "
        "grep -c isodemo /proc/self/mountinfo; exit $code"
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "shared", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    try:
        with open("/tmp/isodemo-test-shared.json") as f:
            facts = json.load(f)["facts"]
    finally:
        os.unlink("/tmp/isodemo-test-shared.json")
    assert proc.returncode == 0, proc.stderr
    assert facts["propagation_host"] == "shared"
    assert facts["propagation"] == "private"
    assert facts["host_mounts_unchanged"] is True
    assert proc.stdout.strip() == "0", "a mount made inside the demo appeared in the shared namespace"
