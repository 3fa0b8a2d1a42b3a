"""`isodemo run` against runc: the same probe in both containers, compared section by section, line by line.

runc (apt's 1.1.5) gets the bundle Docker would give it for `docker run busybox` and `docker run --privileged
busybox` (tests/runcref.py says where each value comes from); isodemo runs `isodemo run [--privileged]
--hostname H busybox sh -c PROBE`. The probe (runcref.PROBE) prints what a process inside sees: its
capability sets, no_new_privs and seccomp mode, every mount, /dev, hostname and the /etc files, id, env,
and what happens when it writes to /proc/sys and /proc/sysrq-trigger, calls unshare(CLONE_NEWUSER) and
mount(2).

Where the two must differ, an Allowance below says what and why; it is applied to both sides and named in
the failure message. Nothing is skipped silently: a section missing from either side is a failure.
"""

from __future__ import annotations

import difflib
import json
import os
import posixpath
import re
import shlex
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import runcref
from tests.conftest import Result, run_isodemo

HOSTNAME = "isodemo-probe"
SECTION_ORDER = re.findall(r'^echo "== ([\w-]+)"', runcref.PROBE, re.MULTILINE)


def _missing(reason: str) -> None:
    """Skip where a tool is missing on a developer's machine; in CI (ISODEMO_REQUIRE_ROOT=1) fail instead."""
    if os.environ.get("ISODEMO_REQUIRE_ROOT") == "1":
        pytest.fail(f"{reason}; ISODEMO_REQUIRE_ROOT=1, so the runc comparison must run (setup.sh --dev installs it)")
    pytest.skip(reason)


@pytest.fixture
def runc() -> str:
    path = runcref.runc_path()
    if path is None:
        _missing("runc is not installed: sudo apt install runc")
    if runcref.busybox_path() is None:
        _missing("busybox is not installed: sudo apt install busybox-static")
    assert path is not None
    return path


def run_reference(*, privileged: bool) -> runcref.Result:
    with runcref.Reference(["sh", "-c", runcref.PROBE], privileged=privileged, hostname=HOSTNAME) as ref:
        result = ref.run()
    assert result.code == runcref.PROBE_EXIT, f"runc: exit {result.code}\n{result.stderr}"
    return result


def run_isodemo_probe(*options: str) -> Result:
    return run_isodemo("run", *options, "--hostname", HOSTNAME, "busybox", "sh", "-c", runcref.PROBE)


# -- allowances: where runc's container and isodemo's must differ ---------------------------------------------


@dataclass(frozen=True)
class Allowance:
    name: str
    section: str
    why: str
    apply: Callable[[list[str]], list[str]]  # applied to both sides of the section


NETWORK_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def _network_file_binds(lines: list[str]) -> list[str]:
    """Each /etc file bind reduced to its mount point and whether it is writable."""
    out = []
    for line in lines:
        fields = line.split()
        bound = fields[0] in NETWORK_FILES
        out.append(f"{fields[0]} (a host file bound over it) {fields[2].split(',')[0]}" if bound else line)
    return out


def _without_volatile(options: str) -> str:
    return ",".join(o for o in options.split(",") if o not in ("volatile", "fsync=volatile"))


ALLOWANCES: list[Allowance] = [
    Allowance(
        "network-files-live-on-the-host",
        "mountinfo",
        "/etc/hostname, /etc/hosts and /etc/resolv.conf are host files bound over the image's (Docker keeps them "
        "in /var/lib/docker/containers/ID/, runc's reference in its temp dir under /tmp, isodemo in its image "
        "store). The filesystem they come from (its type, superblock options, and the nosuid/nodev a bind "
        "inherits from that mount) is where each runtime keeps its files, not what it does for the container: "
        "in the cgroup v2 VM /tmp is an overlay and the test store a tmpfs. Compared: that a file is bound over "
        "each, and whether it is writable.",
        _network_file_binds,
    ),
    Allowance(
        "overlay-volatile",
        "mountinfo",
        "isodemo mounts its overlay with `volatile` (shown as fsync=volatile), as podman mounts a transient "
        "container's: the upper dir is removed with the run, so it is never synced (container/overlay.py). "
        "containerd mounts Docker's without it. Compared: the rest of the overlay's options.",
        lambda lines: [" ".join(_without_volatile(field) for field in line.split(" ")) for line in lines],
    ),
]


def apply_allowances(section: str, lines: list[str]) -> tuple[list[str], list[str]]:
    """The section after every allowance that applies to it, and the names of those that changed it."""
    used = []
    for allowance in ALLOWANCES:
        if allowance.section == section:
            changed = allowance.apply(lines)
            if changed != lines:
                used.append(allowance.name)
            lines = changed
    return lines, used


