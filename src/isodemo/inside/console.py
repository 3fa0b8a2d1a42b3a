"""`isodemo run -t`, in the child: the container's terminal, made as runc's setupConsole makes it.

After prepare_root the child is in the container's root, whose /dev/pts is a devpts of its own
(`newinstance`, inside/rootfs.py). open_console() opens its ptmx: a new pty pair, numbered 0 there. The
slave is bound on /dev/console and becomes fds 0-2; the master goes back to the parent (a Descriptor, which
the channel passes with SCM_RIGHTS), where container/tty.py relays it to isodemo's own terminal.

Why not a pty of the host's /dev/pts, opened by isodemo and entered by its path: with `-u N` the slave must
belong to the container's user (so that `tty` and reopening /dev/console work for it, runc's
fixStdioPermissions), and a host pty owned by N could be opened by every process of host uid N, to read
what is typed into the container or type into it. A pty of the container's devpts exists only in the
container's mount namespace: giving it to uid N gives nothing on the host.
"""

from __future__ import annotations

import os

from isodemo.errors import RunError
from isodemo.i18n import _
from isodemo.inside import rootfs
from isodemo.kernel import pts
from isodemo.kernel.fdpass import Descriptor

PTMX = "/dev/pts/ptmx"  # the container's own: run after pivot_root


def open_console() -> tuple[Descriptor, list[str]]:
    """A new pty of the container's devpts: its slave on /dev/console and as fds 0-2, its master returned,
    handed over to the caller (the child's copy is closed once the channel has sent it). Also returns the
    steps taken (syscall strings, for --verbose)."""
    steps = rootfs.Steps()
    try:
        master = pts.open_master(PTMX)
    except OSError as error:
        raise _failed(error) from None
    try:
        steps.append(f'open("{PTMX}", O_RDWR|O_NOCTTY) = {master}')
        pts.unlockpt(master)
        steps.append(f"ioctl({master}, TIOCSPTLCK, [0])")
        number = pts.number(master)
        steps.append(f"ioctl({master}, TIOCGPTN, [{number}])")
        slave_path = f"/dev/pts/{number}"
        rootfs.bind_console(steps, "/", slave_path)
        slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        steps.append(f'open("{slave_path}", O_RDWR|O_NOCTTY) = {slave}')
        try:
            for fd in (0, 1, 2):  # dup2 makes them inheritable: the command gets them through execve
                os.dup2(slave, fd)
                steps.append(f"dup2({slave}, {fd})")
        finally:
            os.close(slave)
    except OSError as error:
        os.close(master)
        raise _failed(error) from None
    except BaseException:
        os.close(master)
        raise
    return Descriptor(master), list(steps)


def _failed(error: OSError) -> RunError:
    return RunError(_("the container's terminal could not be set up: {reason}", reason=str(error)))
