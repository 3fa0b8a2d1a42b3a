"""Exit codes and the one exception family isodemo raises on purpose.

Every layer raises an `IsodemoError` subclass carrying a hint for the learner; only `cli.py` turns it into
an exit code (INTERFACE.md, "Exit codes"). docs/exit-codes.md lists the same table.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Iterator


class _Codes(type):
    """ExitCode's type: iterating the class gives its codes, as an IntEnum's would (the docs' table, the tests)."""

    def __iter__(cls) -> Iterator[int]:
        return iter([value for name, value in vars(cls).items() if name.isupper()])


class ExitCode(metaclass=_Codes):
    """Plain ints, not an IntEnum: `enum` costs every start ~1.5 ms (benchmarks/RESULTS.md), and nothing here
    needs more than the number."""

    OK = 0
    OBSERVATION_FAILED = 1
    USAGE = 2
    MISSING_FEATURE = 3
    INTERNAL = 70  # EX_SOFTWARE from sysexits.h: a bug in isodemo, not in the machine or the input
    NEEDS_ROOT = 77
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process Ctrl-C ended; SIGTERM, SIGHUP, SIGQUIT too
    OUTPUT_CLOSED = 141  # 128 + SIGPIPE: the reader of stdout went away (`isodemo pid | head -3`, `less` quit)
    # `isodemo run` only, as `docker run`: the command's own status, or one of these when it has none
    RUN_FAILED = 125  # isodemo itself failed (a bad option, a bad image, the machine)
    CANNOT_EXECUTE = 126  # the command exists but cannot be executed (EACCES, ENOEXEC)
    COMMAND_NOT_FOUND = 127  # the command does not exist in the container (ENOENT)


class IsodemoError(Exception):
    """An error a learner can act on: a message, and a hint saying what to do about it."""

    exit_code: int = ExitCode.OBSERVATION_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross the Isolated child's channel as pickles; keep every attribute, whatever __init__ takes.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type[IsodemoError], args: tuple[object, ...], state: dict[str, object]) -> IsodemoError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class UsageError(IsodemoError):
    """A bad command line: unknown command, an option value that cannot be parsed."""

    exit_code = ExitCode.USAGE


class MissingFeature(IsodemoError):
    """This machine lacks a kernel feature, a cgroup controller or a tool the demo needs."""

    exit_code = ExitCode.MISSING_FEATURE


class NotLinux(MissingFeature):
    """Namespaces and cgroups are Linux kernel features."""


class NeedsRoot(IsodemoError):
    """The demo needs privileges that this process does not have."""

    exit_code = ExitCode.NEEDS_ROOT


class KernelError(IsodemoError):
    """A syscall failed. Keeps the errno so callers can let through exactly the codes they expect."""

    exit_code = ExitCode.MISSING_FEATURE

    def __init__(self, call: str, errno_: int, message: str, hint: str | None = None) -> None:
        from isodemo.i18n import _

        super().__init__(_("{call} failed: {reason}", call=call, reason=message), hint)
        self.call = call
        self.errno = errno_


class RunError(IsodemoError):
    """`isodemo run` could not run the container: exit 125, as `docker run` (bad option, bad image, machine)."""

    exit_code = ExitCode.RUN_FAILED


class ImageError(RunError):
    """An image that cannot be used: a truncated or malformed tarball, a digest mismatch, a path escaping a
    layer. Nothing of it is left in the store."""


class CommandNotFound(RunError):
    """The container's command does not exist in its root filesystem (execve: ENOENT)."""

    exit_code = ExitCode.COMMAND_NOT_FOUND


class CannotExecute(RunError):
    """The container's command exists but cannot be executed (execve: EACCES, ENOEXEC, EISDIR)."""

    exit_code = ExitCode.CANNOT_EXECUTE


class Interrupted(KeyboardInterrupt):
    """Raised by isodemo's signal handler (signals.py), so teardown runs exactly as it does for Ctrl-C."""

    def __init__(self, signame: str = "SIGINT") -> None:
        super().__init__(signame)
        self.signame = signame


class OutputClosed(BaseException):
    """stdout stopped taking output (its reader quit, the terminal hung up): stop, clean up, exit quietly.

    Not an Exception, like KeyboardInterrupt: no demo's `except Exception` may swallow it and carry on
    talking to nobody."""
