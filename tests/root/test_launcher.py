"""Containers and demos through the `isodemo` command as setup.sh installs it (src/isodemo/launcher.py):
`isodemo run` starts and ends without site; what needs the venv's packages (netlink for --network bridge,
click, rich) gets them, in the isodemo process and in the helper forked before the network is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import launcher as installed

SITE = ("site", "sitecustomize", "_distutils_hack")  # what Python with site imports at its start


@pytest.mark.host_only
def test_a_run_starts_and_ends_without_site(tmp_path: Path) -> None:
    proc, imported = installed.run(installed.write(tmp_path), "run", "busybox", "/bin/echo", "hello")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "hello\n"
    assert "isodemo.container.main" in imported  # run's own path, through the launcher's tree
    assert [name for name in imported if name in SITE or name.split(".")[0] in ("click", "rich", "pyroute2")] == []


@pytest.mark.host_only
def test_a_bridged_run_gets_netlink_from_the_venv(tmp_path: Path) -> None:
    """pyroute2 in the isodemo process (the bridge, the veth) and in the helper (eth0 inside): the helper is
    forked before the network is made, so site must have run before it."""
    command = installed.write(tmp_path)
    proc, imported = installed.run(command, "run", "--network", "bridge", "busybox", "/bin/ip", "-4", "addr")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "eth0" in proc.stdout
    assert imported.index("site") < imported.index("pyroute2")


@pytest.mark.parametrize("args", [["doctor"], ["--color", "uts"], ["--json", "uts"]])
def test_commands_that_need_click_or_rich_run(tmp_path: Path, args: list[str]) -> None:
    proc, imported = installed.run(installed.write(tmp_path), *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert imported.index("site") < imported.index("click")
    if "--color" in args:
        assert "rich" in imported
