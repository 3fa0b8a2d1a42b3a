"""The `-it` relay (container/tty.py), without root and without a real container.

The user's terminal is a pty made by the test (`Terminal`: the test types into its master and reads the
screen from it; isodemo's side gets its slave as stdin and stdout). The "container" is a plain process that
does what inside/container.py does with Mounts.tty: setsid(), open the slave by its path, TIOCSCTTY, fds
0-2, then exec busybox sh or python. The wait loop is the one container/tty.py's docstring gives to the
coordinator (`relay`). Where it matters who receives a key's signal, isodemo's side runs in a process of
its own whose controlling terminal is the user's terminal (`run_driver`), as in a shell.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from isodemo import signals
from isodemo.container.tty import Pty, cfmakeraw, check_terminal, window_size
from isodemo.errors import ExitCode, Interrupted, RunError

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUSYBOX = "/bin/busybox"
TIMEOUT = 20.0
# pytest sets COLUMNS and LINES, which busybox's `stty size` prefers over the terminal's own size.
CONTAINER_ENV = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}

# The container's side, as inside/container.py does it for Process.tty: a session of its own, the pty slave
# as its controlling terminal and fds 0-2. One byte on the `ready` pipe says the slave is open (the
# coordinator knows it when box.exec returns), then the command is executed.
LAUNCHER = r"""
import fcntl, os, sys, termios
path, ready = sys.argv[1], int(sys.argv[2])
os.setsid()
fd = os.open(path, os.O_RDWR)
fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
for n in range(3):
    os.dup2(fd, n)
os.close(fd)
os.write(ready, b"o")
os.close(ready)
os.execv(sys.argv[3], sys.argv[3:])
"""

# A container that reports its window size at the start and on each SIGWINCH, until Enter.
WINDOW_REPORTER = r"""
import fcntl, os, signal, struct, sys, termios

def size():
    return struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, bytes(8)))[:2]
signal.signal(signal.SIGWINCH, lambda *_: os.write(1, b"winch %d %d\n" % size()))
os.write(1, b"start %d %d\n" % size())
sys.stdin.readline()
"""


def sh(script: str) -> tuple[str, ...]:
    return (BUSYBOX, "sh", "-c", script)


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-I", "-c", code)


def set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class Terminal:
    """The user's terminal: the test types into `master` and reads the screen from it in a thread (so
    isodemo's writes never wait for the test); isodemo's side uses `slave`."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.screen = bytearray()
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every slave is closed
                chunk = b""
            with self._changed:
                if not chunk:
                    self._closed = True
                    self._changed.notify_all()
                    return
                self.screen += chunk
                self._changed.notify_all()

    def wait_for(self, text: bytes, timeout: float = TIMEOUT) -> None:
        with self._changed:
            self._changed.wait_for(lambda: text in self.screen or self._closed, timeout)
            if text not in self.screen:
                raise AssertionError(f"{text!r} not on the screen: {bytes(self.screen)!r}")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        os.close(self.slave)  # the reader's next read fails with EIO
        self._reader.join(5)
        os.close(self.master)


