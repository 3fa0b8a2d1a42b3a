"""A container's directories on the host: made root-only, removed without following a symlink out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from isodemo.container import overlay

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only


def test_remove_takes_the_tree_and_never_follows_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host data\n")
    dirs = overlay.ContainerDirs(str(tmp_path / "containers"), "isodemo-abc123-ctr")
    with dirs:
        deep = Path(dirs.upper, "a", "b")
        deep.mkdir(parents=True)
        (deep / "f").write_text("x")
        Path(dirs.upper, "link").symlink_to(outside)  # an image's or a container's symlink to elsewhere
        Path(dirs.upper, "a", "dirlink").symlink_to(outside, target_is_directory=True)
        assert oct(os.stat(tmp_path / "containers").st_mode & 0o777) == "0o700"
    assert not os.path.lexists(dirs.path)
    assert (outside / "keep").read_text() == "host data\n"


def test_remove_of_what_is_not_there_is_done(tmp_path: Path) -> None:
    overlay.remove(str(tmp_path / "isodemo-abc123-ctr"))  # a run killed before it made the directory


def test_overlay_falls_back_without_volatile_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel before 5.10 refuses `volatile` with EINVAL: the mount is made without it, and the next one of
    this process does not ask again."""
    import errno

    calls: list[str] = []

    def fake_mount(source: str, target: str, fstype: str, flags: int, options: str) -> None:
        calls.append(options)
        if options.endswith(",volatile"):
            raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(overlay.mount, "mount", fake_mount)
    monkeypatch.setattr(overlay, "_VOLATILE", {})
    first = overlay.OverlayMount(["/l"], "/u", "/w", "/m").__enter__()
    second = overlay.OverlayMount(["/l"], "/u", "/w", "/m").__enter__()
    assert calls == ["lowerdir=/l,upperdir=/u,workdir=/w,volatile", *["lowerdir=/l,upperdir=/u,workdir=/w"] * 2]
    assert not first.volatile and not second.volatile and first.mounted
