"""Root tests: real namespaces, real mounts. Every test is checked against the host's invariants.

Without root these tests skip, unless ISODEMO_REQUIRE_ROOT=1 (CI sets it): then they fail, so a CI run
that silently tested nothing cannot pass.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import isodemo_argv
from tests.root.invariants import diff, snapshot
from tests.root.users import TestUser, create_user, remove_user, userns_blocker


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/root/" in str(item.fspath):
            item.add_marker(pytest.mark.root)


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("ISODEMO_REQUIRE_ROOT") == "1":
            pytest.fail("ISODEMO_REQUIRE_ROOT=1 but the root tests are not running as root")
        pytest.skip("needs root: run the suite with sudo")


@pytest.fixture
def isodemo_cleanup_first() -> None:
    """For a test that runs `isodemo cleanup`, which removes what every dead run left, not only this test's:
    host_invariants runs it once before its first snapshot, so that what an earlier test left (that test
    failed for it already) is not counted against this one."""


@pytest.fixture(autouse=True)
def host_invariants(_needs_root: None, request: pytest.FixtureRequest) -> object:
    """Snapshot hostname, mounts, links, routes, nft, cgroups, IPC, isodemo objects; fail on any change."""
    if "isodemo_cleanup_first" in request.fixturenames:
        subprocess.run(isodemo_argv("cleanup"), capture_output=True, timeout=120, check=False)
    before = snapshot()
    yield
    after = snapshot()
    changes = diff(before, after)
    assert not changes, "the test changed the host:\n" + "\n".join(changes)


@pytest.fixture(scope="session")
def test_user() -> Iterator[TestUser]:
    """An unprivileged user made for this test session (useradd) and removed at its end (userdel)."""
    if os.geteuid() != 0:
        pytest.skip("creating a test user needs root")
    user = create_user()
    try:
        yield user
    finally:
        remove_user(user)


@pytest.fixture
def unprivileged_userns() -> None:
    """For tests that need an unprivileged user namespace: skip, naming the policy, where the machine refuses
    one (Ubuntu 24.04's AppArmor default); test_user.py checks the refusal itself there."""
    blocker = userns_blocker()
    if blocker:
        pytest.skip(f"this machine refuses unprivileged user namespaces: {blocker}")


def _store_parent() -> str:
    """Where a test image store can live: overlayfs refuses an upper directory on an overlay (the VM's /tmp
    is one), so there /var/tmp (a tmpfs) is used."""
    with open("/proc/self/mountinfo") as f:
        mounts = {fields[4]: line.split(" - ")[1].split()[0] for line in f for fields in [line.split()]}
    return "/var/tmp" if mounts.get("/tmp") == "overlay" else "/tmp"


@pytest.fixture(scope="session", autouse=True)
def image_store() -> Iterator[str]:
    """Every `isodemo run` of the root tests uses a store of this session (ISODEMO_STORE), never the
    machine's /var/lib/isodemo; removed at the end of the session."""
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="isodemotest-store-", dir=_store_parent())
    os.chmod(root, 0o711)  # as /var/lib/isodemo: root of a --userns container (uid 100000) passes through
    previous = os.environ.get("ISODEMO_STORE")
    os.environ["ISODEMO_STORE"] = root
    try:
        yield root
    finally:
        if previous is None:
            os.environ.pop("ISODEMO_STORE", None)
        else:
            os.environ["ISODEMO_STORE"] = previous
        shutil.rmtree(root, ignore_errors=True)