class User:
    """What the user does while isodemo relays, in a thread: wait for a text, then type, and so on."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def act(self, script: Callable[[Terminal], None]) -> None:
        def run() -> None:
            try:
                script(self.terminal)
            except BaseException as error:  # shown by check(), in the test's thread
                self.errors.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def types_after(self, text: bytes, keys: bytes) -> None:
        def script(t: Terminal) -> None:
            t.wait_for(text)
            t.type(keys)

        self.act(script)

    def check(self) -> None:
        for thread in self.threads:
            thread.join(TIMEOUT)
        if self.errors:
            raise self.errors[0]


@dataclass
class Relay:
    pumps: list[bool] = field(default_factory=list)  # what each pump() returned
    waited_writable: bool = False  # write_fds() was not empty once: typed bytes waited for room


def start_container(pty: Pty, argv: tuple[str, ...], started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    ready, ready_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", LAUNCHER, pty.slave_path, str(ready_w), *argv],
            pass_fds=[ready_w],
            stdin=subprocess.DEVNULL,
            env=CONTAINER_ENV,
        )
    finally:
        os.close(ready_w)
    started.append(proc)
    with os.fdopen(ready, "rb") as pipe:
        assert pipe.read(1) == b"o", "the container could not open the pty slave"
    pty.child_has_opened()
    return proc


def relay(pty: Pty, proc: subprocess.Popen[bytes], timeout: float = TIMEOUT) -> Relay:
    """The coordinator's wait loop (container/tty.py's docstring), without the signal wakeup pipe."""
    result = Relay()
    pidfd = os.pidfd_open(proc.pid)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("the container did not end")
            result.waited_writable |= bool(pty.write_fds())
            readable, writable, _ = select.select([pidfd, *pty.fds()], pty.write_fds(), [], 0.5)
            result.pumps.append(pty.pump({*readable, *writable}))
            if pidfd in readable:
                break
        pty.drain()
    finally:
        os.close(pidfd)
    proc.wait()
    return result


def drive(user_terminal: str, *argv: str) -> NoReturn:
    """isodemo's side as a user starts it from a shell: a session leader with the user's terminal as its
    controlling terminal and fds 0-2; exits with the container's status as `isodemo run` does. Python's
    default SIGINT handling stays: a Ctrl-C that reached this process would end it with a traceback."""
    os.setsid()
    fd = os.open(user_terminal, os.O_RDWR)
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
    for n in range(3):
        os.dup2(fd, n)
    os.close(fd)
    started: list[subprocess.Popen[bytes]] = []
    with Pty(interactive=True) as pty:
        proc = start_container(pty, tuple(argv), started)
        relay(pty, proc)
    code = proc.returncode
    os._exit(code if code >= 0 else 128 - code)


def run_driver(terminal: Terminal, argv: tuple[str, ...], started: list[subprocess.Popen[bytes]]) -> int:
    """Run isodemo's side (`drive`) in a process of its own until it exits; its exit status."""
    code = "import sys; from tests.unit.test_tty import drive; drive(*sys.argv[1:])"
    driver = subprocess.Popen([sys.executable, "-c", code, terminal.path, *argv], cwd=REPO, stdin=subprocess.DEVNULL)
    started.append(driver)
    try:
        return driver.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"isodemo's side did not end; the screen: {bytes(terminal.screen)!r}") from None


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    set_size(term.master, 37, 101)
    try:
        yield term
    finally:
        term.close()


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes a test started; any still running at the end is killed (only these)."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def attributes(fd: int) -> list[Any]:
    return termios.tcgetattr(fd)


def is_raw(fd: int) -> bool:
    lflag = attributes(fd)[3]
    return not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)


# -- bytes, both ways ----------------------------------------------------------------------------------------


