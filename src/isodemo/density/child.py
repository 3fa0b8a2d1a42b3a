"""What one density container's first process does between clone(2) and execve(2), in this order:

    prctl(PR_SET_PDEATHSIG, SIGKILL)     it dies with the process that cloned it, even after a SIGKILL of isodemo
    mkdir + echo 0 > tasks/cgroup.procs  its own memory cgroup with a limit (through the cgroups backend)
    mkdir upper, work, merged            its overlay's directories
    mount --make-rprivate / ; mount -t overlay   in its own mount namespace: the host never sees the overlay
    sethostname
    one rtnetlink batch on a socket of the host's namespace (given by the zygote): the veth pair, its host end
        on the bridge and up, eth0 born in this namespace; the host's permanent neighbour entry for eth0
    one batch on a socket of its own namespace: lo up, eth0 address and up, the default route, the gateway's
        neighbour entry
    chroot(merged); execve("/isodemo-<run>", ["sleep", ...])   busybox, through a symlink whose name is the
        run's, so `ps` (and `isodemo cleanup`) sees isodemo-<run> as its command

It is PID 1 of its new PID namespace from the start: the zygote cloned it with CLONE_NEWPID among the flags.
Nothing here returns: execve replaces it, or it writes why not to its pipe and exits 127.
"""

from __future__ import annotations

import _socket as socket
import itertools
import os
import time

from isodemo.cgroups import Cgroup
from isodemo.density import rtnl
from isodemo.kernel import mount, process

STAGES = ("cgroup", "overlay", "host_netlink", "inside_netlink")  # what `become` times, in order
SLEEP_SECONDS = "2147483647"
ENV = {"PATH": "/bin:/usr/bin:/sbin:/usr/sbin"}


class Spec:
    """One container's plan, computed by the zygote before the clone."""

    __slots__ = ("address", "cgroup", "dirs", "hostname", "index", "mac", "veth")

    def __init__(  # noqa: PLR0917 - one plan, built in one place (the zygote)
        self, index: int, veth: str, mac: str, address: str, hostname: str, dirs: str, cgroup: Cgroup
    ) -> None:
        self.index = index
        self.veth = veth
        self.mac = mac
        self.address = address
        self.hostname = hostname
        self.dirs = dirs
        self.cgroup = cgroup


class Shared:
    """What every container of the run shares: the bridge, the subnet, the image's layers."""

    __slots__ = ("bridge_index", "bridge_mac", "exec_name", "gateway", "lower", "memory_limit", "prefixlen")

    def __init__(  # noqa: PLR0917 - one plan, built in one place (the zygote)
        self,
        bridge_index: int,
        bridge_mac: str,
        gateway: str,
        prefixlen: int,
        lower: str,
        exec_name: str,
        memory_limit: int,
    ) -> None:
        self.bridge_index = bridge_index
        self.bridge_mac = bridge_mac
        self.gateway = gateway
        self.prefixlen = prefixlen
        self.lower = lower  # overlayfs lowerdir=, highest first
        self.exec_name = exec_name
        self.memory_limit = memory_limit


def become(spec: Spec, shared: Shared, host_sock: socket.socket, report_fd: int) -> None:
    """Set up and exec; on any failure, the reason goes to `report_fd` and the process exits. Before the
    execve, one line "T" and the nanoseconds of each stage (STAGES) goes there: where the time went."""
    marks = [time.monotonic_ns()]
    try:
        process.set_pdeathsig()
        spec.cgroup.create()
        spec.cgroup.set_memory_limit(shared.memory_limit)
        for path in spec.cgroup.self_join_files():
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        marks.append(time.monotonic_ns())
        upper, work, merged = (os.path.join(spec.dirs, name) for name in ("upper", "work", "merged"))
        os.mkdir(spec.dirs, 0o711)
        for directory in (upper, work, merged):
            os.mkdir(directory, 0o755)
        mount.make_rprivate("/")
        mount.mount("overlay", merged, "overlay", 0, f"lowerdir={shared.lower},upperdir={upper},workdir={work}")
        process.sethostname(spec.hostname)
        marks.append(time.monotonic_ns())
        _no_ipv6()
        netns = os.open("/proc/self/ns/net", os.O_RDONLY)
        host = rtnl.Batch()
        host.veth(
            spec.veth, "eth0", master=shared.bridge_index, netns_fd=netns, peer_index=rtnl.ETH0_INDEX, mac=spec.mac
        )
        host.up_without_ipv6(spec.veth)
        host.neighbour(shared.bridge_index, spec.address, spec.mac)
        host.send(host_sock)
        host_sock.close()
        os.close(netns)
        marks.append(time.monotonic_ns())
        inside = rtnl.Batch()
        inside.up(rtnl.LO_INDEX, "ip link set lo up")
        inside.address(rtnl.ETH0_INDEX, spec.address, shared.prefixlen)
        inside.up(rtnl.ETH0_INDEX, "ip link set eth0 up")
        inside.default_route(shared.gateway)
        inside.neighbour(rtnl.ETH0_INDEX, shared.gateway, shared.bridge_mac)
        sock = rtnl.open_socket()
        inside.send(sock)
        sock.close()
        os.chroot(merged)
        os.chdir("/")
        marks.append(time.monotonic_ns())
        os.write(report_fd, ("T " + " ".join(str(b - a) for a, b in itertools.pairwise(marks)) + "\n").encode())
        os.execve(f"/{shared.exec_name}", ["sleep", SLEEP_SECONDS], ENV)
    except BaseException as error:  # a child never returns into the zygote's code
        try:
            os.write(report_fd, f"{type(error).__name__}: {error}".encode()[:4000])
        finally:
            os._exit(127)


def _no_ipv6() -> None:
    """`sysctl -w net.ipv6.conf.{all,default}.disable_ipv6=1` in this new network namespace (/proc/sys/net is
    the caller's namespace's): eth0 then sends no IPv6 neighbour discovery or MLD, which the bridge would
    flood to every port, a cost that grows with the number of containers."""
    for scope in ("all", "default"):
        try:
            fd = os.open(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", os.O_WRONLY)
        except FileNotFoundError:  # a kernel without IPv6
            return
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
