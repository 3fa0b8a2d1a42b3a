"""Claims that can fail: each step function that turns an observation into a claim, fed a fake observation,
must report False where the kernel would have shown something else. The narrator is the base class (it
renders nothing and records the claims)."""

from __future__ import annotations

import pytest

from isodemo.cgroups.base import CgroupfsMount
from isodemo.cgroups.v2 import CgroupV2
from isodemo.demos import cgroup_cpu, cgroup_memory, cgroupns, mnt
from isodemo.kernel import procfs
from isodemo.narrate.base import Narrator

CGROUP_MOUNT = "35 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory"
ROOT_MOUNT = "25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"


def _mounts(*lines: str) -> list[procfs.MountInfo]:
    return procfs.parse_mountinfo("\n".join(lines) + "\n")


def _claims(narrator: Narrator) -> list[tuple[str, bool]]:
    return [(claim.text, claim.holds) for step in narrator.report.steps for claim in step.claims]


# -- cgroupns: the host's view ---------------------------------------------------------------------------


def test_cgroupns_host_view_holds_when_the_table_is_the_same() -> None:
    narrator = Narrator()
    before = _mounts(ROOT_MOUNT, CGROUP_MOUNT)
    assert cgroupns.host_view_unchanged(narrator, before, before, "/sys/fs/cgroup/memory")
    assert narrator.report.facts["host_cgroup_mounts_added"] == []


@pytest.mark.parametrize(
    "after",
    [
        # the inside's tmpfs leaked onto the host's /sys/fs/cgroup
        [ROOT_MOUNT, CGROUP_MOUNT, "90 35 0:99 / /sys/fs/cgroup rw - tmpfs isodemo-cgroupfs rw"],
        # a cgroup filesystem was mounted under the host's /sys/fs/cgroup
        [ROOT_MOUNT, CGROUP_MOUNT, "91 35 0:30 / /sys/fs/cgroup/memory/x rw - cgroup cgroup rw,memory"],
        # the host's memory hierarchy is another mount now (unmounted and mounted again)
        [ROOT_MOUNT, CGROUP_MOUNT.replace("35 25", "92 25", 1)],
    ],
)
def test_cgroupns_host_view_fails_when_the_table_changed(after: list[str]) -> None:
    narrator = Narrator()
    held = cgroupns.host_view_unchanged(
        narrator, _mounts(ROOT_MOUNT, CGROUP_MOUNT), _mounts(*after), "/sys/fs/cgroup/memory"
    )
    assert held is False
    assert _claims(narrator)[-1][1] is False


def test_cgroupns_host_view_ignores_other_mounts() -> None:
    """A mount someone else makes elsewhere on the host (another demo, a USB stick) is not ours."""
    narrator = Narrator()
    after = _mounts(ROOT_MOUNT, CGROUP_MOUNT, "93 25 0:50 / /media/usb rw - vfat /dev/sdb1 rw")
    assert cgroupns.host_view_unchanged(narrator, _mounts(ROOT_MOUNT, CGROUP_MOUNT), after, "/sys/fs/cgroup/memory")


# -- mnt: the host's mount table -------------------------------------------------------------------------


def test_mnt_host_mounts_claim_fails_on_a_leaked_tmpfs() -> None:
    directory = "/tmp/isodemo-abc123-rootfs"
    before = ROOT_MOUNT + "\n"
    leaked = before + f"94 25 0:60 / {directory} rw - tmpfs isodemo-rootfs rw\n"
    narrator = Narrator()
    assert mnt.host_mounts_unchanged(narrator, before, before, directory)
    narrator = Narrator()
    assert not mnt.host_mounts_unchanged(narrator, before, leaked, directory)
    assert narrator.report.facts["host_mounts_unchanged"] is False


# -- cgroup-cpu: the text follows WEIGHTS ----------------------------------------------------------------


def test_cpu_weight_claim_says_what_the_weights_say() -> None:
    narrator = Narrator()
    assert cgroup_cpu.shares_as_weighted(narrator, {"a": 0.25, "b": 0.75}, {"a": 100, "b": 300})
    assert "about 25 / 75" in _claims(narrator)[0][0]
    narrator = Narrator()
    assert cgroup_cpu.shares_as_weighted(narrator, {"a": 0.51, "b": 0.49}, {"a": 200, "b": 200})
    assert "about 50 / 50" in _claims(narrator)[0][0] and "measured 51 / 49" in _claims(narrator)[0][0]


