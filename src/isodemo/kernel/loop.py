"""Loop devices: a regular file seen as a block device (man 4 loop), set up with ioctls, no losetup.

The device is attached with LO_FLAGS_AUTOCLEAR: the kernel detaches it by itself when the last file
descriptor on it closes, so even a SIGKILLed isodemo leaves no loop device behind (only the backing file,
which `isodemo cleanup` removes).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
from types import TracebackType

# <linux/loop.h>
LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_CONFIGURE = 0x4C0A  # Linux 5.8: attach and set flags in one call
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_AUTOCLEAR = 4
LO_NAME_SIZE = 64


class LoopInfo64(ctypes.Structure):
    """struct loop_info64 from <linux/loop.h>."""

    _fields_ = (
        ("lo_device", ctypes.c_uint64),
        ("lo_inode", ctypes.c_uint64),
        ("lo_rdevice", ctypes.c_uint64),
        ("lo_offset", ctypes.c_uint64),
        ("lo_sizelimit", ctypes.c_uint64),
        ("lo_number", ctypes.c_uint32),
        ("lo_encrypt_type", ctypes.c_uint32),
        ("lo_encrypt_key_size", ctypes.c_uint32),
        ("lo_flags", ctypes.c_uint32),
        ("lo_file_name", ctypes.c_char * LO_NAME_SIZE),
        ("lo_crypt_name", ctypes.c_char * LO_NAME_SIZE),
        ("lo_encrypt_key", ctypes.c_char * 32),
        ("lo_init", ctypes.c_uint64 * 2),
    )


class LoopConfig(ctypes.Structure):
    """struct loop_config from <linux/loop.h>."""

    _fields_ = (
        ("fd", ctypes.c_uint32),
        ("block_size", ctypes.c_uint32),
        ("info", LoopInfo64),
        ("reserved", ctypes.c_uint64 * 8),
    )


def _info(backing: str) -> LoopInfo64:
    info = LoopInfo64()
    info.lo_flags = LO_FLAGS_AUTOCLEAR
    info.lo_file_name = os.path.basename(backing).encode()[: LO_NAME_SIZE - 1]
    return info


def _attach(fd: int, backing_fd: int, backing: str) -> None:
    """Attach with autoclear set atomically (LOOP_CONFIGURE); on older kernels in two steps, undone on failure."""
    config = LoopConfig()
    config.fd = backing_fd
    config.info = _info(backing)
    try:
        fcntl.ioctl(fd, LOOP_CONFIGURE, config)
        return
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
    fcntl.ioctl(fd, LOOP_SET_FD, backing_fd)
    try:
        fcntl.ioctl(fd, LOOP_SET_STATUS64, _info(backing))
    except BaseException:
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, LOOP_CLR_FD)
        raise


def detach(path: str) -> None:
    """`losetup -d PATH`. A device no longer bound (ENXIO: it detached itself, autoclear, when its last user
    closed it) is what was wanted."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.ioctl(fd, LOOP_CLR_FD)
    except OSError as error:
        if error.errno != errno.ENXIO:
            raise
    finally:
        os.close(fd)


class LoopDevice:
    """Attach `backing` to a free /dev/loopN for the life of the context; `major_minor` is its MAJ:MIN."""

    def __init__(self, backing: str) -> None:
        self.backing = backing
        self.path = ""
        self.fd = -1

    def __enter__(self) -> LoopDevice:
        backing_fd = os.open(self.backing, os.O_RDWR)
        try:
            for _ in range(8):  # another process may take the free device between our two calls
                control = os.open("/dev/loop-control", os.O_RDWR)
                try:
                    number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
                finally:
                    os.close(control)
                path = f"/dev/loop{number}"
                fd = os.open(path, os.O_RDWR)
                try:
                    _attach(fd, backing_fd, self.backing)
                except BaseException as error:
                    os.close(fd)
                    if isinstance(error, OSError) and error.errno == errno.EBUSY:
                        continue
                    raise
                self.path, self.fd = path, fd
                return self
            raise OSError(errno.EBUSY, _("no free loop device"))
        finally:
            os.close(backing_fd)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):  # autoclear detaches it anyway on close
                fcntl.ioctl(self.fd, LOOP_CLR_FD)
            os.close(self.fd)
            self.fd = -1

    @property
    def major_minor(self) -> str:
        rdev = os.stat(self.path).st_rdev
        return f"{os.major(rdev)}:{os.minor(rdev)}"
