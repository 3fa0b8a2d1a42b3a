"""The host-invariant check itself: another user's live run is theirs, not this test's leak; a run of this
test's own that is still alive is a leak."""

from __future__ import annotations

from typing import Any

import pytest

from isodemo import runs
from tests.root.holding import Held
from tests.root.invariants import FOREIGN, diff, snapshot
from tests.root.users import TestUser


@pytest.mark.usefixtures("unprivileged_userns")
def test_another_users_live_rootless_run_is_not_a_leak(test_user: TestUser, any_user_env: dict[str, str]) -> None:
    """A rootless run, recorded in /tmp/isodemo-runs-<uid>/, that the test did not start (`setsid -f`: its
    parent is not the test, as from another terminal) is left out of the comparison; the same run started by
    the test is counted."""
    as_user: dict[str, Any] = {
        "user": test_user.uid,
        "group": test_user.gid,
        "extra_groups": [],
        "cwd": "/",
        "env": any_user_env,
    }
    before = snapshot()
    theirs = Held("mnt", "--json", wrapper=["setsid", "-f"], **as_user)
    try:
        record = runs.user_run_dir(test_user.uid) / theirs.info["run"]
        assert record.exists(), "a rootless run records itself in the user's directory"
        during = snapshot()
        assert theirs.info["run"] in during[FOREIGN]  # type: ignore[operator]
        assert diff(before, during) == []
        ours = Held("mnt", "--json", **as_user)
        try:
            changes = diff(before, snapshot())
            assert any(ours.info["run"] in change for change in changes), changes
        finally:
            assert ours.release()[0] == 0
    finally:
        theirs.release()
    assert diff(before, snapshot()) == []