def test_typed_bytes_reach_the_container_and_its_output_reaches_the_screen(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    user = User(terminal)
    with Pty(stdin=terminal.slave, stdout=terminal.slave) as pty:
        proc = start_container(pty, sh('echo ready; read line; echo "got:$line"'), started)
        user.types_after(b"ready\r\n", b"hello\r")
        relay(pty, proc)
        assert pty.fds() == [] and pty.write_fds() == [] and not pty.relaying  # EIO, read by pump or drain
    user.check()
    assert proc.returncode == 0
    terminal.wait_for(b"got:hello\r\n")
    # Enter is \r in raw mode; the container's line discipline makes it \n (ICRNL), echoes the line and
    # writes \r\n for each \n (ONLCR): the screen shows what a terminal would.
    assert bytes(terminal.screen) == b"ready\r\nhello\r\ngot:hello\r\n"


def test_eio_alone_ends_the_relay(terminal: Terminal, started: list[subprocess.Popen[bytes]]) -> None:
    """Without looking at the pidfd: once the container's last process has closed the slave, the master
    reads EIO, pump() says False and there is nothing left to wait on."""
    with Pty(stdin=terminal.slave, stdout=terminal.slave) as pty:
        proc = start_container(pty, sh("echo bye"), started)
        results = []
        deadline = time.monotonic() + TIMEOUT
        while pty.fds() and time.monotonic() < deadline:
            readable, writable, _ = select.select(pty.fds(), pty.write_fds(), [], 1)
            results.append(pty.pump({*readable, *writable}))
        assert results[-1] is False and not pty.relaying and pty.fds() == []
        assert pty.pump({pty.master}) is False
        pty.drain()  # nothing left: returns at once
        assert proc.wait(TIMEOUT) == 0
    terminal.wait_for(b"bye\r\n")


def test_output_is_complete_when_the_container_exits(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    with Pty(stdin=terminal.slave, stdout=terminal.slave) as pty:
        proc = start_container(pty, sh("seq 1 30000"), started)
        relay(pty, proc)
    terminal.wait_for(b"\r\n30000\r\n")
    assert bytes(terminal.screen).split(b"\r\n")[:-1] == [str(n).encode() for n in range(1, 30001)]


def test_a_paste_larger_than_the_pty_buffers_waits_for_the_container(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    """The container reads nothing for a second: the master fills up (about 68 KiB), isodemo keeps the rest
    until the master is writable again and meanwhile stops reading the keyboard; nothing is lost."""
    size = 200_000
    user = User(terminal)
    with Pty(stdin=terminal.slave, stdout=terminal.slave) as pty:
        proc = start_container(pty, sh(f"stty raw -echo; echo ready; sleep 1; head -c {size} | wc -c"), started)
        user.types_after(b"ready", b"x" * size)
        result = relay(pty, proc)
    user.check()
    assert result.waited_writable
    terminal.wait_for(b"%d" % size)


def test_t_alone_does_not_read_stdin_nor_make_it_raw(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    before = attributes(terminal.slave)
    with Pty(interactive=False, stdin=terminal.slave, stdout=terminal.slave) as pty:
        assert pty.fds() == [pty.master]
        assert attributes(terminal.slave) == before
        proc = start_container(pty, sh("echo out; stty size"), started)
        relay(pty, proc)
    terminal.wait_for(b"37 101\r\r\n")
    # Not raw: the user's terminal also turns the container's \n into \r\n (ONLCR), which shows the same.
    assert bytes(terminal.screen) == b"out\r\r\n37 101\r\r\n"


# -- the window size ---------------------------------------------------------------------------------------


def test_the_window_size_is_copied_and_a_resize_reaches_the_container(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    user = User(terminal)
    winch_before = signal.getsignal(signal.SIGWINCH)

    def resize(t: Terminal) -> None:
        t.wait_for(b"start 37 101\r\n")
        set_size(t.master, 50, 160)
        os.kill(os.getpid(), signal.SIGWINCH)  # what the kernel sends isodemo (run_driver: the real one)
        t.wait_for(b"winch 50 160\r\n")
        t.type(b"\r")

    with Pty(stdin=terminal.slave, stdout=terminal.slave) as pty:
        assert window_size(pty.master) == (37, 101)
        proc = start_container(pty, python(WINDOW_REPORTER), started)
        user.act(resize)
        relay(pty, proc)
    user.check()
    assert proc.returncode == 0
    assert signal.getsignal(signal.SIGWINCH) == winch_before


def test_window_size_of_a_terminal_and_of_a_pipe(terminal: Terminal) -> None:
    assert window_size(terminal.slave) == (37, 101)
    read_end, write_end = os.pipe()
    try:
        assert window_size(read_end) is None
    finally:
        os.close(read_end)
        os.close(write_end)


# -- raw mode and its undoing -----------------------------------------------------------------------------


def unusual_attributes(fd: int) -> list[Any]:
    """Settings a user may have (`stty -echoctl ixany eof ^B`): the restore must bring back these exactly."""
    mode = attributes(fd)
    mode[0] |= termios.IXANY
    mode[3] &= ~termios.ECHOCTL
    mode[6][termios.VEOF] = b"\x02"
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    return attributes(fd)


def test_raw_mode_is_cfmakeraw() -> None:
    cooked: list[Any] = [
        termios.ICRNL | termios.IXON | termios.IXANY,
        termios.OPOST | termios.ONLCR,
        termios.CS7 | termios.PARENB,
    ]
    cooked += [termios.ICANON | termios.ECHO | termios.ISIG | termios.ECHOCTL, 38400, 38400, [b"\x00"] * 32]
    iflag, oflag, cflag, lflag, _ispeed, _ospeed, cc = cfmakeraw(cooked)
    assert iflag == termios.IXANY  # only what cfmakeraw(3) leaves
    assert oflag == termios.ONLCR and cflag == termios.CS8 and lflag == termios.ECHOCTL
    assert (cc[termios.VMIN], cc[termios.VTIME]) == (1, 0)


def test_attributes_are_restored_byte_for_byte(terminal: Terminal) -> None:
    before = unusual_attributes(terminal.slave)
    with Pty(stdin=terminal.slave, stdout=terminal.slave):
        assert is_raw(terminal.slave)
    assert attributes(terminal.slave) == before


def test_attributes_are_restored_after_an_exception(terminal: Terminal) -> None:
    before = unusual_attributes(terminal.slave)
    with pytest.raises(ZeroDivisionError), Pty(stdin=terminal.slave, stdout=terminal.slave):
        assert is_raw(terminal.slave)
        _ = 1 / 0
    assert attributes(terminal.slave) == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_attributes_are_restored_after_a_signal(terminal: Terminal, signum: int) -> None:
    """As isodemo runs: signals.py turns the signal into Interrupted, which unwinds the Pty."""
    before = unusual_attributes(terminal.slave)
    with signals.interrupts_unwind(), pytest.raises(Interrupted), Pty(stdin=terminal.slave, stdout=terminal.slave):
        assert is_raw(terminal.slave)
        os.kill(os.getpid(), signum)
        time.sleep(5)
    assert attributes(terminal.slave) == before


def test_closing_twice_and_closing_early_are_harmless(terminal: Terminal) -> None:
    before = attributes(terminal.slave)
    pty = Pty(stdin=terminal.slave, stdout=terminal.slave)
    pty.close()  # never opened
    with pty:
        pty.child_has_opened()
        pty.child_has_opened()
        pty.close()
        assert pty.fds() == [] and pty.pump(set()) is False
    assert attributes(terminal.slave) == before


# -- no terminal -----------------------------------------------------------------------------------------


def test_it_without_a_terminal_on_stdin_is_refused_as_docker_does() -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(RunError) as caught:
            Pty(interactive=True, stdin=read_end)
        assert caught.value.message == "the input device is not a TTY"
        assert caught.value.exit_code == ExitCode.RUN_FAILED
        with pytest.raises(RunError):
            check_terminal(True, True, read_end)
        check_terminal(False, True, read_end)  # -t alone: stdin is not relayed
        check_terminal(True, False, read_end)  # -i alone: no pty at all
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stdout_gone_hangs_up_the_containers_terminal(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    """As when a terminal window closes: SIGHUP to the container's session leader; the relay ends."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with Pty(stdin=terminal.slave, stdout=write_end) as pty:
            proc = start_container(pty, sh("echo hello; exec sleep 30"), started)
            result = relay(pty, proc)
    finally:
        os.close(write_end)
    assert proc.returncode == -signal.SIGHUP
    assert False in result.pumps


# -- isodemo started from a shell: keys and their signals ------------------------------------------------


def test_ctrl_c_reaches_the_containers_foreground_command_not_isodemo(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    before = unusual_attributes(terminal.slave)
    seen_raw: list[bool] = []

    def interrupt(t: Terminal) -> None:
        t.wait_for(b"ready\r\n")
        seen_raw.append(is_raw(t.slave))
        t.type(b"\x03")

    user = User(terminal)
    user.act(interrupt)
    # The foreground command says it is ready itself: a key typed before it runs would go to the shell.
    script = 'trap "echo trapped" INT; sh -c "echo ready; exec sleep 30"; echo "sleep ended: $?"'
    assert run_driver(terminal, sh(script), started) == 0, bytes(terminal.screen)
    user.check()
    assert seen_raw == [True]
    # ^C is the container's line discipline echoing the key (ECHOCTL); sleep died of SIGINT (128 + 2).
    terminal.wait_for(b"^Ctrapped\r\nsleep ended: 130\r\n")
    assert attributes(terminal.slave) == before


def test_a_resize_of_the_users_terminal_reaches_the_container(
    terminal: Terminal, started: list[subprocess.Popen[bytes]]
) -> None:
    """The kernel's SIGWINCH to isodemo (the foreground process of the user's terminal), copied to the pty,
    the kernel's SIGWINCH to the container."""

    def resize(t: Terminal) -> None:
        t.wait_for(b"start 37 101\r\n")
        set_size(t.master, 24, 80)
        t.wait_for(b"winch 24 80\r\n")
        t.type(b"\r")

    user = User(terminal)
    user.act(resize)
    assert run_driver(terminal, python(WINDOW_REPORTER), started) == 0, bytes(terminal.screen)
    user.check()


def test_job_control_works_in_the_container(terminal: Terminal, started: list[subprocess.Popen[bytes]]) -> None:
    """An interactive shell in the container: Ctrl-Z stops its foreground job (SIGTSTP from the container's
    line discipline), `fg` gives it the terminal back (SIGCONT), Ctrl-C ends it (SIGINT)."""

    def session(t: Terminal) -> None:
        t.wait_for(b"$ ")
        t.type(b'%s -I -c "$JOB"\r' % sys.executable.encode())
        t.wait_for(b"\r\nzzz\r\n")
        t.type(b"\x1a")
        t.wait_for(b"Stopped")
        t.type(b"fg\r")
        t.wait_for(b"continued\r\n")  # the job has the terminal again: the key below is for it
        t.type(b"\x03")
        t.wait_for(b"$ ")
        t.type(b'echo "status $?"; exit\r')

    user = User(terminal)
    user.act(session)
    job = (
        "import os, signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "signal.signal(signal.SIGCONT, lambda *_: os.write(1, b'continued\\n')); "
        "os.write(1, b'zzz\\n'); time.sleep(30)"
    )
    argv = (BUSYBOX, "env", "-u", "ENV", "PS1=$ ", f"JOB={job}", BUSYBOX, "sh", "-i")
    assert run_driver(terminal, argv, started) == 0, bytes(terminal.screen)
    user.check()
    terminal.wait_for(b"status 130\r\n")


# -- a master made elsewhere: the container's own pty (inside/console.py) ------------------------------------


def test_a_master_given_is_the_one_relayed_and_the_pty_owns_it(terminal: Terminal) -> None:
    """`isodemo run -t` gets the master of a pty of the container's devpts over the channel: the Pty relays
    through it (here a pair of the test's own stands for it), copies the window size onto it, closes it."""
    master, slave = os.openpty()
    try:
        with Pty(stdin=terminal.slave, stdout=terminal.slave, master=master) as pty:
            assert (pty.master, pty.slave, pty.slave_path) == (master, -1, "")
            assert window_size(slave) == (37, 101)
            os.write(slave, b"from the container\n")
            assert pty.pump({master}) is True
            terminal.wait_for(b"from the container")
        with pytest.raises(OSError):
            os.fstat(master)
    finally:
        os.close(slave)


def test_a_refused_pty_closes_the_master_it_was_given() -> None:
    read_end, write_end = os.pipe()
    master, slave = os.openpty()
    try:
        with pytest.raises(RunError):
            Pty(interactive=True, stdin=read_end, master=master)
        with pytest.raises(OSError):
            os.fstat(master)
    finally:
        for fd in (read_end, write_end, slave):
            os.close(fd)
