"""container/equivalents*.py: the docker run line, runc's config.json and the securityContext, generated.

The config.json's shape is checked against tests/runcref.py, the runc bundle written from Docker's own values
(independent of isodemo's code); tests/root/test_container.py runs the generated file with runc."""

from __future__ import annotations

import shlex

import pytest

from isodemo.container import equivalents, equivalents_k8s
from isodemo.container.security import DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS
from isodemo.container.spec import RunSpec, Volume
from isodemo.demos.container import COMMAND, MEMORY, PIDS, spec_for
from isodemo.inside.security import default_filter
from tests import runcref

NAMES = ("mnt", "uts", "ipc", "cgroup", "pid", "net")


def used_for(spec: RunSpec, **changes: object) -> equivalents.Used:
    kept = DEFAULT_CAPABILITIES
    values: dict[str, object] = {
        "name": "isodemo-abc123",
        "hostname": "isodemo-abc123",
        "argv": spec.command,
        "env": ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=isodemo-abc123"),
        "cwd": "/",
        "uid": 0,
        "gid": 0,
        "groups": (0,),
        "capabilities": kept,
        "no_new_privs": spec.no_new_privileges,
        "seccomp": default_filter(kept),
        "namespaces": NAMES,
        "masked_paths": MASKED_PATHS,
        "readonly_paths": READONLY_PATHS,
        "root": "/var/lib/isodemo/containers/isodemo-abc123-ctr/merged",
        "etc_files": {f"/etc/{n}": f"/var/lib/isodemo/containers/isodemo-abc123-ctr/etc/{n}" for n in ("hosts",)},
        "netns_path": "/run/netns/isodemo-abc123",
    }
    values.update(changes)
    return equivalents.Used(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "text"), [(64 << 20, "64m"), (1 << 30, "1g"), (3 << 10, "3k"), (1500, "1500b")])
def test_sizes_are_written_as_docker_takes_them(value: int, text: str) -> None:
    assert equivalents.size_text(value) == text


def test_the_demo_container_as_a_docker_run_line() -> None:
    spec = spec_for({})
    argv = equivalents.docker_run(spec, "isodemo-abc123")
    line = shlex.join(argv)
    for option in ("--memory 64m", "--pids-limit 64", "--network bridge", "--security-opt no-new-privileges"):
        assert option in line
    assert argv[: argv.index("busybox")][:3] == ["docker", "run", "--rm"]
    assert tuple(argv[argv.index("busybox") + 1 :]) == COMMAND
    assert shlex.split(line) == argv  # the line a shell reads back is the argv


def test_every_docker_option_of_a_spec_is_written() -> None:
    spec = RunSpec(
        "busybox",
        command=("true",),
        cap_add=("NET_ADMIN",),
        cap_drop=("MKNOD",),
        seccomp=False,
        volumes=(Volume("/srv", "/data", readonly=True, propagation="rslave"),),
        user=(1000, 1000),
        env=("A=1",),
        workdir="/w",
        pid_host=True,
        memory_swap=-1,
        memory=32 << 20,
    )
    line = shlex.join(equivalents.docker_run(spec, "x"))
    for option in (
        "--cap-add NET_ADMIN",
        "--cap-drop MKNOD",
        "--security-opt seccomp=unconfined",
        "-v /srv:/data:ro,rslave",
        "-u 1000:1000",
        "-e A=1",
        "-w /w",
        "--pid host",
        "--memory-swap -1",
        "--network none",
    ):
        assert option in line, option


def test_docker_lines_continue_with_a_backslash_and_end_with_the_command() -> None:
    lines = equivalents.docker_lines(spec_for({}), "isodemo-abc123")
    assert all(line.endswith(" \\") for line in lines[:-1])
    assert lines[-1].strip().startswith("busybox sh -c ")
    assert shlex.split(" ".join(line.removesuffix(" \\") for line in lines)) == equivalents.docker_run(
        spec_for({}), "isodemo-abc123"
    )


