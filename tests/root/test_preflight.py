"""A demo that lacks a tool stops before it creates anything: exit 3, the package to install, nothing left.

The tool is hidden the way docs/exit-codes.md shows it: in a throwaway mount namespace (unshare --mount),
a file that is not executable, or not static, is bind-mounted over it. Nothing outside that namespace
changes, and the namespace ends with the process. isodemo is started as `python -m isodemo` with a PATH
that holds only python's own directory, so that PATH cannot find the tool either.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from isodemo import host


def run_hiding(tools: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m isodemo ARGS` in a new mount namespace where each tool is covered by tools[tool]."""
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    if unshare is None or mount is None:
        pytest.skip("needs unshare(1) and mount(8) from util-linux")
    binds = []
    for tool, cover in tools.items():
        path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")  # host.find_tool
        if path is not None:  # where the tool is not installed at all, there is nothing to hide
            binds.append(shlex.join([mount, "--bind", cover, os.path.realpath(path)]))
    script = " && ".join([*binds, 'exec "$@"'])
    isodemo = [sys.executable, "-m", "isodemo", *args]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable), "NO_COLOR": "1"}
    return subprocess.run(
        [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", *isodemo],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_net_without_nft_stops_before_creating_anything() -> None:
    done = run_hiding({"nft": "/dev/null"}, "net", "--json")
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["error"]["kind"] == "MissingFeature"
    assert "`nft` is not installed" in report["error"]["message"]
    assert "apt install nftables" in report["error"]["hint"]
    assert report["steps"] == [] and report["leftovers"] == []  # the first step was never built
    assert "Traceback" not in done.stderr
    # the host_invariants fixture checks that no link, netns, nft table or record was left


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_the_plain_message_names_the_package() -> None:
    done = run_hiding({"nft": "/dev/null"}, "net", "--plain")
    assert done.returncode == 3
    assert "sudo apt install nftables" in done.stderr
    assert "a system call failed" not in done.stderr + done.stdout


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_mnt_with_a_dynamic_busybox_names_busybox_static() -> None:
    dynamic = shutil.which("true") or "/bin/true"
    if host.is_static_elf(os.path.realpath(dynamic)):
        pytest.skip(f"{dynamic} is statically linked here: no dynamic binary to stand in for busybox")
    done = run_hiding({"busybox": dynamic}, "mnt", "--json")
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert "dynamically linked" in report["error"]["message"]
    assert "apt install busybox-static" in report["error"]["hint"]
    assert report["steps"] == []


@pytest.mark.host_only  # no cgroup: the same on v1 and v2
def test_with_the_tools_present_the_preflight_lets_the_demo_start() -> None:
    """The same PATH, nothing hidden: the preflight finds nft where net.nft will look (PATH, then sbin)."""
    done = run_hiding({}, "list", "--json")
    assert done.returncode == 0, done.stderr
    from isodemo import catalog, preflight

    present = host.probe()
    assert [m.what for m in preflight.missing(catalog.BY_NAME["net"], present)] == []
