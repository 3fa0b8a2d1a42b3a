"""Finding the kernel objects isodemo creates, by their isodemo-<run id> names, and removing them.

Used after every run (the JSON `leftovers` list must be empty) and by `isodemo cleanup` for runs that
were SIGKILLed. Each finder knows one kind of object; later demos add finders here. A name only says
which run an object would belong to: `isodemo cleanup` removes it only when that run's record exists
and its owner is dead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from isodemo import runs
from isodemo.i18n import N_, _
from isodemo.kernel import mount, procfs, sysvipc
from isodemo.kernel import process as kprocess


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    run_id: str
    remove: Callable[[], None]
    owner: int | None = None  # the uid owning it, for the kinds that have one (a user's record vouches by it)
    proven_stale: bool = False  # its finder saw that its maker is dead (no run record needed to vouch)

    def __str__(self) -> str:
        """As the JSON lists it: the kind in English (kinds are marked with N_())."""
        return f"{self.kind} {self.name}"

    @property
    def label(self) -> str:
        """As a learner reads it: the kind in the current language, then the name."""
        return _("{kind} {name}", kind=_(self.kind), name=self.name)


def _processes() -> Iterable[Leftover]:
    me = os.getpid()
    for pid in procfs.pids():
        try:
            comm = kprocess.comm(pid)
        except OSError:
            continue
        run_id = runs.run_id_of(comm)
        # A zombie has already exited; only its parent (or PID 1, after a SIGKILL) can reap it.
        if run_id and pid != me and not procfs.is_zombie(pid):
            yield Leftover(N_("process"), f"{pid} ({comm})", run_id, _killer(pid, procfs.start_time(pid)), _uid_of(pid))


def _uid_of(pid: int) -> int | None:
    """The real uid of a process, as the host sees it (Uid: real effective saved fs)."""
    try:
        return int(procfs.status(pid)["Uid"].split()[0])
    except (OSError, KeyError, ValueError):
        return None


def _killer(pid: int, started: str | None) -> Callable[[], None]:
    """SIGKILL through a pidfd, after checking it is still the process that was found (not a reused pid)."""

    def kill() -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            # A process of a dead run may be dying by itself (its parent-death signal) as cleanup looks at it:
            # gone between the two calls is what cleanup wanted, not a failure.
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if procfs.start_time(pid) == started:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)

    return kill


def _mounts() -> Iterable[Leftover]:
    # The last made first: a mount under another (a tmpfs under `isodemo volume`'s shared bind) goes before it.
    for entry in reversed(procfs.mountinfo("self")):
        if entry.mount_point.startswith("/run/netns/"):
            continue  # a named network namespace: _named_netns removes it whole
        for part in entry.mount_point.split("/"):
            run_id = runs.run_id_of(part)
            if run_id:
                path = entry.mount_point
                yield Leftover(N_("mount"), path, run_id, functools.partial(mount.umount2, path, mount.MNT_DETACH))
                break


def _directories() -> Iterable[Leftover]:
    # Rootless runs use /tmp whatever their TMPDIR; cgroup-io's disk image is in root's TMPDIR.
    places = dict.fromkeys([runs.SHARED_TMP, Path(tempfile.gettempdir())])
    for path in (path for place in places for path in place.glob(f"{runs.PREFIX}-*")):
        run_id = runs.run_id_of(path.name)
        if not run_id:
            continue
        try:
            owner = path.lstat().st_uid
        except OSError:
            continue
        if path.is_dir() and not path.is_symlink():
            # Only ever an empty mount point on the host: rmdir, which refuses anything with content.
            yield Leftover(N_("directory"), str(path), run_id, path.rmdir, owner)
        else:
            yield Leftover(N_("file"), str(path), run_id, path.unlink, owner)


def _containers() -> Iterable[Leftover]:
    """`isodemo run`'s container directories (upper, work, merged, etc): in the image store, found by the
    run's record (noted before they exist); their overlay mount goes first (_mounts), then the tree. A user's
    record (a rootless run) vouches only for a directory that user owns, in the user's own store."""
    from isodemo.container import overlay

    for run_id, record in runs.recorded_runs().items():
        for line in record.text.splitlines()[1:]:
            kind, _sep, path = line.partition(" ")
            if kind != "container" or runs.run_id_of(os.path.basename(path)) != run_id:
                continue
            try:
                found = os.lstat(path)
            except OSError:
                continue
            owner = found.st_uid
            if stat.S_ISDIR(found.st_mode) and record.owner in (0, owner):  # never a symlink to elsewhere
                remove = functools.partial(overlay.remove, path)
                yield Leftover(N_("container directory"), path, run_id, remove, owner)


