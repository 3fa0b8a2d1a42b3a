"""tools/runtimes.py: the runtime, container, pod and QoS class that cgroup names give (k8s-reference.md, section 2
"Hierarchy names"), on both kubelet cgroup drivers, for cgroup v1 and v2 /proc/PID/cgroup lines."""

from __future__ import annotations

import pytest

from isodemo.kernel import procfs
from isodemo.tools import runtimes
from isodemo.tools.runtimes import BESTEFFORT, BURSTABLE, GUARANTEED, recognise

ID = "3f8a" * 16  # 64 hex digits, as docker, containerd and podman make ids
POD_ID = "9c1e" * 16
UID = "8d4c1a2b-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
UID_ = UID.replace("-", "_")


@pytest.mark.parametrize(
    ("path", "runtime", "driver", "pattern"),
    [
        (f"/system.slice/docker-{ID}.scope", "docker", "systemd", "docker-<id>.scope"),
        (f"/docker/{ID}", "docker", "cgroupfs", "docker/<id>"),
        (f"/system.slice/cri-containerd-{ID}.scope", "containerd", "systemd", "cri-containerd-<id>.scope"),
        (f"/machine.slice/libpod-{ID}.scope", "podman", "systemd", "libpod-<id>.scope"),
        (f"/machine.slice/libpod-{ID}.scope/container", "podman", "systemd", "libpod-<id>.scope"),  # crun's sub-cgroup
        (f"/libpod_parent/libpod-{ID}", "podman", "cgroupfs", "libpod-<id>"),
        (
            f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope",
            "podman",
            "systemd",
            "libpod-<id>.scope",
        ),
        (f"/machine.slice/crio-{ID}.scope", "cri-o", "systemd", "crio-<id>.scope"),
    ],
)
def test_a_container_outside_a_pod(path: str, runtime: str, driver: str, pattern: str) -> None:
    found = recognise(path)
    assert found is not None
    assert (found.runtime, found.role, found.container_id, found.driver, found.pattern) == (
        runtime,
        "container",
        ID,
        driver,
        pattern,
    )
    assert (found.pod_uid, found.qos_class, found.kubelet, found.pod_path) == (None, None, False, None)


@pytest.mark.parametrize(
    ("pod_dir", "qos"),
    [
        (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice", BURSTABLE),
        (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice", BESTEFFORT),
        (f"/kubepods.slice/kubepods-pod{UID_}.slice", GUARANTEED),
    ],
)
def test_kubelet_systemd_driver_with_containerd(pod_dir: str, qos: str) -> None:
    found = recognise(f"{pod_dir}/cri-containerd-{ID}.scope")
    assert found is not None
    assert (found.runtime, found.container_id, found.pod_uid, found.qos_class) == ("containerd", ID, UID, qos)
    assert (found.kubelet, found.driver, found.pod_path) == (True, "systemd", pod_dir)


@pytest.mark.parametrize(
    ("pod_dir", "qos"),
    [
        (f"/kubepods/burstable/pod{UID}", BURSTABLE),
        (f"/kubepods/besteffort/pod{UID}", BESTEFFORT),
        (f"/kubepods/pod{UID}", GUARANTEED),
    ],
)
def test_kubelet_cgroupfs_driver_does_not_name_the_runtime(pod_dir: str, qos: str) -> None:
    found = recognise(f"{pod_dir}/{ID}")
    assert found is not None
    assert (found.runtime, found.role, found.container_id, found.pod_uid, found.qos_class) == (
        None,
        "container",
        ID,
        UID,
        qos,
    )
    assert (found.kubelet, found.driver, found.pattern, found.pod_path) == (True, "cgroupfs", "pod<uid>/<id>", pod_dir)


def test_kubelet_cgroupfs_with_cri_o_names_it() -> None:
    found = recognise(f"/kubepods/burstable/pod{UID}/crio-{ID}")
    assert found is not None
    assert (found.runtime, found.container_id, found.pod_uid) == ("cri-o", ID, UID)


def test_a_static_pod_uid_without_dashes() -> None:
    static = "6d2b0c1e9f8a7b6c5d4e3f2a1b0c9d8e"
    found = recognise(f"/kubepods/burstable/pod{static}/{ID}")
    assert found is not None and found.pod_uid == static


def test_the_pod_cgroup_itself() -> None:
    found = recognise(f"/kubepods/besteffort/pod{UID}")
    assert found is not None
    assert (found.role, found.container_id, found.pod_uid, found.qos_class) == ("pod", None, UID, BESTEFFORT)


def test_kind_a_kubelet_inside_a_docker_container_gives_the_inner_container() -> None:
    found = recognise(f"/docker/{POD_ID}/kubepods/burstable/pod{UID}/{ID}")
    assert found is not None
    assert (found.container_id, found.pod_uid, found.kubelet) == (ID, UID, True)


def test_podman_pod_cgroupfs_default_parent() -> None:
    pod_dir = f"/libpod_parent/{POD_ID}"
    found = recognise(f"{pod_dir}/libpod-{ID}")
    assert found is not None
    assert (found.runtime, found.container_id, found.pod_uid, found.pod_path) == ("podman", ID, POD_ID, pod_dir)
    assert (found.kubelet, found.qos_class) == (False, None)


def test_podman_pod_under_another_cgroup_parent() -> None:
    """--cgroup-parent moves the pod anywhere: the tests put it under their own cgroup."""
    pod_dir = f"/process_api/0a1b/isodemotest-podman/libpod_parent/{POD_ID}"
    found = recognise(f"{pod_dir}/libpod-{ID}")
    assert found is not None and (found.pod_uid, found.pod_path) == (POD_ID, pod_dir)


def test_podman_pod_systemd_driver() -> None:
    pod_dir = f"/machine.slice/machine-libpod_pod_{POD_ID}.slice"
    found = recognise(f"{pod_dir}/libpod-{ID}.scope")
    assert found is not None
    assert (found.runtime, found.container_id, found.pod_uid, found.pod_path, found.driver) == (
        "podman",
        ID,
        POD_ID,
        pod_dir,
        "systemd",
    )


@pytest.mark.parametrize(
    ("path", "container_id", "pod_uid"),
    [
        ("/libpod_parent/conmon", None, None),
        (f"/libpod_parent/{POD_ID}/conmon", None, POD_ID),
        (f"/machine.slice/libpod-conmon-{ID}.scope", ID, None),
        (f"/machine.slice/machine-libpod_pod_{POD_ID}.slice/libpod-conmon-{ID}.scope", ID, POD_ID),
    ],
)
def test_conmon_its_own_cgroup(path: str, container_id: str | None, pod_uid: str | None) -> None:
    found = recognise(path)
    assert found is not None
    assert (found.runtime, found.role, found.container_id, found.pod_uid) == ("podman", "conmon", container_id, pod_uid)


def test_cri_o_conmon() -> None:
    found = recognise(f"/kubepods.slice/kubepods-pod{UID_}.slice/crio-conmon-{ID}.scope")
    assert found is not None and (found.runtime, found.role, found.pod_uid) == ("cri-o", "conmon", UID)


def test_isodemo_run_container_v1_and_v2() -> None:
    for path in ("/process_api/0a1b/isodemo-1a2b3c-ctr", "/isodemo/isodemo-1a2b3c-ctr"):
        found = recognise(path)
        assert found is not None
        assert (found.runtime, found.container_id, found.isodemo_run, found.pod_uid) == (
            "isodemo",
            "isodemo-1a2b3c-ctr",
            "1a2b3c",
            None,
        )


def test_isodemo_pod_laid_out_like_the_kubelet_cgroupfs_driver() -> None:
    pod_dir = f"/isodemo/isodemo-1a2b3c-kubepods/burstable/pod{UID}"
    found = recognise(f"{pod_dir}/api")
    assert found is not None
    assert (found.runtime, found.container_id, found.pod_uid, found.qos_class, found.isodemo_run) == (
        "isodemo",
        "api",
        UID,
        BURSTABLE,
        "1a2b3c",
    )
    assert found.pod_path == pod_dir and found.kubelet


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/user.slice/user-1000.slice/session-3.scope",
        "/system.slice/docker.service",
        "/system.slice/containerd.service",
        "/init.scope",
        "/docker",
        "/docker/notanid",
        f"/docker/{ID[:-1]}",  # 63 digits
        f"/docker-{ID}.scope.bak",
        f"/system.slice/docker-{ID.upper()}.scope",
        f"/libpod-{ID}x",
        "/kubepods",
        "/kubepods/burstable",
        f"/burstable/pod{UID}/{ID}",  # no kubepods above
        f"/kubepods/guaranteed/pod{UID}/{ID}",  # Guaranteed has no QoS directory
        "/kubepods/burstable/podnot-a-uid/x",
        "/conmon",
        "/isodemo",
        "/isodemo-facade",
        "/isodemo-ZZZZZZ-x",
        "::::",
        "/a//b/../c",
        "\x00\n",
    ],
)
def test_junk_names_no_container(path: str) -> None:
    assert recognise(path) is None


