"""isodemo.kube: quantities, QoS, oom_score_adj, cgroup values and names, with the upstream examples
(shared/design/k8s-reference.md section 2)."""

from __future__ import annotations

import pytest

from isodemo.errors import UsageError
from isodemo.kube import cgroup_values as cv
from isodemo.kube import layout, manifest, qos, quantity


@pytest.mark.parametrize(
    ("text", "milli"),
    [
        ("500m", 500),
        ("1", 1000),
        ("0.5", 500),
        (".5", 500),
        ("2.", 2000),
        ("1e3", 1_000_000),
        ("0.0001", 1),
        ("+250m", 250),
        (1, 1000),
        (0.25, 250),
        ("1k", 1_000_000),
        ("0", 0),
    ],
)
def test_cpu_quantities(text: object, milli: int) -> None:
    assert quantity.millicores(text, "cpu") == milli


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64Mi", 64 << 20),
        ("1G", 10**9),
        ("1e3", 1000),
        ("1Gi", 1 << 30),
        ("128974848", 128974848),
        ("129M", 129_000_000),
        ("123Mi", 123 << 20),
        ("500m", 1),
        ("1E", 10**18),
        ("1E2", 100),
    ],
)
def test_memory_quantities(text: str, size: int) -> None:
    assert quantity.bytes_(text, "memory") == size


@pytest.mark.parametrize("text", ["12XB", "", "1e", "1 Mi", "Mi", "1mi", "1K", "--1", "1.2.3", "0x10", True])
def test_bad_quantities_name_the_field(text: object) -> None:
    with pytest.raises(UsageError, match=r"^spec\.containers\[0\]\.resources\.limits\.cpu: .* is not a quantity"):
        quantity.millicores(text, "spec.containers[0].resources.limits.cpu")


def test_negative_quantities_are_refused() -> None:
    with pytest.raises(UsageError, match="memory: -1 is negative"):
        quantity.bytes_("-1", "memory")
    assert quantity.bytes_("-0", "memory") == 0


@pytest.mark.parametrize(("milli", "shares"), [(0, 2), (1, 2), (100, 102), (250, 256), (1000, 1024), (10**6, 262144)])
def test_shares(milli: int, shares: int) -> None:
    assert cv.milli_cpu_to_shares(milli) == shares


@pytest.mark.parametrize(("milli", "quota"), [(0, 0), (5, 1000), (500, 50000), (1500, 150000)])
def test_quota(milli: int, quota: int) -> None:
    assert cv.milli_cpu_to_quota(milli) == quota


@pytest.mark.parametrize(
    ("shares", "old", "new"), [(102, 4, 17), (256, 10, 35), (512, 20, 59), (1024, 39, 100), (2048, 79, 174)]
)
def test_weights_old_and_new(shares: int, old: int, new: int) -> None:
    assert cv.runtime_weight_old(shares) == old
    assert cv.runtime_weight_new(shares) == new
    assert cv.kubelet_cpu_weight(shares) == old  # the kubelet's own cgroups stay linear


def test_weight_edges() -> None:
    assert cv.runtime_weight_new(0) == 0
    assert cv.runtime_weight_new(2) == 1
    assert cv.runtime_weight_new(262144) == 10000
    assert cv.kubelet_cpu_weight(262144) == 10000


def test_oom_score_adj() -> None:
    gi = 1 << 30
    assert qos.oom_score_adj(qos.BURSTABLE, 4 * gi, 16 * gi) == 750
    assert qos.oom_score_adj(qos.BURSTABLE, 1 << 20, 16 * gi) == 999
    assert qos.oom_score_adj(qos.BURSTABLE, 0, 16 * gi) == 999
    assert qos.oom_score_adj(qos.BURSTABLE, int(0.998 * 16 * gi), 16 * gi) == 3
    assert qos.oom_score_adj(qos.GUARANTEED, 0, 16 * gi) == -997
    assert qos.oom_score_adj(qos.BEST_EFFORT, 0, 16 * gi) == 1000


def _pod(*containers: manifest.Container) -> manifest.Pod:
    return manifest.Pod("p", "1234-5678", list(containers))


def test_qos_classes() -> None:
    full = {"cpu": "1", "memory": "1Gi"}
    assert qos.pod_qos(_pod(manifest.container("a")))[0] == qos.BEST_EFFORT
    assert qos.pod_qos(_pod(manifest.container("a", None, full)))[0] == qos.GUARANTEED  # request defaults
    assert qos.pod_qos(_pod(manifest.container("a", full, full), manifest.container("b")))[0] == qos.BURSTABLE
    assert qos.pod_qos(_pod(manifest.container("a", {"cpu": "500m"}, full)))[0] == qos.BURSTABLE
    assert qos.pod_qos(_pod(manifest.container("a", {"cpu": "1"})))[0] == qos.BURSTABLE


def test_pod_values_follow_resource_config_for_pod() -> None:
    full = {"cpu": "500m", "memory": "64Mi"}
    burstable = _pod(manifest.container("a", full, full), manifest.container("b", {"cpu": "250m"}))
    files = {v.v1_file: v.v1_value for v in cv.pod_values(burstable, qos.BURSTABLE)}
    assert files == {"cpu.shares": "768"}  # no quota, no memory: b has no limits
    guaranteed = _pod(manifest.container("a", full, full), manifest.container("b", full, full))
    values = cv.pod_values(guaranteed, qos.GUARANTEED)
    assert {v.v2_file: v.v2_value for v in values if v.v2_file} == {
        "cpu.weight": "39",
        "cpu.max": "100000 100000",
        "memory.max": str(128 << 20),
    }
    assert [v.v1_value for v in cv.pod_values(burstable, qos.BEST_EFFORT)] == ["2"]


def test_container_values() -> None:
    limited = manifest.container("a", {"cpu": "250m"}, {"cpu": "500m", "memory": "64Mi"})
    v2 = {v.v2_file: v.v2_value for v in cv.container_values(limited, "new") if v.v2_file}
    assert v2 == {"cpu.weight": "35", "cpu.max": "50000 100000", "memory.max": str(64 << 20), "memory.oom.group": "1"}
    v1 = {v.v1_file: v.v1_value for v in cv.container_values(limited, "old") if v.v1_file}
    assert v1 == {
        "cpu.shares": "256",
        "cpu.cfs_period_us": "100000",
        "cpu.cfs_quota_us": "50000",
        "memory.limit_in_bytes": str(64 << 20),
    }
    free = {v.v2_file: v.v2_value for v in cv.container_values(manifest.container("b"), "old") if v.v2_file}
    assert free["cpu.max"] == "max 100000" and free["cpu.weight"] == "1"


def test_layout_names() -> None:
    uid = "0f1e-2d3c"
    assert layout.pod_dir(qos.GUARANTEED, uid) == "kubepods/pod0f1e-2d3c"
    assert layout.pod_dir(qos.BURSTABLE, uid) == "kubepods/burstable/pod0f1e-2d3c"
    assert layout.container_dir(qos.BEST_EFFORT, uid, "ab") == "kubepods/besteffort/pod0f1e-2d3c/ab"
    assert layout.systemd_pod_slice(qos.BURSTABLE, uid) == (
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e_2d3c.slice"
    )
    assert layout.systemd_pod_slice(qos.GUARANTEED, uid) == "kubepods.slice/kubepods-pod0f1e_2d3c.slice"
    assert layout.systemd_container_scope(qos.GUARANTEED, uid, "ab").endswith("/cri-containerd-ab.scope")
    assert len(layout.container_id()) == 64
