"""The same container in other runtimes' words: the `docker run` line and runc's config.json.

Generated, never hand-written: from the RunSpec (`isodemo run`'s options) and from `Used`, the values
container/runtime.py actually computed for the container (its argv, environment, user, the capabilities it
kept, the namespaces it made, its masked and read-only paths, its cgroup). `isodemo container` prints them;
tests/root/test_container.py runs the config.json with runc.

The config.json follows the OCI runtime spec (opencontainers/runtime-spec config.md, config-linux.md): the
field names are the spec's, the values those isodemo used. Named differences from what Docker would hand
runc: the seccomp section is isodemo's filter (a deny list: default action SCMP_ACT_ALLOW; Docker's profile is
an allow list, inside/security.py says why), for the native architecture only; the network namespace is a
path to the one isodemo made and wired (/var/run/netns/NAME, as containerd gives runc a pinned one), where
Docker's daemon wires a new one itself; /etc/hostname, /etc/hosts and /etc/resolv.conf are bound without
MS_REC, as isodemo binds them (Docker asks for rbind).

Pure: no kernel calls, so the unit tests check it without root.
"""

from __future__ import annotations

import errno
import json
import platform
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any

from isodemo.container.devices import ALLOWED
from isodemo.container.security import DEFAULT_CAPABILITIES
from isodemo.container.spec import RunSpec, root_propagation

OCI_VERSION = "1.0.2"
# isodemo's namespace names -> the OCI spec's linux.namespaces types, in runc's order (NamespaceTypes)
OCI_NAMESPACES = {
    "user": "user",
    "ipc": "ipc",
    "uts": "uts",
    "net": "network",
    "pid": "pid",
    "mnt": "mount",
    "cgroup": "cgroup",
}
# libseccomp's names of SCMP_CMP_* (kernel/seccomp.py's numbers), as the OCI spec spells them
SCMP_CMP = {1: "SCMP_CMP_NE", 2: "SCMP_CMP_LT", 3: "SCMP_CMP_LE", 4: "SCMP_CMP_EQ", 5: "SCMP_CMP_GE"}
SCMP_CMP |= {6: "SCMP_CMP_GT", 7: "SCMP_CMP_MASKED_EQ"}
ARCHITECTURES = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}
NOSUID_NOEXEC_NODEV = ["nosuid", "noexec", "nodev"]


@dataclass(frozen=True)
class Used:
    """What the runtime used for one container (container/runtime.py's values, as build() computed them)."""

    name: str
    hostname: str
    argv: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    capabilities: tuple[str, ...]  # CAP_* names kept (bounding = permitted = effective)
    no_new_privs: bool
    seccomp: tuple[Any, ...] | None  # inside.security.Refusal rules loaded, None: unconfined
    namespaces: tuple[str, ...]  # isodemo's names of the new namespaces, e.g. ("mnt", "uts", ..., "net")
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    root: str  # the container's root on the host: the merged overlay directory
    etc_files: dict[str, str] = field(default_factory=dict)  # /etc/hosts -> the host file bound over it
    netns_path: str | None = None  # the network namespace isodemo made and wired (--network bridge)
    cgroups_path: str = ""  # linux.cgroupsPath: cgroups_path() of the cgroup isodemo made


# -- docker run -----------------------------------------------------------------------------------------------


def size_text(value: int) -> str:
    """Bytes as docker's size options take them: 67108864 -> 64m, 1536 -> 1536b."""
    for suffix, unit in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value % unit == 0:
            return f"{value // unit}{suffix}"
    return f"{value}b"


