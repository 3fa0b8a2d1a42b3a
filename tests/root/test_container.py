"""`isodemo container` as root: every observed fact, and the generated config.json run by runc.

The runc test is the proof that the config.json the demo prints is a working equivalent, not a look-alike:
container/equivalents.py writes it for a busybox tree of tests/runcref.py, apt's runc runs it (on cgroup v2
in runcref's wrapper, inside isodemo's subtree), and the container it makes sees the same capability sets,
no_new_privs, seccomp mode and cgroup limits as the demo's own container."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess

import pytest

from isodemo.container import equivalents, security
from isodemo.container.spec import RunSpec
from isodemo.demos.container import MEMORY, PIDS
from isodemo.inside.security import default_filter
from tests import runcref
from tests.conftest import run_isodemo

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="needs busybox-static")
DOCKER_CAP_EFF = "00000000a80425fb"  # Docker's 14 capabilities as /proc/PID/status prints them

# What the runc container prints: the demo command's status lines, then its cgroup limits as it sees them
# (its own cgroup namespace: the root of /sys/fs/cgroup is its cgroup, v2 or v1), then a seccomp refusal.
SCRIPT = (
    'grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" /proc/self/status; '
    'echo "memory: $(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"; '
    'echo "pids: $(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)"; '
    'unshare -U true 2>/dev/null; echo "unshare: $?"; hostname'
)


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
def test_generated_config_runs_in_runc(image_store: str) -> None:
    runc = runcref.runc_path()
    if runc is None or runcref.busybox_path() is None:
        if os.environ.get("ISODEMO_REQUIRE_ROOT") == "1":
            pytest.fail("runc and busybox are needed for this comparison (setup.sh --dev installs them)")
        pytest.skip("needs runc and busybox-static")
    demo = run_isodemo("container", "--json")
    assert demo.code == 0, demo.stderr
    seen_by_demo = demo.json["facts"]["command_status"]

    name = f"isodemo-ref-{secrets.token_hex(4)}"
    spec = RunSpec("busybox", command=("sh", "-c", SCRIPT), memory=MEMORY, pids_limit=PIDS, no_new_privileges=True)
    kept = security.resolve_capabilities()
    masked, readonly = security.paths_for(spec)
    with runcref.Reference(["true"], overlay=False) as ref:
        etc_dir = os.path.join(ref.tmp, name, "etc")
        runcref.write_network_files(etc_dir, name)
        used = equivalents.Used(
            name=name,
            hostname=name,
            argv=spec.command,
            env=(runcref.PATH_ENV, f"HOSTNAME={name}"),
            cwd="/",
            uid=0,
            gid=0,
            groups=(0,),
            capabilities=kept,
            no_new_privs=True,
            seccomp=default_filter(kept),
            namespaces=("mnt", "uts", "ipc", "cgroup", "pid", "net"),
            masked_paths=masked,
            readonly_paths=readonly,
            root=ref.lower,
            etc_files={f"/etc/{n}": os.path.join(etc_dir, n) for n in ("hostname", "hosts", "resolv.conf")},
            cgroups_path=ref.cgroups_path(name),
        )
        with open(os.path.join(ref.bundle, "config.json"), "w") as f:
            json.dump(equivalents.oci_config(spec, used), f)
        wrapper = ref._v2_wrapper()
        try:
            proc = subprocess.run(
                [*wrapper, runc, "--root", ref.state, "run", "--bundle", ref.bundle, name],
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        finally:
            subprocess.run(
                [*wrapper, runc, "--root", ref.state, "delete", "-f", name], capture_output=True, check=False
            )
            shutil.rmtree(os.path.join(ref.tmp, name), ignore_errors=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    seen_by_runc = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    assert seen_by_runc == seen_by_demo  # the same lock-down, made by runc from the generated file
    assert f"memory: {MEMORY}" in lines
    assert f"pids: {PIDS}" in lines
    assert "unshare: 1" in lines  # the generated seccomp section refuses unshare (busybox exits 1 on EPERM)
    assert lines[-1] == name
