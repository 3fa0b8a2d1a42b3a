"""`isodemo container` as root: every observed fact, and the generated config.json run by runc.

The runc test is the proof that the config.json the demo writes is a working equivalent, not a look-alike:
the file `isodemo container --oci-config` wrote, with only root.path replaced by a busybox tree of
tests/runcref.py, is run by apt's runc (`runc create`, then `start`), and the container it makes is in the
same cgroup directories as the demo's was (cgroupsPath), with the same limits, and sees the same capability
sets, no_new_privs and seccomp mode. cgroup v1 only (this host; the cgroup v2 VM does not run it)."""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import time

import pytest

from isodemo.cgroups.v1 import hierarchies
from isodemo.container import equivalents
from isodemo.demos.container import MEMORY, PIDS
from isodemo.kernel import procfs
from tests import runcref
from tests.conftest import run_isodemo

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")
DOCKER_CAP_EFF = "00000000a80425fb"  # Docker's 14 capabilities as /proc/PID/status prints them


def test_container_facts(image_store: str) -> None:
    result = run_isodemo("container", "--json")
    assert result.code == 0, result.stderr
    report = result.json
    facts = report["facts"]
    assert set(facts["namespaces"]) == {"mnt", "uts", "ipc", "pid", "net"} | ({"cgroup"} & set(facts["namespaces"]))
    assert all(isinstance(inode, int) and inode > 0 for inode in facts["namespaces"].values())
    assert facts["cgroup_paths"] and all(path.startswith("/sys/fs/cgroup") for path in facts["cgroup_paths"])
    assert str(MEMORY) in facts["cgroup_limits"].values() and str(PIDS) in facts["cgroup_limits"].values()
    assert facts["overlay"]["fstype"] == "overlay"
    assert facts["root_mounts"] == ["overlay"]  # one mount on / inside: the old root is detached
    assert facts["cgroups_path"] == os.path.basename(facts["cgroup_paths"][0]) or facts["cgroups_path"].startswith(
        "/isodemo/"
    )
    assert int(facts["cap_eff_before"], 16) & ~int(DOCKER_CAP_EFF, 16)  # more than the 14 before
    assert facts["cap_eff_after"] == DOCKER_CAP_EFF == facts["cap_bnd_after"]
    assert facts["no_new_privs"] is True
    assert facts["seccomp_mode"] == 2
    assert {"bin", "etc", "proc", "sys", "dev"} <= set(facts["root_listing"])
    assert "usr" not in facts["root_listing"]  # the image's tree (busybox-static has no /usr), not the host's
    assert facts["readonly_write_errno"] == "EROFS"
    assert facts["masked_paths_mounted"] >= 1
    assert facts["exit_code"] == 0
    assert facts["command_status"] == {
        "CapEff": DOCKER_CAP_EFF,
        "CapBnd": DOCKER_CAP_EFF,
        "NoNewPrivs": "1",
        "Seccomp": "2",
    }
    oci = facts["oci_config"]
    assert oci["memory_limit"] == MEMORY and oci["pids_limit"] == PIDS and oci["no_new_privileges"] is True
    assert len(oci["capabilities"]) == 14
    assert "--memory 64m" in facts["docker_run"]
    assert report["leftovers"] == []


@pytest.mark.host_only  # no cgroup in it: the same on v1 and v2
def test_oci_config_file_is_written(image_store: str, tmp_path: object) -> None:
    target = os.path.join(str(tmp_path), "config.json")
    result = run_isodemo("container", "--json", "--oci-config", target)
    assert result.code == 0, result.stderr
    with open(target) as f:
        config = json.load(f)
    assert config["ociVersion"] == equivalents.OCI_VERSION
    assert config["linux"]["resources"]["memory"]["limit"] == MEMORY
    assert config["process"]["noNewPrivileges"] is True


