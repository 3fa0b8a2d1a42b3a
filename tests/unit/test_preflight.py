"""The preflight: what each catalog entry declares it needs, checked against a host, with the fix."""

from __future__ import annotations

import pytest

from isodemo import catalog, host, preflight
from isodemo.errors import ExitCode, MissingFeature
from isodemo.kernel import namespaces


def a_host(mode: str = "v2", controllers: tuple[str, ...] = ("cpu", "io", "memory", "pids")) -> host.Host:
    return host.Host(linux=True, root=True, kernel="6.8.0", python="3.12", cgroup_mode=mode, controllers=[*controllers])


@pytest.fixture
def no_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda *args, **kwargs: None)


def test_a_missing_tool_names_its_package(no_tools: None) -> None:
    with pytest.raises(MissingFeature) as caught:
        preflight.check("net", a_host())
    assert caught.value.exit_code == ExitCode.MISSING_FEATURE
    assert "`nft` is not installed" in caught.value.message and "before creating anything" in caught.value.message
    assert caught.value.hint == "sudo apt install nftables"


def test_every_missing_piece_is_named_once_with_one_apt_line(no_tools: None) -> None:
    with pytest.raises(MissingFeature) as caught:
        preflight.check("bench", a_host(controllers=("cpu",)))
    assert "`busybox`" in caught.value.message and "memory cgroup controller" in caught.value.message
    assert (caught.value.hint or "").startswith("sudo apt install busybox-static; a kernel with CONFIG_MEMCG")


@pytest.mark.parametrize(("mode", "present", "missing_name"), [("v2", ("cpu",), "io"), ("hybrid", ("io",), "blkio")])
def test_controllers_by_their_name_on_v2_and_v1(mode: str, present: tuple[str, ...], missing_name: str) -> None:
    lacking = preflight.missing(catalog.BY_NAME["cgroup-io"], a_host(mode, present))
    assert any(f"the {missing_name} cgroup controller is missing" in item.what for item in lacking)
    assert not preflight.missing(catalog.BY_NAME["cgroup-pids"], a_host(mode, ("pids",)))
    assert not [
        i for i in preflight.missing(catalog.BY_NAME["cgroup-io"], a_host("v1", ("blkio",))) if "blkio" in i.what
    ]


def test_no_cgroup_filesystem() -> None:
    lacking = preflight.missing(catalog.BY_NAME["cgroup-pids"], a_host("none", ()))
    assert "no cgroup filesystem" in lacking[0].what and "mount -t cgroup2" in lacking[0].fix


def test_a_kernel_without_time_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(namespaces, "available_types", lambda: ["mnt", "pid", "uts"])
    monkeypatch.setattr(host, "kernel_version", lambda: (5, 4))
    with pytest.raises(MissingFeature, match=r"time namespaces need Linux 5\.6 .*too old"):
        preflight.check("timens", a_host())


def test_names_outside_the_catalog_and_commands_without_needs_pass(no_tools: None) -> None:
    preflight.check("a-test-body", a_host("none", ()))
    preflight.check("pid", a_host("none", ()))


def test_every_declared_feature_has_a_check_and_a_text() -> None:
    for entry in catalog.ENTRIES:
        for feature in entry.features:
            assert feature in preflight.FEATURE_CHECKS and feature in catalog.FEATURES
        for controller in entry.controllers:
            assert controller in preflight.CONTROLLER_CONFIG


def test_list_shows_the_same_declarations() -> None:
    assert catalog.BY_NAME["net"].needs == "nftables"
    assert catalog.BY_NAME["mnt"].needs == "busybox-static"
    assert catalog.BY_NAME["cgroup-io"].needs == "io controller, loop devices"
    assert catalog.BY_NAME["timens"].needs == "Linux 5.6 (time namespaces)"
