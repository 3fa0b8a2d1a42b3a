"""host.py's pure parts: cgroup mode, /proc/cgroups, kernel versions, ELF linkage, preflight errors."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from isodemo import host
from isodemo.errors import ExitCode, MissingFeature, NeedsRoot, NotLinux


@pytest.mark.parametrize(
    ("types", "mode"),
    [
        ({"/sys/fs/cgroup": "cgroup2"}, "v2"),
        (
            {
                "/sys/fs/cgroup": "tmpfs",
                "/sys/fs/cgroup/memory": "cgroup",
                "/sys/fs/cgroup/unified": "cgroup2",
            },
            "hybrid",
        ),
        ({"/sys/fs/cgroup": "tmpfs", "/sys/fs/cgroup/memory": "cgroup"}, "v1"),
        ({}, "none"),
    ],
)
def test_cgroup_mode(types: dict[str, str], mode: str) -> None:
    assert host.cgroup_mode_from(types) == mode


def test_cgroup_mode_from_mountinfo_text() -> None:
    text = (
        "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw\n"
        "36 24 0:31 / /sys/fs/bpf rw - bpf bpf rw\n"
    )
    assert host.cgroup_fs_types(text) == {"/sys/fs/cgroup": "cgroup2"}


def test_proc_cgroups() -> None:
    text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t3\t10\t1\nmemory\t0\t80\t1\nrdma\t0\t1\t0\n"
    controllers = host.parse_proc_cgroups(text)
    assert [(c.name, c.hierarchy, c.enabled) for c in controllers] == [
        ("cpu", 3, True),
        ("memory", 0, True),
        ("rdma", 0, False),
    ]


@pytest.mark.parametrize(
    ("release", "version"),
    [("6.8.0-45-generic", (6, 8)), ("5.10.0", (5, 10)), ("4.19rc1", (4, 19)), ("garbage", (0, 0))],
)
def test_kernel_version(release: str, version: tuple[int, int]) -> None:
    assert host.kernel_version(release) == version


def _elf(path: Path, *, interp: bool) -> Path:
    """A minimal 64-bit little-endian ELF header with one program header."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 32, 64)  # e_phoff
    struct.pack_into("<HH", header, 54, 56, 1)  # e_phentsize, e_phnum
    program = bytearray(56)
    struct.pack_into("<I", program, 0, 3 if interp else 1)  # PT_INTERP or PT_LOAD
    path.write_bytes(bytes(header + program))
    return path


def test_static_elf_detection(tmp_path: Path) -> None:
    assert host.is_static_elf(str(_elf(tmp_path / "static", interp=False)))
    assert not host.is_static_elf(str(_elf(tmp_path / "dynamic", interp=True)))
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert not host.is_static_elf(str(tmp_path / "script"))


def test_not_linux_points_at_the_vm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(NotLinux) as caught:
        host.require_linux()
    assert caught.value.exit_code == ExitCode.MISSING_FEATURE
    assert "vagrant up" in (caught.value.hint or "")


def test_not_root_gives_the_sudo_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/isodemo", "pid", "--plain"])
    with pytest.raises(NeedsRoot) as caught:
        host.require_root("isodemo pid")
    assert caught.value.exit_code == 77
    assert caught.value.hint == "run: sudo isodemo pid --plain"


def test_missing_tool_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda *a, **k: None)
    with pytest.raises(MissingFeature) as caught:
        host.find_tool("busybox")
    assert caught.value.hint == "sudo apt install busybox-static"