def _volume_trees() -> Iterable[Leftover]:
    """`isodemo volume`'s stand-ins for /var/lib/kubelet and the node's hostPath files (/tmp/isodemo-<run>-
    kubelet, -node), found by the run's record (noted before they exist): their mounts first, deepest first,
    then the tree; never emptied while a mount is under it (volumes/tree.py)."""
    from isodemo.volumes import kubelet, node, tree

    for kind in (kubelet.KIND, node.KIND):
        for run_id, paths in runs.recorded_objects(kind).items():
            for path in paths:
                if runs.run_id_of(os.path.basename(path)) != run_id or os.path.dirname(path) != runs.SHARED_TMP_NAME:
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    yield Leftover(N_("volume directory"), path, run_id, functools.partial(tree.remove, path), 0)


def _escape_workspaces() -> Iterable[Leftover]:
    """`isodemo escape`'s targets (/tmp or /var/tmp/isodemo-<run>-escape: escape/workspace.py), found by the
    run's record (noted before they exist); a loop device on its disk image goes first (_loop_devices)."""
    from isodemo.escape import workspace
    from isodemo.volumes import tree

    for run_id, paths in runs.recorded_objects(workspace.KIND).items():
        for path in paths:
            if runs.run_id_of(os.path.basename(path)) != run_id or os.path.dirname(path) not in workspace.PLACES:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                yield Leftover(N_("escape workspace"), path, run_id, functools.partial(tree.remove, path), 0)


def _image_temp() -> Iterable[Leftover]:
    """Half-unpacked layers of an image import that was killed: temp dirs whose importing process is dead."""
    from isodemo import images

    with contextlib.suppress(OSError):
        for path in images.stale_temp(images.default_root()):
            yield Leftover(
                N_("image store temp"), path, "", functools.partial(images.remove_temp, path), proven_stale=True
            )


def _msg_queues() -> Iterable[Leftover]:
    with contextlib.suppress(OSError):
        for queue in sysvipc.msg_queues():
            if queue.key & 0xFF000000 == runs.SYSV_KEY_TAG:
                run_id = f"{queue.key & 0xFFFFFF:06x}"
                yield Leftover(
                    N_("sysv message queue"),
                    f"{queue.key_hex} (msqid {queue.msqid})",
                    run_id,
                    functools.partial(sysvipc.msgctl_rmid, queue.msqid),
                    queue.uid,
                )


def _cgroups() -> Iterable[Leftover]:
    """isodemo-<run>-* cgroups: under /sys/fs/cgroup/isodemo (v2), under our own cgroup in each v1 hierarchy."""
    from isodemo.cgroups import cleanup_candidates

    noted = {path for paths in runs.recorded_objects("cgroup").values() for path in paths if os.path.isdir(path)}
    for path in sorted(set(cleanup_candidates()) | noted):
        run_id = runs.run_id_of(os.path.basename(path))
        if run_id:
            yield Leftover(N_("cgroup"), path, run_id, functools.partial(_remove_cgroup, path))


def _remove_cgroup(path: str) -> None:
    from isodemo.cgroups import remove_leftover

    remove_leftover(path)


def _links() -> Iterable[Leftover]:
    """veth host ends and bridges: /sys/class/net lists them without netlink (no pyroute2 import here)."""
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir("/sys/class/net")):
            run_id = runs.run_id_of(name)
            if run_id:
                yield Leftover(N_("link"), name, run_id, functools.partial(_delete_link, name))


