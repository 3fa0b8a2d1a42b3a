"""Parsers of /proc files: pure functions, fed with text captured from real kernels."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from isodemo.kernel import procfs, sysvipc

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime shared:13 - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
30 27 0:25 / /tmp/with\\040space rw master:4 - tmpfs tmpfs rw
31 27 0:26 / /priv rw - tmpfs none rw
"""


def test_mountinfo_fields_and_propagation() -> None:
    mounts = procfs.parse_mountinfo(MOUNTINFO)
    assert [m.mount_point for m in mounts] == ["/proc", "/", "/tmp/with space", "/priv"]
    assert [m.propagation for m in mounts] == ["shared", "shared", "slave", "private"]
    root = mounts[1]
    assert (root.mount_id, root.parent_id, root.fstype, root.source) == (27, 1, "ext4", "/dev/vda")


@given(st.text(alphabet="ab \t\\/", min_size=1, max_size=20))
def test_mountinfo_unescapes_what_the_kernel_escapes(path: str) -> None:
    escaped = path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
    line = f"40 27 0:30 / /{escaped} rw - tmpfs tmpfs rw\n"
    assert procfs.parse_mountinfo(line)[0].mount_point == "/" + path


def test_status_and_nspid() -> None:
    status = procfs.parse_status("Name:\tsleep\nPPid:\t1\nNSpid:\t4242\t7\t1\n")
    assert status["Name"] == "sleep"
    assert procfs.parse_nspid(status["NSpid"]) == [4242, 7, 1]


def test_cgroup_v1_and_v2_lines() -> None:
    text = "12:cpu,cpuacct:/user.slice\n4:memory:/a/b\n1:name=systemd:/init.scope\n0::/user.slice/x\n"
    paths = procfs.parse_cgroup(text)
    assert paths == {
        "cpu": "/user.slice",
        "cpuacct": "/user.slice",
        "memory": "/a/b",
        "name=systemd": "/init.scope",
        "": "/user.slice/x",
    }


def test_sysvipc_keys_are_unsigned() -> None:
    text = (
        "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid\n"
        " 366927412          3   600           0          0     0     0     0     0     0     0\n"
        "        -1          4   644           0          0     0     0  1000  1000  1000  1000\n"
    )
    queues = sysvipc.parse_msg_queues(text)
    assert [q.key_hex for q in queues] == ["0x15dede34", "0xffffffff"]
    assert [q.perms for q in queues] == [0o600, 0o644]
    assert queues[1].uid == 1000


def test_pids_lists_only_numeric_entries(tmp_path: object) -> None:
    import pathlib

    root = pathlib.Path(str(tmp_path))
    for name in ("1", "42", "self", "sys", "7"):
        (root / name).mkdir()
    assert procfs.pids(str(root)) == [1, 7, 42]
