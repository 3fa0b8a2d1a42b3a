"""`isodemo run -it`: a pseudo-terminal between the user's terminal and the container, as `docker run -it`.

    user's terminal (stdin, raw) --> isodemo --> pty master ==kernel==> pty slave: the container's fds 0-2
    user's terminal (stdout)     <-- isodemo <-- pty master <==kernel== pty slave

The container gets a terminal of its own (`man 7 pty`), made as runc makes it: the child opens the ptmx of
the devpts mounted in the container (inside/console.py), binds the slave on /dev/console, makes it fds 0-2,
and hands the master to isodemo over the channel (SCM_RIGHTS); `Pty(master=...)` relays through it. Then
the child calls setsid() and ioctl(TIOCSCTTY), so the slave is its controlling terminal
(inside/container.py). Never a pty of the host's /dev/pts: with `-u N` the slave is given to uid N, and a
host pty of uid N could be opened by every process of that user on the host. Without a master, Pty opens a
pair itself with openpty(3), for a child that opens the slave by its path (`slave_path`; the unit tests).
The slave's line discipline is the container's: it echoes, edits lines, and turns Ctrl-C, Ctrl-Z and
Ctrl-\\ into SIGINT, SIGTSTP and SIGQUIT for the container's foreground process group, so job control works
inside (the command is a session leader with this terminal as its controlling terminal).

For that to happen, isodemo's own terminal is put in raw mode (cfmakeraw(3), as `tty.setraw`) while the
container runs: no echo, no line editing, no signals from keys. Ctrl-C is then the byte 0x03 that isodemo
reads and writes to the master like any other byte: it reaches the container, not isodemo, which is what
`docker run -it` does. A SIGINT sent to isodemo by `kill` is still isodemo's (the wait forwards it). The
saved terminal attributes are always put back when the Pty closes: after a normal end, an exception, or a
signal that unwinds the run (signals.py); only SIGKILL leaves the terminal raw (`stty sane` repairs it).

The window size of isodemo's terminal (stdin, else stdout) is copied onto the pty at the start and on every
SIGWINCH: the Pty installs a SIGWINCH handler while it is open (it calls the one it replaced, and a caller
that installs its own calls `resize()`); TIOCSWINSZ on the master makes the kernel send SIGWINCH to the
container's foreground process group.

The relay is driven by the caller's wait loop, which also waits for the container's pidfd and the signal
wakeup pipe. The Pty says which descriptors to wait on, asked anew each round (they change: stdin is left
out while typed bytes wait for room in the container's terminal, and the master is then waited on to be
writable), and copies what is ready. The master is non-blocking: a container that does not read its input
cannot stop isodemo from reading its output. When the container's last process has closed the slave, the
master reads EIO: pump() returns False and fds() is empty from then on, so the loop needs no bookkeeping;
the wait goes on for the pidfd (PID 1 may still run with its terminal closed). If isodemo's stdout goes
away, the container's terminal is hung up (SIGHUP to its session), as when a terminal window closes.

    master, steps = box.call(launch.open_console)  # the container's own pty; the master comes back
    with Pty(interactive=spec.interactive, master=master.fd) as pty:
        ...  # the child makes the slave its controlling terminal, execs
        pty.child_has_opened()
        while True:
            readable, writable, _ = select.select([pidfd, wakeup, *pty.fds()], pty.write_fds(), [], timeout)
            pty.pump({*readable, *writable})  # readable and writable alike; other descriptors are ignored
            if pidfd in readable:
                break
            ...  # signals from the wakeup pipe: forward SIGINT/SIGTERM to PID 1, stop timeout
        pty.drain()  # what the container wrote just before it exited (__exit__ drains too, after no error)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios

TYPE_CHECKING = False  # `typing` costs ~7 ms; this module is on the `isodemo run` path
if TYPE_CHECKING:
    from collections.abc import Collection
    from types import FrameType, TracebackType
    from typing import Any

CHUNK = 65536  # bytes per read; a pty hands over at most its 4 KiB line buffer per read anyway
_GONE = (errno.EIO, errno.EPIPE, errno.EBADF, errno.ENXIO)  # the other end of a descriptor is gone


def check_terminal(interactive: bool, tty: bool, stdin: int = 0) -> None:
    """Refuse `-it` when isodemo's stdin is not a terminal, with docker's words (raw mode and key signals
    need a terminal to act on). With `-t` alone stdin is not relayed, so a pipe is fine."""
    if interactive and tty and not os.isatty(stdin):
        from isodemo.errors import RunError
        from isodemo.i18n import _

        raise RunError(
            _("the input device is not a TTY"),
            _("run it from a terminal, or without -t to give the container a pipe or a file as its input"),
        )


def cfmakeraw(mode: list[Any]) -> list[Any]:
    """Terminal attributes (as termios.tcgetattr returns them) made raw, as cfmakeraw(3) does: bytes pass
    through as they are typed, one at a time, with no echo, no line editing and no signals from keys."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = mode
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
    )
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(cc)
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal `fd` (ioctl TIOCGWINSZ), None when it is not a terminal."""
    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))
    except OSError:
        return None
    rows, columns, _xpixel, _ypixel = struct.unpack("HHHH", packed)
    return rows, columns


class Pty:
    """A pty pair for the container, isodemo's terminal in raw mode for as long as it is open.

    `interactive` (-i): relay stdin to the container; without it stdin is neither read nor made raw (docker's
    `-t` alone). `stdin` and `stdout` are isodemo's own descriptors (other ones in tests). `master`: the
    master of the container's own pty (inside/console.py), which the Pty owns from here on, even when this
    raises; without it, __enter__ opens a pair (openpty) whose slave the child opens by `slave_path`.
    """

    def __init__(self, interactive: bool = True, *, stdin: int = 0, stdout: int = 1, master: int = -1) -> None:
        try:
            check_terminal(interactive, True, stdin)
        except BaseException:
            if master >= 0:
                os.close(master)
            raise
        self.interactive = interactive
        self.stdin = stdin
        self.stdout = stdout
        self.master = master
        self.slave = -1  # the parent's own slave descriptor: keeps the pty alive until the child has it
        self.slave_path = ""
        self._saved: list[Any] | None = None  # stdin's attributes before raw mode
        self._previous_winch: object = None
        self._winch_installed = False
        self._pending = b""  # typed bytes read from stdin that the master has no room for yet
        self._stdin_open = interactive  # False after end of input on stdin
        self._output_open = True  # False once stdout is gone
        self._relaying = False  # True from __enter__ until the container's side of the pty is closed

    # -- the resource -------------------------------------------------------------------------------------
    def __enter__(self) -> Pty:
        try:
            if self.master < 0:
                self.master, self.slave = os.openpty()  # both close-on-exec (PEP 446)
                self.slave_path = os.ttyname(self.slave)
            os.set_blocking(self.master, False)
            self._relaying = True
            self._follow_resize()  # first: a resize while the size is copied is not missed
            self.resize()
            if self.interactive and os.isatty(self.stdin):
                self._saved = termios.tcgetattr(self.stdin)
                termios.tcsetattr(self.stdin, termios.TCSANOW, cfmakeraw(self._saved))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.drain()
        finally:
            self.close()

    def close(self) -> None:
        """Put stdin's attributes back exactly as they were, stop following resizes, close the pty.
        Every step runs even if one before it fails; calling it again does nothing."""
        saved, self._saved = self._saved, None
        try:
            if saved is not None:
                _restore(self.stdin, saved)
        finally:
            try:
                if self._winch_installed:
                    self._winch_installed = False
                    signal.signal(signal.SIGWINCH, self._previous_winch)  # type: ignore[arg-type]
            finally:
                self._relaying = False
                for name in ("slave", "master"):
                    fd = getattr(self, name)
                    setattr(self, name, -1)
                    if fd >= 0:
                        os.close(fd)

    def child_has_opened(self) -> None:
        """The container has the slave open (its fds 0-2): the parent's copy, if it opened the pair, is
        closed, so that the master reads EIO once the last process of the container has closed it."""
        if self.slave >= 0:
            fd, self.slave = self.slave, -1
            os.close(fd)

    # -- the relay ----------------------------------------------------------------------------------------
    @property
    def relaying(self) -> bool:
        """True until the container's side of the pty is closed (or isodemo's output is gone)."""
        return self._relaying

    def fds(self) -> list[int]:
        """Descriptors to wait on until readable: the master (the container's output) and, with -i, stdin
        (not while typed bytes still wait for room in the container's terminal). Empty once the relay is
        over."""
        if not self._relaying:
            return []
        if self._stdin_open and not self._pending:
            return [self.master, self.stdin]
        return [self.master]

    def write_fds(self) -> list[int]:
        """Descriptors to wait on until writable: the master while typed bytes wait for room there (the
        container does not read its input); almost always empty."""
        return [self.master] if self._relaying and self._pending else []

    def pump(self, ready: Collection[int]) -> bool:
        """Copy what is ready: stdin -> master, master -> stdout. `ready` holds the descriptors select()
        reported, readable or writable alike; the master is non-blocking, so it is tried either way. Returns
        False once the relay is over: the master read EIO (every process of the container has closed the
        slave: the container is done with its terminal) or stdout is gone; fds() is empty from then on."""
        if not self._relaying:
            return False
        if self._stdin_open and not self._pending and self.stdin in ready:
            self._read_stdin()
        if self._pending:
            self._write_pending()
        if self._relaying and self.master in ready:
            self._copy_output()
        return self._relaying

    def drain(self) -> None:
        """Copy to stdout what the container wrote and isodemo has not read yet, without waiting for more:
        after the container's exit, the last lines it printed. Ends at EIO (all of it read, the relay is
        over) or when nothing is left for now (a process outside the container still holds the slave)."""
        while self._relaying and self._copy_output():
            pass

    def resize(self) -> None:
        """Copy the window size of isodemo's terminal (stdin, else stdout) onto the pty; the kernel sends
        SIGWINCH to the container's foreground process group when it changed. Called on SIGWINCH."""
        if self.master < 0:
            return
        for fd in (self.stdin, self.stdout):
            try:
                packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))
            except OSError:
                continue
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, packed)  # on the master: sets the slave's size
            return

    # -- inside the relay ---------------------------------------------------------------------------------
    def _read_stdin(self) -> None:
        try:
            data = os.read(self.stdin, CHUNK)  # select() said readable: one read does not block
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno not in _GONE:
                raise
            data = b""
        if data:
            self._pending = data
        else:  # end of input (the terminal hung up): the container keeps its terminal, without input
            self._stdin_open = False

    def _write_pending(self) -> None:
        try:
            written = os.write(self.master, self._pending)
        except BlockingIOError:  # no room: wait for the master to be writable (write_fds)
            return
        except OSError as error:
            if error.errno not in _GONE:
                raise
            self._relaying = False
            return
        self._pending = self._pending[written:]

    def _copy_output(self) -> bool:
        """One read from the master to stdout; False when there was nothing to copy."""
        try:
            data = os.read(self.master, CHUNK)  # flushes the kernel's pending buffer first (n_tty_read)
        except BlockingIOError:
            return False
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            data = b""
        if not data:  # EIO: no process has the slave open any more
            self._relaying = False
            return False
        self._write_output(data)
        return True

    def _write_output(self, data: bytes) -> None:
        """Write all of `data` to stdout (blocking: a slow terminal slows the container down, as it would
        outside). When stdout is gone, the container's terminal hangs up, as when a terminal window closes:
        the kernel sends SIGHUP to the container's session."""
        view = memoryview(data)
        while view and self._output_open:
            try:
                written = os.write(self.stdout, view)
            except OSError as error:
                if error.errno not in _GONE:
                    raise
                self._output_open = False
                self._hang_up()
                return
            view = view[written:]

    def _hang_up(self) -> None:
        self._relaying = False
        if self.master >= 0:  # closing the master hangs the slave up (vhangup): SIGHUP to its session
            fd, self.master = self.master, -1
            os.close(fd)

    def _follow_resize(self) -> None:
        if window_size(self.stdin) is None and window_size(self.stdout) is None:
            return
        try:
            previous = signal.signal(signal.SIGWINCH, self._on_winch)
        except ValueError:  # not the main thread: the caller calls resize() itself
            return
        # None: a handler installed outside Python; SIGWINCH's default is to ignore it, as SIG_DFL does
        self._previous_winch = signal.SIG_DFL if previous is None else previous
        self._winch_installed = True

    def _on_winch(self, signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):  # a handler must not raise into what the main thread was doing
            self.resize()
        previous = self._previous_winch
        if callable(previous):
            previous(signum, frame)


def _restore(fd: int, saved: list[Any]) -> None:
    """tcsetattr with SIGTTOU blocked: a background isodemo (stopped and resumed with `bg`) still puts the
    terminal back instead of being stopped again by the kernel on the way out."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
    except termios.error:  # the terminal is gone (hung up): nothing to put back
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
