"""cgroup-io: a disk bandwidth limit (io.max on v2, blkio.throttle on v1), measured.

What you will see: a loop device made on a temporary file (a disk of our own, so no real disk is
touched), O_DIRECT writes and reads measured without a limit, then the same from a process in a cgroup whose
bandwidth on that device is limited, and the loop device and file removed afterwards.
Kubernetes: there is no Pod field for disk bandwidth; this is what runtimes' blkio/io settings and
node-level I/O isolation build on.
"""

from __future__ import annotations

import os
import tempfile

from isodemo.context import DemoContext
from isodemo.i18n import _
from isodemo.inside import workloads
from isodemo.kernel.loop import LoopDevice
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes

DEFAULT_RATE = 1 << 20  # 1 MiB/s
DISK_BYTES = 64 << 20
BLOCK = 256 << 10


def block_for(rate: int) -> int:
    """256 KiB blocks, smaller for slow rates (several blocks a second keep the throttle smooth); >= 4 KiB."""
    block = BLOCK
    while block > 4096 and block * 8 > rate:
        block //= 2
    return block


LIMITED_SECONDS = 3
FAST_BYTES = 32 << 20


class BackingFile:
    """The temporary file behind the loop device: /tmp/isodemo-<run>-disk.img, sparse, removed after."""

    def __init__(self, path: str, size: int) -> None:
        self.path, self.size = path, size

    def __enter__(self) -> BackingFile:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, self.size)
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        os.unlink(self.path)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    rate = int(ctx.options.get("limit") or DEFAULT_RATE)  # bounded by values.rate_bytes (4k to 64m per second)
    block = block_for(rate)
    total = -(-rate * LIMITED_SECONDS // block) * block  # whole blocks, about LIMITED_SECONDS at the limit
    disk = max(DISK_BYTES, total + (1 << 20))
    backing = os.path.join(tempfile.gettempdir(), ctx.run.object_name("disk.img"))
    narrator.step(
        _("A disk of our own: a loop device on a temporary file"),
        syscalls=[
            "ftruncate(2)",
            "ioctl(LOOP_CTL_GET_FREE)",
            "ioctl(LOOP_SET_FD)",
            "ioctl(LOOP_SET_STATUS64, LO_FLAGS_AUTOCLEAR)",
        ],
        shell=[f"truncate -s {disk >> 20}M {backing}", f"losetup --find --show {backing}"],
    )
    ctx.enter(BackingFile(backing, disk))
    loop = ctx.enter(LoopDevice(backing))
    device = narrator.fact("device", loop.major_minor)
    narrator.fact("loop_device", loop.path)
    narrator.explain(
        _(
            "{loop} is block device {device}. Throttling works per device, and io.max wants a "
            "whole disk's MAJ:MIN, not a partition's; a loop device is a whole disk.",
            loop=loop.path,
            device=device,
        )
    )

    narrator.step(
        _("Unthrottled: O_DIRECT writes"),
        syscalls=[f'openat(AT_FDCWD, "{loop.path}", O_WRONLY|O_DIRECT)', "pwritev2(fd, [buffer], 1, offset, 0)"],
        shell=[f"dd if=/dev/zero of={loop.path} bs=256k count=128 oflag=direct"],
    )
    narrator.explain(
        _(
            "O_DIRECT bypasses the page cache, so every byte really goes to the device and the "
            "measurement is not flattered by memory."
        )
    )
    free = ctx.isolated([])
    seconds = free.call(workloads.direct_transfer, loop.path, FAST_BYTES, BLOCK, write=True)
    fast = narrator.fact("unthrottled_bytes_per_s", round(FAST_BYTES / seconds))

    narrator.step(
        _("Throttled to {rate}/s", rate=format_bytes(rate)),
        syscalls=[
            "mkdir(cgroup directory, 0777)",
            f'write(limit file, "{device} ... {rate}")',
            "pwritev2(fd, [buffer], 1, offset, 0)  (in the cgroup)",
            "preadv2(fd, [buffer], 1, offset, 0)  (in the cgroup)",
        ],
    )
    cgroup = ctx.cgroup("io", ["io"])
    narrator.shell(*cgroup.setup_commands)
    narrator.shell(*(w.shell for w in cgroup.set_io_limit(device, rbps=rate, wbps=rate)))
    narrator.fact("cgroup_version", cgroup.version)
    limit = narrator.fact("limit_bytes_per_s", rate)
    box = ctx.isolated([])
    narrator.shell(*(w.shell for w in cgroup.add(box.pid)))
    narrator.explain(
        _(
            "The process in the cgroup now writes {total}, then reads it back: at the limit, about {seconds} s each.",
            total=format_bytes(total),
            seconds=LIMITED_SECONDS,
        )
    )
    write_s = box.call(workloads.direct_transfer, loop.path, total, block, write=True)
    read_s = box.call(workloads.direct_transfer, loop.path, total, block, write=False)
    measured, measured_read = round(total / write_s), round(total / read_s)
    narrator.compare(
        _("write bandwidth"),
        [_("no limit: {rate}/s", rate=format_bytes(fast))],
        [
            _("limit {limit}/s: {rate}/s", limit=format_bytes(limit), rate=format_bytes(measured)),
            _("reads: {rate}/s", rate=format_bytes(measured_read)),
        ],
        host_title=_("outside the cgroup"),
        inside_title=_("inside the cgroup"),
    )
    narrator.check(
        "measured_bytes_per_s",
        measured,
        _(
            "writes were held to the limit: {rate}/s, within 10% of {limit}/s",
            rate=format_bytes(measured),
            limit=format_bytes(limit),
        ),
        abs(measured - limit) <= 0.1 * limit,
    )
    narrator.check(
        "measured_read_bytes_per_s",
        measured_read,
        _("reads too: {rate}/s", rate=format_bytes(measured_read)),
        abs(measured_read - limit) <= 0.1 * limit,
    )
    narrator.claim(_("without the limit the same device is much faster"), fast > 3 * limit)

    ctx.hold_here(narrator, {"box": box.pid}, cgroups=cgroup.paths)
    narrator.kubernetes(
        _(
            "Kubernetes has no Pod field for disk bandwidth: container runtimes expose this controller (docker "
            "run --device-write-bps, the OCI spec's blockIO section) and node operators use it to isolate noisy "
            "workloads. The memory and CPU limits you set on Pods sit in the same cgroup, next to io.max."
        )
    )