def compare(reference: str, isodemo: str) -> list[str]:
    """Every difference between the two probe outputs, as unified diffs per section (runc is `-`)."""
    left_sections, right_sections = runcref.sections(reference), runcref.sections(isodemo)
    problems = []
    for name in SECTION_ORDER:
        if name not in left_sections or name not in right_sections:
            problems.append(f"section {name!r}: missing from {'runc' if name not in left_sections else 'isodemo'}")
            continue
        left, right = left_sections[name], right_sections[name]
        if name == "mountinfo":
            left, right = runcref.normalize_mountinfo(left), runcref.normalize_mountinfo(right)
        left, used_left = apply_allowances(name, left)
        right, used_right = apply_allowances(name, right)
        if left != right:
            diff = difflib.unified_diff(left, right, "runc", "isodemo", lineterm="", n=2)
            used = sorted(set(used_left + used_right))
            note = f" (allowances applied: {', '.join(used)})" if used else ""
            problems.append(f"section {name!r} differs{note}:\n" + "\n".join(diff))
    return problems


def test_mountinfo_normalized() -> None:
    lines = [
        "66 45 0:39 / / rw,relatime - overlay overlay rw,lowerdir=/a/diff,upperdir=/b/upper,workdir=/b/work,uuid=on",
        "86 69 254:0 /tmp/x/etc/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw,discard",
        "52 70 0:43 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755",
        "47 70 0:42 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw",
    ]
    assert runcref.normalize_mountinfo(lines) == [
        "/ overlay rw,relatime rw,uuid=on root=/",
        "/etc/hosts ext4 rw,relatime rw,discard root=hosts",
        "/proc/bus proc ro,nosuid,nodev,noexec,relatime rw root=/bus",
        "/proc/keys tmpfs rw,nosuid rw,size=65536k,mode=755 root=/null",
    ]
    assert _network_file_binds(["/etc/hosts ext4 rw,relatime rw,discard root=hosts"]) == [
        "/etc/hosts (a host file bound over it) rw"
    ]


def test_allowances_are_explained() -> None:
    assert SECTION_ORDER[:3] == ["pid", "status", "mountinfo"] and SECTION_ORDER[-1] == "end"
    for allowance in ALLOWANCES:
        assert allowance.section in SECTION_ORDER, allowance.name
        assert len(allowance.why) > 40, allowance.name


# -- the reference itself: is it what Docker would run? ------------------------------------------------------


def _mask(names: list[str] | tuple[str, ...]) -> str:
    return f"{sum(1 << runcref.CAP_NAMES.index(name) for name in names):016x}"


def _status(result: runcref.Result) -> dict[str, str]:
    lines = runcref.sections(result.stdout)["status"]
    return {key: value.strip() for key, value in (line.split(":", 1) for line in lines)}


