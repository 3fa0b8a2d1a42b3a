"""Open file descriptors in channel messages (kernel/fdpass.py): how the child hands the master of the
container's terminal to the parent. Two ends of a socketpair in one process stand for parent and child."""

from __future__ import annotations

import marshal
import os
import pickle
import socket
import struct
import threading

import pytest

from isodemo import channel
from isodemo.kernel import fdpass

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def test_a_descriptor_travels_as_itself_and_changes_hands() -> None:
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    with left, right:
        channel.send(left, (channel.OK, (fdpass.Descriptor(write_end), ["steps"])))
        with pytest.raises(OSError):
            os.fstat(write_end)  # the sender's copy is closed once sent
        kind, (received, steps) = channel.recv(right)
    try:
        assert (kind, steps) == (channel.OK, ["steps"])
        assert isinstance(received, fdpass.Descriptor)
        assert not os.get_inheritable(received.fd)  # close-on-exec (MSG_CMSG_CLOEXEC)
        os.write(received.fd, b"same pipe")
        assert os.read(read_end, 100) == b"same pipe"
    finally:
        os.close(received.fd)
        os.close(read_end)


def test_a_descriptor_in_a_message_larger_than_the_socket_buffer() -> None:
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    big = "x" * 300_000
    with left, right:
        sender = threading.Thread(target=channel.send, args=(left, (big, fdpass.Descriptor(write_end), big)))
        sender.start()
        first, received, last = channel.recv(right)
        sender.join()
    try:
        assert first == last == big
        os.write(received.fd, b"!")
        assert os.read(read_end, 1) == b"!"
    finally:
        os.close(received.fd)
        os.close(read_end)


def test_the_same_descriptor_twice_is_sent_once() -> None:
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    descriptor = fdpass.Descriptor(write_end)
    with left, right:
        channel.send(left, [descriptor, descriptor])
        first, second = channel.recv(right)
    assert first.fd == second.fd
    os.close(first.fd)
    os.close(read_end)


def test_descriptors_no_message_names_are_closed() -> None:
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    with left, right:
        payload = marshal.dumps("plain")
        fdpass.sendmsg(left, struct.pack("!I", len(payload)) + payload, [write_end])
        os.close(write_end)
        before = open_fds()
        assert channel.recv(right) == "plain"
        assert open_fds() == before
    os.close(read_end)


def test_a_descriptor_pickled_outside_a_channel_is_refused() -> None:
    with pytest.raises(TypeError, match="channel"):
        pickle.dumps(fdpass.Descriptor(0))
