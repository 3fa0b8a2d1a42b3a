"""The child-side functions of isodemo.inside, called on the host (no root, no namespace): the host's view.

Inside a namespace they run through Isolated.call; the root tests of each demo cover that side.
"""

from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from isodemo import channel
from isodemo.inside import filesystem, identity, ipc, processes, workloads
from isodemo.kernel import namespaces


def test_ps_lists_this_process() -> None:
    assert f"{os.getpid():>6} {Path('/proc/self/comm').read_text().strip()}" in processes.ps()


def test_members_of_my_pid_namespace_include_me() -> None:
    assert os.getpid() in processes.members_of_pid_namespace(namespaces.ns_inode("self", "pid"))
    assert processes.members_of_pid_namespace(1) == []  # no namespace has inode 1


def test_cgroup_procs_reads_one_pid_a_line(tmp_path: Path) -> None:
    (tmp_path / "cgroup.procs").write_text("12\n345\n")
    assert processes.cgroup_procs(str(tmp_path)) == [12, 345]
    assert processes.cgroup_procs(str(tmp_path / "gone")) == []


def test_spawn_program_returns_once_exec_happened() -> None:
    pid = processes.spawn_program([sys.executable, "-c", "pass"])
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    missing = processes.spawn_program(["/nonexistent-isodemo-program"])
    _, status = os.waitpid(missing, 0)
    assert os.waitstatus_to_exitcode(status) == 127  # execve failed: the child said so by its exit code


def test_the_orphan_goes_to_the_nearest_reaper() -> None:
    """A subreaper (PR_SET_CHILD_SUBREAPER) adopts orphans as PID 1 of a pid namespace does, without root."""
    probe = (
        "import ctypes\nctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)\n"  # PR_SET_CHILD_SUBREAPER
        "from isodemo.inside import processes\nprint(processes.orphan_reaping())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    result = ast.literal_eval(out.stdout.strip())
    assert result["reaped_by_me"] is True
    assert result["orphan_new_parent"] == result["reaper_pid"] and result["reaped_pid"] == result["orphan_pid"]


def test_filesystem_views() -> None:
    assert "/" in filesystem.mount_points()
    assert filesystem.root_propagation() in ("shared", "slave", "private", "unbindable")
    assert isinstance(filesystem.proc_mount_id(), int)


def test_listdir_and_subdirectories_are_sorted(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
    filesystem.write_file(str(tmp_path / "c"), "text\n")
    os.symlink("a", tmp_path / "link")
    assert filesystem.listdir(str(tmp_path)) == ["a", "b", "c", "link"]
    assert filesystem.subdirectories(str(tmp_path)) == ["a", "b"]  # a symlink to a directory is not one


def test_identity_answers_with_errno_names(tmp_path: Path) -> None:
    assert identity.try_open(str(tmp_path / "missing")) == "ENOENT"
    assert identity.try_open(str(tmp_path)) == "ok"
    assert identity.try_signal(os.getpid()) == "ok"
    assert identity.create_file(str(tmp_path / "new")) == os.getuid()
    assert identity.file_owner(str(tmp_path / "new"))["uid"] == os.getuid()
    creds = identity.credentials()
    assert creds["uid"] == os.getuid() and len(creds["capeff"]) == 16


def test_msg_queue_keys_are_hex_strings() -> None:
    assert all(key.startswith("0x") for key in ipc.msg_queue_keys())


def test_allocate_counts_what_it_holds() -> None:
    before = workloads.allocate(4096)
    assert workloads.allocate(4096) == before + 4096


@pytest.mark.parametrize(
    "fn", [processes.ps, filesystem.pivot_into, identity.credentials, ipc.msg_queue_keys, workloads.stop]
)
def test_they_cross_the_channel_by_name(fn: object) -> None:
    """Isolated.call sends the function as its module and name (channel.encode), as pickle would."""
    assert channel.encode(fn, []) == ("r", fn.__module__, fn.__qualname__)  # type: ignore[attr-defined]
    assert channel.Decoder([]).decode(channel.encode(fn, [])) is fn
    assert pickle.loads(pickle.dumps(fn)) is fn
