"""The last step of a container's start, in the child: argv[0] found as runc finds it, the environment and
the signal dispositions the command starts with, and execve(2), whose refusals become docker's exit codes
(127: no such command, 126: it cannot be executed).

Run after pivot_root: every path here is the container's.
"""

from __future__ import annotations

import errno
import os
import stat

from isodemo.contexts import suppress
from isodemo.errors import CannotExecute, CommandNotFound, IsodemoError, RunError
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~1.5 ms at start-up (inside/launch.py); mypy treats this name as always true
if TYPE_CHECKING:
    import signal
    from typing import NoReturn

    _Saved = tuple[dict[int, object], set[int | signal.Signals]]  # only for mypy: _signal has no Signals
else:
    import _signal as signal  # the C module: signal.py's enums cost every start ~1.5 ms (signals.py)


def run(argv: tuple[str, ...], env: dict[str, str]) -> NoReturn:
    """Find argv[0], put every signal back to its default, execve; raises why it could not."""
    path = lookup(argv[0], env.get("PATH"))
    saved = default_signals()
    try:
        os.execve(path, list(argv), env)
    except OSError as error:
        restore_signals(saved)
        raise exec_error(path, error) from None


def environment(entries: tuple[str, ...]) -> dict[str, str]:
    """K=V entries as execve's environment; a later entry for the same name wins, as in docker."""
    env: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if sep and name:
            env[name] = value
    return env


def close_on_exec_from(first: int) -> None:
    """Mark every descriptor from `first` on close-on-exec (runc's CloseExecFrom): nothing of the Isolated
    child reaches the command, and the channel stays open until the execve succeeds, to report a failure."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            with suppress(OSError):  # the descriptor listdir itself used, closed by now
                os.set_inheritable(fd, False)


def own_terminal(uid: int) -> None:
    """The pty slave belongs to the container's user, as runc's fixStdioPermissions does: `tty` and
    reopening /dev/console then work for a user other than root.

    Only a terminal of the container's own devpts (/dev/pts, mounted with newinstance; inside/console.py) is
    given away: that pty is reachable only through the container's mount namespace. A descriptor of anything else
    (a pty of the host's /dev/pts, a file) keeps its owner: given to uid N, a host pty could be opened by
    every process of host uid N, to read the container's keystrokes or type into it."""
    try:
        devpts = os.stat("/dev/pts").st_dev
    except OSError:
        return
    for fd in (0, 1, 2):
        info = os.fstat(fd)
        if info.st_dev == devpts and stat.S_ISCHR(info.st_mode) and info.st_uid != uid:
            try:
                os.fchown(fd, uid, info.st_gid)
            except OSError as error:
                if error.errno not in (errno.EINVAL, errno.EPERM):
                    raise


def lookup(name: str, path_variable: str | None) -> str:
    """argv[0] as Go's exec.LookPath finds it (what runc uses, with the container's PATH): a name with a
    slash as it is, otherwise the first executable regular file of that name in a PATH directory."""
    if "/" in name:
        try:
            info = os.stat(name)
        except (FileNotFoundError, NotADirectoryError):
            raise CommandNotFound(
                _('exec: "{name}": stat {name}: no such file or directory', name=name),
                _("no such file in the container's root filesystem"),
            ) from None
        except PermissionError:
            raise CannotExecute(_('exec: "{name}": permission denied', name=name)) from None
        if stat.S_ISDIR(info.st_mode):
            raise CannotExecute(_('exec: "{name}": is a directory', name=name))
        if not info.st_mode & 0o111:
            raise CannotExecute(
                _('exec: "{name}": permission denied', name=name), _("the file has no execute permission bit")
            )
        return name
    for directory in (path_variable or "").split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) and info.st_mode & 0o111:
            return candidate
    raise CommandNotFound(
        _('exec: "{name}": executable file not found in $PATH', name=name),
        _("PATH in the container is {path}", path=path_variable or '""'),
    )


def exec_error(path: str, error: OSError) -> IsodemoError:
    """Why execve(2) refused a file that lookup found, as docker's exit codes tell it."""
    code = error.errno or 0
    if code in (errno.ENOENT, errno.ENOTDIR):
        return CommandNotFound(
            _("exec {path}: no such file or directory", path=path),
            _("the file is there: its interpreter (the #! line) or its dynamic loader is not in the container"),
        )
    if code == errno.ENOEXEC:
        return CannotExecute(
            _("exec {path}: exec format error", path=path),
            _("not a program for this machine, or a script without a #! line"),
        )
    if code in (errno.EACCES, errno.EPERM):
        return CannotExecute(_("exec {path}: permission denied", path=path))
    if code in (errno.EISDIR, errno.ETXTBSY, errno.ELIBBAD, errno.ELOOP):
        return CannotExecute(_("exec {path}: {reason}", path=path, reason=os.strerror(code)))
    return RunError(_("exec {path}: {reason}", path=path, reason=os.strerror(code)))


def default_signals() -> _Saved:
    """Every signal back to its default action and unblocked: a disposition set to SIG_IGN survives execve
    (the Isolated child ignores SIGINT and SIGTERM), and so does the mask. Returns what it replaced."""
    handlers: dict[int, object] = {}
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            handlers[sig] = signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # reserved by the C library
            continue
    mask = signal.pthread_sigmask(signal.SIG_SETMASK, [])
    return handlers, mask


def restore_signals(saved: _Saved) -> None:
    handlers, mask = saved
    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)  # type: ignore[arg-type]
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