def cgroups_path(directory: str, hierarchy_root: str, version: int) -> str:
    """runc's linux.cgroupsPath for the cgroup isodemo made in `directory` (on v1: its directory in the first
    hierarchy), whose hierarchy is mounted at `hierarchy_root`.

    v2: absolute, from the root of the one hierarchy (`/isodemo/isodemo-<run>-ctr`): runc joins it onto
    /sys/fs/cgroup. v1: relative, the cgroup's name: runc makes it under its own cgroup in each hierarchy,
    which is where isodemo made it (under isodemo's own cgroup in each one) when runc is started from the
    same cgroup. One absolute path cannot say that where the hierarchies differ: this process may be in
    /process_api/... in the memory hierarchy and in / in the pids one."""
    if version == 2:
        return "/" + posixpath.relpath(directory, hierarchy_root)
    return posixpath.basename(directory)


def docker_cgroupns(namespaces: tuple[str, ...], cgroup_v2: bool) -> str | None:
    """--cgroupns for the same container: Docker's default is `private` on cgroup v2 and `host` on v1 and
    hybrid hosts; so "private" where the container has a cgroup namespace of its own on such a host."""
    return "private" if "cgroup" in namespaces and not cgroup_v2 else None


def docker_options(spec: RunSpec, name: str, *, cgroupns: str | None = None) -> list[list[str]]:
    """The options of `docker run` for the same container, each with its value, from the RunSpec;
    `cgroupns`: docker_cgroupns()'s, when the host's default is not what the container got."""
    options = [["--rm"], ["--name", spec.name or name]]
    if spec.hostname:
        options.append(["--hostname", spec.hostname])
    if spec.memory is not None:
        options.append(["--memory", size_text(spec.memory)])
    if spec.memory_swap is not None:
        options.append(["--memory-swap", "-1" if spec.memory_swap < 0 else size_text(spec.memory_swap)])
    if spec.cpus is not None:
        options.append(["--cpus", f"{spec.cpus:g}"])
    if spec.cpu_shares is not None:
        options.append(["--cpu-shares", str(spec.cpu_shares)])
    if spec.pids_limit is not None:
        options.append(["--pids-limit", str(spec.pids_limit)])
    options.append(["--network", spec.network])
    if cgroupns is not None:
        options.append(["--cgroupns", cgroupns])
    options += [["-p", f"{p.host_port}:{p.container_port}"] for p in spec.publish]
    if spec.pid_host:
        options.append(["--pid", "host"])
    for volume in spec.volumes:
        suffix = ":ro" if volume.readonly else ""
        if volume.propagation != "rprivate":
            suffix += ("," if suffix else ":") + volume.propagation
        options.append(["-v", f"{volume.host}:{volume.container}{suffix}"])
    if spec.privileged:
        options.append(["--privileged"])
    options += [["--cap-add", cap] for cap in spec.cap_add]
    options += [["--cap-drop", cap] for cap in spec.cap_drop]
    if spec.no_new_privileges:
        options.append(["--security-opt", "no-new-privileges"])
    if not spec.seccomp and not spec.privileged:
        options.append(["--security-opt", "seccomp=unconfined"])
    if spec.init:
        options.append(["--init"])
    options += [["-e", env] for env in spec.env]
    if spec.workdir:
        options.append(["-w", spec.workdir])
    if spec.user is not None:
        uid, gid = spec.user
        options.append(["-u", str(uid) if gid is None else f"{uid}:{gid}"])
    return options


def docker_run(spec: RunSpec, name: str, *, cgroupns: str | None = None) -> list[str]:
    """The `docker run` command line (argv) for the same container."""
    flat = [arg for option in docker_options(spec, name, cgroupns=cgroupns) for arg in option]
    return ["docker", "run", *flat, spec.image or "busybox", *spec.command]


def docker_lines(spec: RunSpec, name: str, *, cgroupns: str | None = None) -> list[str]:
    """docker_run as a shell reads it over several lines: one option per line, `\\` at each end."""
    lines = ["docker run"] + ["  " + shlex.join(option) for option in docker_options(spec, name, cgroupns=cgroupns)]
    lines.append("  " + shlex.join([spec.image or "busybox", *spec.command]))
    return [line + " \\" for line in lines[:-1]] + lines[-1:]


