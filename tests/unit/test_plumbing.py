"""The channel to the Isolated child, error pickling, run ids and option values."""

from __future__ import annotations

import errno
import pickle
import socket
import threading

import pytest

from isodemo import channel, runs, values
from isodemo.errors import KernelError, UsageError


def test_channel_round_trip_of_functions_and_data() -> None:
    left, right = socket.socketpair()
    with left, right:
        big = "x" * 300_000  # larger than a socket buffer: exercises partial reads
        sender = threading.Thread(target=channel.send, args=(left, (channel.CALL, len, (big,), {})))
        sender.start()
        kind, func, args, kwargs = channel.recv(right)
        sender.join()
        assert (kind, func(*args, **kwargs)) == (channel.CALL, 300_000)


def test_channel_reports_a_closed_peer() -> None:
    left, right = socket.socketpair()
    left.close()
    with right, pytest.raises(channel.ChannelClosed):
        channel.recv(right)


def test_isodemo_errors_survive_pickling_with_their_attributes() -> None:
    error = KernelError("unshare(CLONE_NEWPID)", errno.EPERM, "Operation not permitted", "run it with sudo")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, KernelError)
    assert (copy.call, copy.errno, copy.hint, str(copy)) == (error.call, error.errno, error.hint, str(error))


def _through(message: object) -> object:
    """A message sent over a socketpair and received on the other end."""
    left, right = socket.socketpair()
    with left, right:
        channel.send(left, message)
        return channel.recv(right)


def test_plain_messages_keep_their_types() -> None:
    message = (channel.OK, {"a": [1, 2.5, None, True], 3: (b"x", "y", ())}, [], {})
    copy = _through(message)
    assert copy == message
    assert type(copy[1]["a"]) is list and type(copy[1][3]) is tuple and copy[1]["a"][3] is True


def test_errors_cross_the_channel_with_their_attributes() -> None:
    error = KernelError("unshare(CLONE_NEWPID)", errno.EPERM, "Operation not permitted", "run it with sudo")
    kind, copy = _through((channel.ERROR, error))  # type: ignore[misc]
    assert kind == channel.ERROR and isinstance(copy, KernelError)
    assert (copy.call, copy.errno, copy.hint, str(copy)) == (error.call, error.errno, error.hint, str(error))
    os_error = _through(FileNotFoundError(errno.ENOENT, "No such file or directory", "/bin/nope"))
    assert isinstance(os_error, FileNotFoundError) and os_error.filename == "/bin/nope"


def test_what_is_not_plain_data_is_pickled() -> None:
    """A set, an int subclass: pickled (channel_pickle), so they come back as what they were."""
    message = ({1, 2}, errno.EPERM, runs.Run("1a2b3c"))
    copy = _through(message)
    assert isinstance(copy, tuple) and copy[0] == {1, 2} and copy[2] == runs.Run("1a2b3c")


def test_unpicklable_exceptions_become_runtime_errors() -> None:
    class Local(Exception):
        pass

    portable = channel.portable_exception(Local("boom"))
    assert isinstance(portable, RuntimeError) and "Local: boom" in str(portable)


def test_run_names() -> None:
    run = runs.Run("1a2b3c")
    assert run.name == "isodemo-1a2b3c" and len(run.name) <= 15
    assert run.object_name("rootfs") == "isodemo-1a2b3c-rootfs"
    assert run.sysv_key == 0x151A2B3C
    assert runs.run_id_of("isodemo-1a2b3c-rootfs") == "1a2b3c"
    assert runs.run_id_of("isodemo-sleeper") is None
    assert runs.run_id_of("isodemo") is None
    assert len(runs.Run.new().id) == 6


@pytest.mark.parametrize("name", ["web-0", "isodemo-box", "a", "pod.ns.svc", "x" * 63])
def test_good_hostnames(name: str) -> None:
    assert values.hostname(name) == name


@pytest.mark.parametrize("name", ["", "-web", "web-", "a_b", "x" * 65, "a..b", "ünicode"])
def test_bad_hostnames(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        values.hostname(name)
    assert caught.value.exit_code == 2 and "web-0" in (caught.value.hint or "")