def test_recognise_process_prefers_the_unified_line_then_memory() -> None:
    cgroups = procfs.parse_cgroup(
        f"9:name=systemd:/\n4:memory:/docker/{ID}\n1:cpu,cpuacct:/\n0::/system.slice/cri-containerd-{ID}.scope\n"
    )
    found = runtimes.recognise_process(cgroups)
    assert found is not None and found[0] == "" and found[1].runtime == "containerd"
    del cgroups[""]
    found = runtimes.recognise_process(cgroups)
    assert found is not None and found[0] == "memory" and found[1].runtime == "docker"


def test_recognise_process_of_a_plain_host_process() -> None:
    cgroups = procfs.parse_cgroup("12:pids:/user.slice\n1:name=systemd:/user.slice/session-1.scope\n0::/init.scope\n")
    assert runtimes.recognise_process(cgroups) is None


def test_in_pod() -> None:
    assert runtimes.in_pod("/a/pod1", "/a/pod1")
    assert runtimes.in_pod("/a/pod1/x", "/a/pod1")
    assert not runtimes.in_pod("/a/pod10/x", "/a/pod1")
    assert not runtimes.in_pod("/a", "/a/pod1")


def test_pod_paths_per_hierarchy() -> None:
    """conmon sits in the pod's v1 cgroups only: every hierarchy that names the pod counts."""
    cgroups = procfs.parse_cgroup(
        f"4:memory:/a/libpod_parent/{POD_ID}/libpod-{ID}\n1:cpu:/\n0::/b/libpod_parent/{POD_ID}/libpod-{ID}\n"
    )
    assert runtimes.pod_paths(cgroups) == {"memory": f"/a/libpod_parent/{POD_ID}", "": f"/b/libpod_parent/{POD_ID}"}


@pytest.mark.parametrize(
    ("name", "container_id"),
    [("isodemo-1a2b3c-ctr-a-shim", "isodemo-1a2b3c-ctr-a"), ("isodemo-1a2b3c-shim", "isodemo-1a2b3c-ctr")],
)
def test_isodemo_shim_belongs_to_its_container(name: str, container_id: str) -> None:
    found = recognise(f"/isodemo/{name}")
    assert found is not None and (found.role, found.container_id) == ("shim", container_id)