# -- runc's config.json ---------------------------------------------------------------------------------------


def mounts(used: Used, spec: RunSpec) -> list[dict[str, Any]]:
    """The mounts inside/rootfs.py makes, in its order, with its options."""
    ro = [] if spec.privileged else ["ro"]
    listed: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": list(NOSUID_NOEXEC_NODEV)},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": [*NOSUID_NOEXEC_NODEV, "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": list(NOSUID_NOEXEC_NODEV)},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*NOSUID_NOEXEC_NODEV, *ro]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [*NOSUID_NOEXEC_NODEV, *ro],
        },
    ]
    for path, host_file in used.etc_files.items():
        listed.append({"destination": path, "type": "bind", "source": host_file, "options": ["bind", "rprivate"]})
    for volume in spec.volumes:
        options = ["rbind", volume.propagation] + (["ro"] if volume.readonly else [])
        listed.append({"destination": volume.container, "type": "bind", "source": volume.host, "options": options})
    return listed


def device_rules(privileged: bool) -> list[dict[str, Any]]:
    """container/devices.py's allow list as OCI linux.resources.devices (deny all first)."""
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for rule in ALLOWED:
        kind, numbers, access = rule.split()
        major, minor = numbers.split(":")
        entry: dict[str, Any] = {"allow": True, "type": kind}
        if major != "*":
            entry["major"] = int(major)
        if minor != "*":
            entry["minor"] = int(minor)
        entry["access"] = access
        rules.append(entry)
    return rules


def seccomp_section(rules: tuple[Any, ...], machine: str | None = None) -> dict[str, Any]:
    """inside/security.py's refusals as an OCI seccomp section: default allow, one entry per errno and
    argument rule, the names of the rules without arguments together."""
    arch = ARCHITECTURES.get(machine or platform.machine())
    plain: dict[int, list[str]] = {}
    syscalls: list[dict[str, Any]] = []
    for rule in rules:
        if not rule.args:
            plain.setdefault(rule.errno, []).append(rule.syscall)
            continue
        syscalls.append(
            {
                "names": [rule.syscall],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": rule.errno,
                "args": [
                    {"index": index, "value": value, "valueTwo": two, "op": SCMP_CMP[op]}
                    for index, op, value, two in rule.args
                ],
            }
        )
    grouped = [
        {"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": number} for number, names in sorted(plain.items())
    ]
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [arch] if arch else [],
        "syscalls": grouped + syscalls,
    }


def resources(spec: RunSpec) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if spec.memory is not None:
        # Docker's default without --memory-swap: memory + swap = twice the limit (what runtime.py sets)
        swap = 2 * spec.memory if spec.memory_swap is None else spec.memory_swap
        found["memory"] = {"limit": spec.memory, "swap": swap}
    if spec.cpus is not None:
        found["cpu"] = {"quota": round(spec.cpus * 100_000), "period": 100_000}
    if spec.cpu_shares is not None:
        found.setdefault("cpu", {})["shares"] = spec.cpu_shares
    if spec.pids_limit is not None:
        found["pids"] = {"limit": spec.pids_limit}
    found["devices"] = device_rules(spec.privileged)
    return found


def oci_config(spec: RunSpec, used: Used) -> dict[str, Any]:
    """runc's config.json for the container isodemo built: what `runc run` needs to make the same one."""
    caps = list(used.capabilities)
    namespaces: list[dict[str, str]] = []
    for name, kind in OCI_NAMESPACES.items():  # runc's order
        if name not in used.namespaces:
            continue
        entry = {"type": kind}
        if name == "net" and used.netns_path:
            entry["path"] = used.netns_path
        namespaces.append(entry)
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "rootfsPropagation": root_propagation(spec.volumes),
        "resources": resources(spec),
        "maskedPaths": list(used.masked_paths),
        "readonlyPaths": list(used.readonly_paths),
    }
    if used.cgroups_path:
        linux["cgroupsPath"] = used.cgroups_path
    if used.seccomp is not None:
        linux["seccomp"] = seccomp_section(used.seccomp)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": spec.tty,
            "user": {"uid": used.uid, "gid": used.gid, "additionalGids": list(used.groups)},
            "args": list(used.argv),
            "env": list(used.env),
            "cwd": used.cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": [], "ambient": []},
            "noNewPrivileges": used.no_new_privs,
        },
        "root": {"path": used.root, "readonly": False},
        "hostname": used.hostname,
        "mounts": mounts(used, spec),
        "linux": linux,
    }