def test_config_has_the_oci_fields_dockers_reference_bundle_has() -> None:
    spec = spec_for({})
    config = equivalents.oci_config(spec, used_for(spec))
    reference = runcref.config("/rootfs", "/etc-dir", ["true"], "isodemo-ref")
    assert set(reference) <= set(config)
    assert set(reference["process"]) - {"user"} <= set(config["process"])
    assert set(reference["process"]["user"]) == set(config["process"]["user"])
    assert set(reference["linux"]) - {"devices"} <= set(config["linux"]) | {"cgroupsPath"}
    for key in ("bounding", "effective", "permitted"):
        assert config["process"]["capabilities"][key] == list(runcref.DOCKER_CAPS)
    assert config["process"]["capabilities"]["inheritable"] == []
    assert config["linux"]["maskedPaths"] == list(runcref.MASKED_PATHS)
    assert config["linux"]["readonlyPaths"] == list(runcref.READONLY_PATHS)
    # the same default mounts (moby's list), the same options, in any order
    theirs = {m["destination"]: (m["type"], sorted(m["options"])) for m in reference["mounts"] if m["type"] != "bind"}
    ours = {m["destination"]: (m["type"], sorted(m["options"])) for m in config["mounts"] if m["type"] != "bind"}
    assert set(theirs) == set(ours)
    for destination in ("/proc", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"):
        assert ours[destination] == theirs[destination], destination


def test_config_holds_the_values_used() -> None:
    spec = spec_for({})
    config = equivalents.oci_config(spec, used_for(spec))
    linux = config["linux"]
    assert [n["type"] for n in linux["namespaces"]] == ["ipc", "uts", "network", "pid", "mount", "cgroup"]
    assert {"type": "network", "path": "/run/netns/isodemo-abc123"} in linux["namespaces"]
    assert linux["resources"]["memory"] == {"limit": MEMORY, "swap": 2 * MEMORY}
    assert linux["resources"]["pids"] == {"limit": PIDS}
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in linux["resources"]["devices"]
    assert config["process"]["noNewPrivileges"] is True
    assert config["process"]["args"] == list(COMMAND)
    assert config["root"] == {"path": "/var/lib/isodemo/containers/isodemo-abc123-ctr/merged", "readonly": False}
    facts = equivalents.key_facts(config)
    assert facts["memory_limit"] == MEMORY and facts["pids_limit"] == PIDS and facts["no_new_privileges"]


def test_seccomp_section_refuses_what_dockers_reference_refuses() -> None:
    spec = spec_for({})
    seccomp = equivalents.oci_config(spec, used_for(spec))["linux"]["seccomp"]
    reference = runcref.seccomp_profile()
    assert seccomp["defaultAction"] == reference["defaultAction"] == "SCMP_ACT_ALLOW"
    refused = {n for rule in seccomp["syscalls"] if rule["errnoRet"] == runcref.EPERM for n in rule["names"]}
    assert set(runcref.DENIED) <= refused
    masks = {
        rule["args"][0]["value"]
        for rule in seccomp["syscalls"]
        if rule["names"] == ["clone"] and rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"
    }
    assert masks == set(runcref.CLONE_NS_FLAGS.values())
    clone3 = [rule for rule in seccomp["syscalls"] if "clone3" in rule["names"]]
    assert clone3 and clone3[0]["errnoRet"] == runcref.ENOSYS


def test_privileged_has_no_filter_no_masks_and_every_device() -> None:
    spec = RunSpec("busybox", command=("true",), privileged=True)
    config = equivalents.oci_config(spec, used_for(spec, seccomp=None, masked_paths=(), readonly_paths=()))
    assert "seccomp" not in config["linux"]
    assert config["linux"]["maskedPaths"] == [] == config["linux"]["readonlyPaths"]
    assert config["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sysfs = next(m for m in config["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sysfs["options"]
    assert equivalents_k8s.security_context(spec, DEFAULT_CAPABILITIES, False)[-1] == "  privileged: true"


def test_summary_fits_beside_the_docker_line() -> None:
    spec = spec_for({})
    lines = equivalents.summary_lines(equivalents.oci_config(spec, used_for(spec)))
    assert len(lines) <= 14  # narrate/base.py MAX_VIEW_LINES: nothing cut
    assert any('"noNewPrivileges": true' in line for line in lines)


def test_security_context_says_what_the_container_did() -> None:
    spec = spec_for({})
    yaml = equivalents_k8s.security_context(spec, DEFAULT_CAPABILITIES, True)
    assert "  allowPrivilegeEscalation: false" in yaml
    assert "  seccompProfile: {type: RuntimeDefault}" in yaml
    assert "  capabilities: {drop: [], add: []}" in yaml
    fewer = (*(c for c in DEFAULT_CAPABILITIES if c != "CAP_NET_RAW"), "CAP_NET_ADMIN")
    assert "  capabilities: {drop: [NET_RAW], add: [NET_ADMIN]}" in equivalents_k8s.security_context(spec, fewer, True)
    rows = equivalents_k8s.mapping_rows(
        spec, kept=DEFAULT_CAPABILITIES, dropped_count=26, seccomp_rules=66, masked=12, readonly=5
    )
    fields = [row[0] for row in rows]
    for field in ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "seccompProfile", "procMount", "privileged"):
        assert field in fields
    assert rows[fields.index("allowPrivilegeEscalation")][1] == "false"
    assert all(len(row) == 4 for row in rows)


@pytest.mark.parametrize(
    ("directory", "root", "version", "expected"),
    [
        # v2: absolute from the one hierarchy's root; runc joins it onto /sys/fs/cgroup
        ("/sys/fs/cgroup/isodemo/isodemo-abc123-ctr", "/sys/fs/cgroup", 2, "/isodemo/isodemo-abc123-ctr"),
        # v1: relative, the name: runc puts it under its own cgroup in every hierarchy, as isodemo does; never
        # the memory hierarchy's sysfs directory (runc would join that onto each mount point)
        ("/sys/fs/cgroup/memory/process_api/4c47/isodemo-abc123-ctr", "/sys/fs/cgroup/memory", 1, "isodemo-abc123-ctr"),
        ("/sys/fs/cgroup/pids/isodemo-abc123-ctr", "/sys/fs/cgroup/pids", 1, "isodemo-abc123-ctr"),
    ],
)
def test_cgroups_path_is_what_runc_resolves_to_the_same_cgroup(
    directory: str, root: str, version: int, expected: str
) -> None:
    assert equivalents.cgroups_path(directory, root, version) == expected
    assert not equivalents.cgroups_path(directory, root, version).startswith("/sys/")


def test_cgroupns_private_is_written_where_dockers_default_is_host() -> None:
    assert equivalents.docker_cgroupns(NAMES, cgroup_v2=False) == "private"  # v1 and hybrid: default host
    assert equivalents.docker_cgroupns(NAMES, cgroup_v2=True) is None  # v2: private is the default
    assert equivalents.docker_cgroupns(("mnt", "pid"), cgroup_v2=False) is None  # no cgroup namespace made
    spec = spec_for({})
    assert "--cgroupns private" in shlex.join(equivalents.docker_run(spec, "x", cgroupns="private"))
    assert "  --cgroupns private \\" in equivalents.docker_lines(spec, "x", cgroupns="private")
    assert "--cgroupns" not in shlex.join(equivalents.docker_run(spec, "x"))