@pytest.mark.host_only
def test_generated_config_runs_in_runc(image_store: str, tmp_path: pathlib.Path) -> None:
    """The config.json `isodemo container --oci-config` wrote, with only root.path replaced (the demo's overlay
    is gone with it): runc makes the same container from it, in the same cgroup place, with the same limits
    and the same lock-down. The objects the file names that lived as long as the demo (the /etc files it
    binds, the pinned network namespace) are made again at the paths it names."""
    runc = runcref.runc_path()
    if runc is None or runcref.busybox_path() is None:
        if os.environ.get("ISODEMO_REQUIRE_ROOT") == "1":
            pytest.fail("runc and busybox are needed for this comparison (setup.sh --dev installs them)")
        pytest.skip("needs runc and busybox-static")
    if runcref.cgroup_v2():
        # an absolute cgroupsPath makes runc enable controllers in every ancestor, the root's included, which a
        # test must not do to the host; runcref's wrapper would move the path
        pytest.skip("cgroup v1 only: on v2 runc would write the root's cgroup.subtree_control")
    target = tmp_path / "config.json"
    demo = run_isodemo("container", "--json", "--oci-config", str(target))
    assert demo.code == 0, demo.stderr
    facts = demo.json["facts"]
    config = json.loads(target.read_text())
    assert config["linux"]["cgroupsPath"] == facts["cgroups_path"] == os.path.basename(facts["cgroup_paths"][0])

    name = f"isodemo-ref-{secrets.token_hex(4)}"
    netns = next(n["path"] for n in config["linux"]["namespaces"] if n["type"] == "network")
    binds = {m["source"] for m in config["mounts"] if m["type"] == "bind"}
    made = {os.path.dirname(os.path.dirname(source)) for source in binds}  # <store>/containers/isodemo-<run>-ctr
    assert all(d.startswith(image_store) and not os.path.exists(d) for d in made)
    output = tmp_path / "output"
    with runcref.Reference(["true"], overlay=False) as ref:
        config["root"]["path"] = ref.lower
        listing = " ".join(sorted(os.listdir(ref.lower)))
        (pathlib.Path(ref.bundle) / "config.json").write_text(json.dumps(config))
        for source in binds:
            os.makedirs(os.path.dirname(source), exist_ok=True)
            pathlib.Path(source).write_text(config["hostname"] + "\n")
        # `ip netns add` makes /run/netns (a shared bind mount on itself) where it is missing: undone below.
        had_run_netns = os.path.isdir("/run/netns")
        subprocess.run(["ip", "netns", "add", os.path.basename(netns)], check=True, capture_output=True)
        try:
            with output.open("w") as out:
                created = subprocess.run(
                    [runc, "--root", ref.state, "create", "--bundle", ref.bundle, name],
                    stdout=out,
                    stderr=out,
                    stdin=subprocess.DEVNULL,
                    timeout=60,
                    check=False,
                )
            assert created.returncode == 0, output.read_text()
            pid = json.loads(_runc(runc, ref.state, "state", name))["pid"]
            # runc's cgroup, from the host: in every hierarchy, the directory isodemo's container had
            mounts = hierarchies()
            runc_dirs = {
                os.path.join(mounts[controller], path.lstrip("/"))
                for controller, path in procfs.cgroup(pid).items()
                if controller in ("memory", "pids", "cpu", "cpuacct", "devices")
            }
            assert runc_dirs == set(facts["cgroup_paths"])
            memory_dir = next(d for d in runc_dirs if d.startswith(mounts["memory"]))
            pids_dir = next(d for d in runc_dirs if d.startswith(mounts["pids"]))
            limits = (
                pathlib.Path(memory_dir, "memory.limit_in_bytes").read_text().strip(),
                pathlib.Path(pids_dir, "pids.max").read_text().strip(),
            )
            _runc(runc, ref.state, "start", name)
            deadline = time.monotonic() + 30
            while json.loads(_runc(runc, ref.state, "state", name))["status"] != "stopped":
                assert time.monotonic() < deadline, "the runc container did not end"
                time.sleep(0.05)
        finally:
            subprocess.run([runc, "--root", ref.state, "delete", "-f", name], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", os.path.basename(netns)], capture_output=True, check=False)
            if not had_run_netns:
                while "/run/netns" in {entry.mount_point for entry in procfs.mountinfo()}:
                    subprocess.run(["umount", "/run/netns"], check=True, capture_output=True)
                os.rmdir("/run/netns")
            for directory in made:
                shutil.rmtree(directory, ignore_errors=True)
    assert limits == (str(MEMORY), str(PIDS))
    lines = output.read_text().splitlines()
    seen_by_runc = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    assert seen_by_runc == facts["command_status"]  # the same lock-down, made by runc from the demo's file
    assert f"ls /: {listing}" in lines  # the busybox tree runc was given as root.path
    assert lines[-1] == config["hostname"] == facts["hostname"]


def _runc(runc: str, state: str, *args: str) -> str:
    done = subprocess.run([runc, "--root", state, *args], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout
