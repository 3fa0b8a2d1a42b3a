"""`isodemo run -t -u N`: the container's terminal is a pty of its own devpts, never one of the host's.

A pty slave of the host's /dev/pts given to uid N (chown, so that `tty` works for that user) would let any
process of host uid N open /dev/pts/K on the host and read or type the container's keystrokes. As runc
does, the child opens /dev/pts/ptmx of the devpts instance mounted in the container, binds the slave on
/dev/console, makes it fds 0-2, and hands the master to isodemo over the channel (SCM_RIGHTS); only that
slave is given to the container's user. These tests run isodemo on a pty of their own, as a user would.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time

import pytest

from tests.conftest import isodemo_argv

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

UID = 1000  # no such user needs to exist: the kernel only compares numbers


class Terminal:
    """isodemo started on a pty of this test (pty.fork), 30 rows and 100 columns; `screen` is what it wrote."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child becomes isodemo
            os.execv(isodemo_argv()[0], isodemo_argv("run", *args))
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.screen = b""
        self.status: int | None = None

    def read_until(self, marker: bytes, seconds: float = 30) -> None:
        end = time.monotonic() + seconds
        while marker not in self.screen and time.monotonic() < end:
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.fd, 4096)
                except OSError:  # EIO: isodemo has exited
                    return
        assert marker in self.screen, self.text

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_code(self) -> int:
        if self.status is None:
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def close(self) -> None:
        """Close our side of the terminal: a hangup, on which an isodemo still running (a failed test) ends
        its container and cleans up; SIGKILL only if it has not within 30 s."""
        os.close(self.fd)
        end = time.monotonic() + 30
        while self.status is None and time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            else:
                time.sleep(0.05)
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self.exit_code()

    @property
    def text(self) -> str:
        return self.screen.decode(errors="replace")


def host_ptys_of(uid: int) -> list[str]:
    """The host's /dev/pts nodes that belong to `uid`."""
    owned = []
    for name in os.listdir("/dev/pts"):
        path = os.path.join("/dev/pts", name)
        try:
            if os.stat(path).st_uid == uid:
                owned.append(path)
        except FileNotFoundError:  # a pty closed meanwhile
            continue
    return owned


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").splitlines()]


def test_t_as_another_user_gives_that_user_no_host_pty() -> None:
    """While the container runs as uid 1000 on its terminal, no host pty belongs to uid 1000; inside, the
    terminal works for that user: `tty` names it, `stty size` reads ours, /dev/tty and /dev/console reopen."""
    script = (
        "tty; stty size; stat -c 'owner %u' /dev/console; echo via-dev-tty > /dev/tty;"
        " echo via-console > /dev/console; echo ready; sleep 2"
    )
    terminal = Terminal("-t", "-u", str(UID), "busybox", "sh", "-c", script)
    try:
        terminal.read_until(b"ready")
        assert host_ptys_of(UID) == [], terminal.text
        code = terminal.exit_code()
    finally:
        terminal.close()
    seen = lines(terminal.text)
    assert code == 0, terminal.text
    assert "/dev/pts/0" in seen, terminal.text  # `tty`: a pty of the container's own devpts, numbered from 0
    assert "30 100" in seen and "owner 1000" in seen, terminal.text
    assert "via-dev-tty" in seen and "via-console" in seen, terminal.text


def test_it_as_another_user_keeps_job_control() -> None:
    """`-it -u 1000 busybox sh`: an interactive shell of that user on its own terminal; Ctrl-C interrupts its
    foreground command, not the shell, and no host pty belongs to uid 1000 meanwhile."""
    terminal = Terminal("-it", "-u", str(UID), "busybox", "sh")
    try:
        terminal.read_until(b"$ ")
        terminal.type(b"tty; stty size; echo started; sleep 30\r")
        terminal.read_until(b"started\r\n")
        assert host_ptys_of(UID) == [], terminal.text
        terminal.type(b"\x03")
        terminal.type(b"echo after-ctrl-c; exit 7\r")
        terminal.read_until(b"after-ctrl-c\r\n")
        code = terminal.exit_code()
    finally:
        terminal.close()
    assert "/dev/pts/0" in terminal.text and "30 100" in terminal.text, terminal.text
    assert code == 7, terminal.text
