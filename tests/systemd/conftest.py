"""Tests run as an ordinary user logged into a real systemd session, on cgroup v2: tests/vm/run-in-systemd-vm.

There, systemd is PID 1, the user was logged in through PAM (pam_systemd: a session scope, user@UID.service,
XDG_RUNTIME_DIR), as `vagrant ssh` does on the learners' VM. Anywhere else these tests skip, unless
ISODEMO_REQUIRE_SYSTEMD_SESSION=1: then they fail, so that a run which tested nothing cannot pass.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.systemd.session import Session, user_slice_cgroups


def _why_not_here() -> str | None:
    if os.environ.get("ISODEMO_IN_SYSTEMD_VM") != "1":
        return "runs only in tests/vm/run-in-systemd-vm (ISODEMO_IN_SYSTEMD_VM=1)"
    if os.geteuid() == 0:
        return "runs as the ordinary user of the session, not as root"
    return None


@pytest.fixture(scope="session")
def session() -> Session:
    why = _why_not_here()
    if why:
        if os.environ.get("ISODEMO_REQUIRE_SYSTEMD_SESSION") == "1":
            pytest.fail(f"ISODEMO_REQUIRE_SYSTEMD_SESSION=1, but this test {why}")
        pytest.skip(why)
    found = Session.probe()
    # The user's D-Bus is socket-activated: the first `systemd-run --user` starts it in app.slice, where it
    # stays. Start it here, the way isodemo's own systemd-run would, so that it is not counted as a leftover.
    subprocess.run(["systemd-run", "--user", "--scope", "--quiet", "true"], check=True, timeout=60)
    return found


@pytest.fixture(autouse=True)
def nothing_left_in_the_user_slice(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test leaves the user's slice as it found it: no cgroup added (a scope, isodemo's own), none lost.
    systemd removes an empty transient scope asynchronously: allow it a few seconds."""
    session: Session = request.getfixturevalue("session")
    before = user_slice_cgroups(session.uid)
    yield
    deadline = time.monotonic() + 15
    while (after := user_slice_cgroups(session.uid)) != before and time.monotonic() < deadline:
        time.sleep(0.5)
    left, gone = sorted(after - before), sorted(before - after)
    assert after == before, f"left in user-{session.uid}.slice: {left}; gone from it: {gone}"