def test_reference_is_dockers_default(runc: str) -> None:
    result = run_reference(privileged=False)
    status = _status(result)
    docker = _mask(runcref.DOCKER_CAPS)
    assert docker == "00000000a80425fb"  # the CapEff every `docker run` shows
    assert (status["CapBnd"], status["CapPrm"], status["CapEff"]) == (docker, docker, docker)
    assert status["CapInh"] == status["CapAmb"] == "0" * 16
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("0", "2")
    out = runcref.sections(result.stdout)
    assert out["pid"] == ["1"]
    assert out["hostname"] == [HOSTNAME, HOSTNAME]
    assert out["id"] == ["uid=0(root) gid=0(root) groups=0(root)"]  # the primary gid is supplementary too
    assert out["proc-sys"] == ["sh: can't create /proc/sys/kernel/domainname: Read-only file system", "rc=1"]
    assert out["unshare"][-1] == "rc=1" and "Operation not permitted" in out["unshare"][0]
    assert out["mount"][-1] == "rc=1"
    mounts = {line.split()[0]: line for line in runcref.normalize_mountinfo(out["mountinfo"])}
    assert mounts["/sys"].split()[2].startswith("ro,")
    assert mounts["/proc/sys"].split()[2].startswith("ro,")
    for path in runcref.masked_paths():
        if os.path.exists(path):
            assert path in mounts, f"{path} is not masked"
    devices = {line.split()[0] for line in out["dev"]}
    assert {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"} <= devices


def test_reference_privileged(runc: str) -> None:
    result = run_reference(privileged=True)
    status = _status(result)
    every = _mask(runcref.all_caps())
    assert (status["CapBnd"], status["CapPrm"], status["CapEff"]) == (every, every, every)
    assert status["CapInh"] == "0" * 16
    assert status["Seccomp"] == "0"
    out = runcref.sections(result.stdout)
    assert out["unshare"] == ["rc=0"]
    assert out["mount"] == ["rc=0"]
    mounts = runcref.normalize_mountinfo(out["mountinfo"])
    assert not any(line.startswith(("/proc/sys ", "/proc/kcore ", "/proc/keys ")) for line in mounts)
    assert "/dev/kmsg" in {line.split()[0] for line in out["dev"]} or not os.path.exists("/dev/kmsg")


def test_reference_leaves_nothing(runc: str) -> None:
    """runc's state, bundle, overlay and cgroup are gone after a run (the host_invariants fixture checks the
    mounts and cgroups; this checks the temp dir and runc's state directory)."""
    with runcref.Reference(["true"]) as ref:
        tmp = ref.tmp
        assert ref.run().code == 0
        assert os.listdir(ref.state) == []
    assert not os.path.exists(tmp)


# -- isodemo against the reference ---------------------------------------------------------------------------


@pytest.mark.parametrize("privileged", [False, True], ids=["default", "privileged"])
def test_isodemo_matches_runc(runc: str, privileged: bool) -> None:
    reference = run_reference(privileged=privileged)
    mine = run_isodemo_probe(*(["--privileged"] if privileged else []))
    assert mine.code == runcref.PROBE_EXIT, f"isodemo run: exit {mine.code}\n{mine.stderr}"
    problems = compare(reference.stdout, mine.stdout)
    assert not problems, "isodemo's container and runc's differ:\n\n" + "\n\n".join(problems)


# -- a real image: two layers and whiteouts ------------------------------------------------------------------


def _member_path(name: str) -> str:
    """A tar member's name as an absolute path: "./bin/sh", "bin/sh" and "/bin/sh" are all "/bin/sh"."""
    name = name.removeprefix("./") if name != "." else ""
    return posixpath.normpath("/" + name.lstrip("/"))


def docker_save_layers(tarball: str) -> list[list[tarfile.TarInfo]]:
    """The members of each layer of a `docker save` tarball, lowest layer first (manifest.json's order)."""
    layers = []
    with tarfile.open(tarball) as outer:
        manifest_file = outer.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.load(manifest_file)
        for name in manifest[0]["Layers"]:
            blob = outer.extractfile(name)
            assert blob is not None, name
            with tarfile.open(fileobj=blob, mode="r:*") as layer:
                layers.append(layer.getmembers())
    return layers


def whiteouts_of(members: list[tarfile.TarInfo]) -> tuple[list[str], dict[str, list[str]]]:
    """A layer's whiteouts: the paths it deletes (`.wh.NAME`), and each opaque directory (`.wh..wh..opq`)
    with what the layer itself puts in it (absolute paths)."""
    deleted, opaque = [], {}
    names = [_member_path(m.name) for m in members]
    for path in names:
        directory, base = posixpath.split(path)
        if base == ".wh..wh..opq":
            opaque[directory] = sorted(
                {
                    posixpath.relpath(other, directory).split("/")[0]
                    for other in names
                    if other.startswith(directory.rstrip("/") + "/")
                    and not posixpath.basename(other).startswith(".wh.")
                    and other != directory
                }
            )
        elif base.startswith(".wh."):
            deleted.append(posixpath.join(directory, base[len(".wh.") :]))
    return deleted, opaque


@pytest.mark.host_only  # overlayfs and whiteouts do not depend on the cgroup version
def test_real_image_whiteouts(tmp_path: Path) -> None:
    # tests/imagetar.py's busybox_two_layers writes a `docker save` tarball of busybox-static in two layers, the
    # upper one with a whiteout and an opaque directory. Which paths those are is read from the tarball here,
    # so that this test checks overlayfs's view against the layers whatever the builder puts in them.
    from tests.imagetar import busybox_two_layers

    tarball = os.fspath(busybox_two_layers(tmp_path / "image.tar"))
    layers = docker_save_layers(tarball)
    assert len(layers) == 2, f"expected a two-layer image, got {len(layers)} layers"
    deleted, opaque = whiteouts_of(layers[1])
    assert deleted and opaque, "the upper layer should hold a whiteout and an opaque directory"
    lower_names = {_member_path(m.name) for m in layers[0]}
    assert all(path in lower_names for path in deleted), "each whiteout should hide a path of the lower layer"
    hidden_by_opaque = {
        directory: sorted(
            {
                posixpath.relpath(name, directory).split("/")[0]
                for name in lower_names
                if name.startswith(directory + "/")
            }
            - set(kept)
        )
        for directory, kept in opaque.items()
    }
    assert any(hidden_by_opaque.values()), "an opaque directory should hide something of the lower layer"

    script = ["echo '== deleted'"]
    script += [f'if [ -e {shlex.quote(p)} ] || [ -L {shlex.quote(p)} ]; then echo "present {p}"; fi' for p in deleted]
    for directory in opaque:
        script += [f"echo '== {directory}'", f"ls -A1 {shlex.quote(directory)}"]
    script.append("echo '== end'")
    result = run_isodemo("run", tarball, "sh", "-c", "\n".join(script), timeout=180)  # the session's store
    assert result.code == 0, f"exit {result.code}\n{result.stderr}"
    seen = runcref.sections(result.stdout)
    assert seen["deleted"] == [], f"whited-out paths still visible: {seen['deleted']}"
    for directory, kept in opaque.items():
        assert sorted(seen[directory]) == kept, (
            f"{directory} is opaque in the upper layer: it should show only {kept}, shows {seen[directory]}"
        )
