"""`isodemo run` interrupted at each stage of its start by each signal, and killed with SIGKILL mid-run.

Before the execve a signal ends isodemo (130) after the teardown; from the execve on it is the container's
(forwarded to its PID 1). Either way nothing is left: the host-invariant fixture and the leftovers finders
check it after each case. Test points (isodemo/testpoints.py) make the signal arrive exactly there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import REPO, run_isodemo

BEFORE_EXEC = ("image", "overlay", "cgroup", "namespaces", "network", "rootfs")


# SIGTERM at every stage on both hierarchies (the teardown of what each stage made differs with the cgroup
# version); SIGINT and SIGHUP take the same path through isodemo, so on the host only.
ALSO_ON_THE_HOST = pytest.mark.host_only


@pytest.mark.parametrize("stage", BEFORE_EXEC)
@pytest.mark.parametrize(
    "sig",
    ["SIGTERM", pytest.param("SIGINT", marks=ALSO_ON_THE_HOST), pytest.param("SIGHUP", marks=ALSO_ON_THE_HOST)],
)
def test_a_signal_before_the_container_starts_ends_isodemo_with_130(stage: str, sig: str) -> None:
    result = run_isodemo("run", "--json", "busybox", "echo", "never", env={"ISODEMO_TESTPOINT": f"run.{stage}:{sig}"})
    assert result.code == 130, result.stderr
    assert "never" not in result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["error"]["kind"] == "Interrupted" and sig in report["error"]["message"]
    assert report["leftovers"] == []


@pytest.mark.parametrize(
    ("sig", "status"),
    [
        ("SIGTERM", 143),
        pytest.param("SIGINT", 130, marks=ALSO_ON_THE_HOST),
        pytest.param("SIGHUP", 129, marks=ALSO_ON_THE_HOST),
    ],
)
def test_a_signal_as_the_container_starts_is_the_container_s(sig: str, status: int) -> None:
    """At the execve the signal is forwarded to the container's PID 1: with --init, the reaper passes it on to
    `sleep`, which dies of it (it is not PID 1, so nothing protects it), and its status is 128+N."""
    result = run_isodemo(
        "run", "--init", "--json", "busybox", "sleep", "5", env={"ISODEMO_TESTPOINT": f"run.exec:{sig}"}
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["leftovers"] == []
    assert result.code == report["facts"]["exit_status"] == status, result.stderr


def test_every_stage_of_the_start_is_swept() -> None:
    """The stages build() passes (`lap("...")`, each a test point run.<stage>) are the ones swept above."""
    source = Path(REPO, "src", "isodemo", "container", "runtime.py").read_text()
    stages = re.findall(r"""(?<![.\w])lap\(\s*["']([a-z]+)["']\s*\)""", source)  # build()'s laps
    assert stages and sorted(stages) == sorted(BEFORE_EXEC), stages
    assert 'testpoints.hit("run.exec")' in source
