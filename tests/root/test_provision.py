"""vagrant/provision.sh runs twice with the same result (it is what `vagrant up` and `vagrant provision` run)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

# vagrant/provision.sh writes files and installs packages: nothing of it depends on the cgroup hierarchy, and
# twice setup.sh under the VM stage's emulation took ~100 s
pytestmark = pytest.mark.host_only


def _state(etc: Path) -> dict[str, str]:
    files = {str(p.relative_to(etc)): hashlib.sha256(p.read_bytes()).hexdigest() for p in etc.rglob("*") if p.is_file()}
    command = Path("/usr/local/bin/isodemo")  # setup.sh's launcher (src/isodemo/launcher.py)
    files[str(command)] = f"{command.read_text()} mtime {command.stat().st_mtime_ns}"
    return files


def _provision(etc: Path) -> str:
    env = {"ISODEMO_ETC": str(etc), "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    run = subprocess.run(
        ["bash", f"{REPO}/vagrant/provision.sh", REPO],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_provisioning_is_idempotent(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    _provision(etc)
    after_first = _state(etc)
    command = Path("/usr/local/bin/isodemo")
    assert not command.is_symlink()
    assert command.read_text().splitlines()[0] == "#!/opt/isodemo/venv/bin/python -S"
    mtimes = {p: p.stat().st_mtime_ns for p in etc.rglob("*") if p.is_file()}
    second = _provision(etc)
    assert _state(etc) == after_first
    assert {p: p.stat().st_mtime_ns for p in etc.rglob("*") if p.is_file()} == mtimes, "the second run rewrote files"
    assert "installing" not in second and "creating" not in second
    assert (etc / "sysctl.d" / "60-isodemo-userns.conf").read_text() == (
        "kernel.apparmor_restrict_unprivileged_userns = 0\n"
    )
    assert "sudo isodemo pid" in (etc / "motd").read_text()