def test_cpu_weight_claim_fails_when_the_shares_do_not_follow() -> None:
    narrator = Narrator()
    assert not cgroup_cpu.shares_as_weighted(narrator, {"a": 0.5, "b": 0.5}, {"a": 100, "b": 300})
    assert narrator.report.facts["weight_shares_measured"] == {"a": 0.5, "b": 0.5}


def test_listed() -> None:
    assert cgroup_cpu._listed([100, 300]) == "100 and 300"
    assert cgroup_cpu._listed([1, 2, 3]) == "1, 2 and 3"
    assert cgroup_cpu._listed([7]) == "7"


# -- cgroup-memory: the exit status, as a shell tells it ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (137, "128 + 9: killed by SIGKILL"),
        (143, "128 + 15: killed by SIGTERM"),
        (1, "it exited by itself: no signal killed it"),
        (0, "it exited by itself: no signal killed it"),
        (None, "still running"),
    ],
)
def test_describe_exit(status: int | None, text: str) -> None:
    assert cgroup_memory.describe_exit(status) == text
    assert "+ -" not in cgroup_memory.describe_exit(status)


# -- the backends absorb the v1/v2 differences ---------------------------------------------------------------


def test_cgroupfs_mount_v1_and_v2() -> None:
    v2, v1 = CgroupfsMount("cgroup2"), CgroupfsMount("cgroup", "memory")
    assert v2.target("/sys/fs/cgroup") == "/sys/fs/cgroup"
    assert v2.shell("/sys/fs/cgroup")[-1] == "mount -t cgroup2 cgroup2 /sys/fs/cgroup"
    assert v2.syscall("/sys/fs/cgroup").startswith('mount("cgroup2", "/sys/fs/cgroup", "cgroup2",')
    assert v1.target("/sys/fs/cgroup") == "/sys/fs/cgroup/memory"
    assert v1.shell("/sys/fs/cgroup") == [
        "mount -t tmpfs tmpfs /sys/fs/cgroup",
        "mkdir /sys/fs/cgroup/memory",
        "mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory",
    ]
    assert v1.syscall("/sys/fs/cgroup").endswith('"memory")')


def test_v2_names_its_files_and_lines() -> None:
    cgroup = CgroupV2("isodemo-abc123-box", ["memory", "cpu"], "/sys/fs/cgroup/isodemo")
    assert cgroup.proc_key == "" and cgroup.proc_line == "the 0:: line"
    assert cgroup.hierarchy_root == "/sys/fs/cgroup"
    assert cgroup.cgroupfs_mount() == CgroupfsMount("cgroup2")
    assert cgroup.memory_usage_file == "/sys/fs/cgroup/isodemo/isodemo-abc123-box/memory.current"
    assert cgroup.cpu_usage_file == "/sys/fs/cgroup/isodemo/isodemo-abc123-box/cpu.stat"


def test_v1_names_its_files_and_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from isodemo.cgroups import v1

    mounts = {
        "memory": "/sys/fs/cgroup/memory",
        "cpu": "/sys/fs/cgroup/cpu,cpuacct",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
    }
    monkeypatch.setattr(v1, "hierarchies", lambda: mounts)
    monkeypatch.setattr(v1.procfs, "cgroup", lambda pid="self": {"memory": "/user.slice", "cpu": "/", "cpuacct": "/"})
    memory = v1.CgroupV1("isodemo-abc123-box", ["memory"])
    assert memory.proc_key == "memory" and memory.proc_line == "the memory line"
    assert memory.hierarchy_root == "/sys/fs/cgroup/memory"
    assert memory.cgroupfs_mount() == CgroupfsMount("cgroup", "memory")
    assert memory.memory_usage_file == "/sys/fs/cgroup/memory/user.slice/isodemo-abc123-box/memory.usage_in_bytes"
    cpu = v1.CgroupV1("isodemo-abc123-cpu", ["cpu"])
    assert cpu.paths == ["/sys/fs/cgroup/cpu,cpuacct/isodemo-abc123-cpu"]  # co-mounted: one directory
    assert cpu.cpu_usage_file == "/sys/fs/cgroup/cpu,cpuacct/isodemo-abc123-cpu/cpuacct.usage"