def summary_lines(config: dict[str, Any]) -> list[str]:
    """config.json cut to what fits beside the docker run line: every field, long lists as counts."""
    process, linux = config["process"], config["linux"]
    caps = process["capabilities"]["effective"]
    res = linux["resources"]
    memory, pids = res.get("memory", {}), res.get("pids", {})
    kinds = [n["type"] + (" (path)" if "path" in n else "") for n in linux["namespaces"]]
    seccomp = linux.get("seccomp")
    filtered = sum(len(rule["names"]) for rule in seccomp["syscalls"]) if seccomp else 0
    mounts_ = [m["destination"] for m in config["mounts"]]
    return [
        f'"ociVersion": "{config["ociVersion"]}",',
        f'"process": {{"args": {_cut(json.dumps(process["args"]), 60)},',
        f'  "user": {{"uid": {process["user"]["uid"]}, "gid": {process["user"]["gid"]}}}, "cwd": "{process["cwd"]}",',
        f'  "capabilities": {{"bounding"/"effective"/"permitted": {len(caps)} CAP_*, "inheritable": []}},',
        f'  "noNewPrivileges": {str(process["noNewPrivileges"]).lower()}}},',
        f'"root": {{"path": "{config["root"]["path"]}"}}, "hostname": "{config["hostname"]}",',
        f'"mounts": [{len(mounts_)}: {", ".join(mounts_)}],',
        f'"linux": {{"namespaces": [{", ".join(kinds)}],',
        f'  "resources": {{"memory": {{"limit": {memory.get("limit")}, "swap": {memory.get("swap")}}},',
        f'    "pids": {{"limit": {pids.get("limit")}}}, "devices": [{len(res["devices"])} rules]}},',
        f'  "maskedPaths": [{len(linux["maskedPaths"])}], "readonlyPaths": [{len(linux["readonlyPaths"])}],',
        f'  "seccomp": {{"defaultAction": "{seccomp["defaultAction"]}", {filtered} syscalls refused}}}}'
        if seccomp
        else '  "seccomp": none (unconfined)}',
    ]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 4] + ' ..."]'


def key_facts(config: dict[str, Any]) -> dict[str, Any]:
    """The generated config's facts (docs/json.md: oci_config)."""
    linux, process = config["linux"], config["process"]
    res = linux["resources"]
    seccomp = linux.get("seccomp")
    return {
        "namespaces": [n["type"] for n in linux["namespaces"]],
        "memory_limit": res.get("memory", {}).get("limit"),
        "pids_limit": res.get("pids", {}).get("limit"),
        "capabilities": list(process["capabilities"]["effective"]),
        "no_new_privileges": process["noNewPrivileges"],
        "masked_paths": len(linux["maskedPaths"]),
        "readonly_paths": len(linux["readonlyPaths"]),
        "mounts": len(config["mounts"]),
        "seccomp_refused": sorted({n for rule in seccomp["syscalls"] for n in rule["names"]}) if seccomp else None,
    }


def default_capabilities(kept: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(dropped, added) against Docker's 14: what securityContext.capabilities drop/add would say."""
    dropped = [name for name in DEFAULT_CAPABILITIES if name not in kept]
    added = [name for name in kept if name not in DEFAULT_CAPABILITIES]
    return dropped, added


def errno_name(number: int) -> str:
    return errno.errorcode.get(number, str(number))