def _delete_link(name: str) -> None:
    from isodemo.net import links

    with links.open_host() as ipr:
        links.delete_link(ipr, name)


def _named_netns() -> Iterable[Leftover]:
    from isodemo.net.netns import NETNS_DIR, remove

    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(NETNS_DIR)):
            run_id = runs.run_id_of(name)
            if run_id:
                path = os.path.join(NETNS_DIR, name)
                yield Leftover(N_("network namespace"), path, run_id, functools.partial(remove, path))


def _nft_tables() -> Iterable[Leftover]:
    from isodemo.net import nft

    for name in nft.table_names():
        run_id = runs.run_id_of(name)
        if run_id:
            yield Leftover(N_("nft table"), f"ip {name}", run_id, functools.partial(nft.delete_table, name))


def _loop_devices() -> Iterable[Leftover]:
    """Loop devices backed by an isodemo file: autoclear detaches them by itself, unless setup was cut short."""
    from isodemo.kernel.loop import detach

    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            run_id = runs.run_id_of(os.path.basename(backing.read_text().split(" (deleted)")[0].strip()))
            if run_id:
                device = f"/dev/{backing.parent.parent.name}"
                yield Leftover(N_("loop device"), device, run_id, functools.partial(detach, device))


def _run_records() -> Iterable[Leftover]:
    noted = runs.recorded_objects("cgroup")
    for run_id, record in runs.recorded_runs().items():
        remove = functools.partial(_remove_record, record.path, noted.get(run_id, []), run_id, record.owner)
        yield Leftover(N_("run record"), str(record.path), run_id, remove, record.owner)


class RecordKept(Exception):
    """The record stays: objects of its run exist that this cleanup did not find when it looked (the run was
    still making them then, and died after). The next cleanup removes them, and then the record."""


def _remove_record(record: Path, noted_cgroups: list[str], run_id: str = "", owner: int = 0) -> None:
    """The record goes last, and only once nothing it vouches for is left: it is what lets cleanup retry."""
    for path in noted_cgroups:  # still there: another cleanup, running at the same time, may be removing it
        if os.path.exists(path):
            with contextlib.suppress(FileNotFoundError):
                _remove_cgroup(path)
    remaining = [path for path in noted_cgroups if os.path.exists(path)]
    if remaining:
        raise OSError(_("kept: {paths} still exist", paths=", ".join(remaining)))
    if run_id:
        # Looked at again: a run that died between this cleanup's look and its check of which runs live made
        # objects the look did not see (a table, a link); without the record nothing would vouch for them.
        later = [
            str(item)
            for item in find({run_id}, include_records=False)
            if item.kind != N_("process") and owner in (0, item.owner)  # what this record vouches for
        ]
        if later:
            raise RecordKept(_("kept: {objects} appeared after cleanup looked", objects=", ".join(later)))
    record.unlink()
    if record.parent != runs.RUN_DIR:
        runs.remove_user_run_dir(record.parent)


# Removal order: processes first (they hold namespaces and mounts), then mounts, then what was under them.
FINDERS: tuple[Callable[[], Iterable[Leftover]], ...] = (
    _processes,
    _nft_tables,
    _links,
    _named_netns,
    _cgroups,
    _loop_devices,
    _mounts,
    _volume_trees,
    _escape_workspaces,
    _containers,
    _image_temp,
    _directories,
    _msg_queues,
    _run_records,
)


def find(run_ids: set[str] | None = None, *, include_records: bool = True) -> list[Leftover]:
    found = []
    for finder in FINDERS:
        if finder is _run_records and not include_records:
            continue
        found += [item for item in finder() if run_ids is None or item.run_id in run_ids]
    return found


def of_run(run: runs.Run) -> list[str]:
    """What this run created and did not remove (its own run record does not count: it is still open)."""
    return [str(item) for item in find({run.id}, include_records=False)]
