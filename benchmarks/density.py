"""Density, side by side: N containers made by a shell loop of `ip` and `unshare` (the reference), then by
`isodemo bench --density N`, in one run; prints both and the ratio. Needs root.

    sudo python benchmarks/density.py [--count 1000] [--settle 30]

The shell loop makes, per container, what isodemo does: a memory cgroup with a limit (v1 or v2), upper/work/
merged directories, a named network namespace with a veth on one bridge (address, lo and eth0 up, the default
route), then `unshare --pid --mount --uts --ipc --fork` into it, which mounts the overlay of isodemo's busybox
image and execs `chroot merged sleep` as PID 1. The time of each container's end of setup is printed by the
loop, so its deciles come out as isodemo's do. Teardown: kill every sleep, `ip netns delete` each, delete the
bridge, rmdir the cgroups, remove the directories (and /run/netns with the mount `ip netns add` makes of it,
when it was not there before). Everything is named isodemo-<id>-ref* and removed at the
end, however the script ends; the image store is a temporary one under /var/tmp (ISODEMO_STORE).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from isodemo.density import plan
from isodemo.net import addressing, links

SUBNET = "10.200.252"  # a /22 from 10.200.252.0: checked against the host's routes before use


def _isodemo(*args: str, store: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "isodemo", *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ISODEMO_STORE": store},
    )
    parsed: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return parsed


def _memory_cgroup_parent() -> tuple[str, str]:
    """Where the reference's cgroups go: under this process's own v1 memory cgroup, or /sys/fs/cgroup/isodemo."""
    if os.path.isdir("/sys/fs/cgroup/memory"):
        with open("/proc/self/cgroup") as f:
            own = next(line.split(":", 2)[2].strip() for line in f if ":memory:" in line)
        return os.path.join("/sys/fs/cgroup/memory", own.lstrip("/")), "memory.limit_in_bytes"
    os.makedirs("/sys/fs/cgroup/isodemo", exist_ok=True)
    with open("/sys/fs/cgroup/isodemo/cgroup.subtree_control", "w") as f:
        f.write("+memory")
    return "/sys/fs/cgroup/isodemo", "memory.max"


def _script(count: int, tag: str, work: str, lower: str, cgroup: str, limit_file: str) -> str:  # noqa: PLR0917
    bridge = f"{tag}s"
    start = [
        "set -e",
        f"ip link add {bridge} type bridge",
        f"ip addr add {SUBNET}.1/22 dev {bridge}",
        f"ip link set {bridge} up",
        f"mkdir {cgroup}/{tag}-ref",
    ]
    for i in range(count):
        ns, veth, cg, d = f"{tag}-ref{i}", f"ref{tag[-6:]}{i:04x}", f"{cgroup}/{tag}-ref/c{i}", f"{work}/c{i}"
        host = 2 + i
        address = f"10.200.{252 + host // 256}.{host % 256}"
        start += [
            f"mkdir {cg} && echo {plan.MEMORY_LIMIT} > {cg}/{limit_file}",
            f"mkdir -p {d}/upper {d}/work {d}/merged",
            f"ip netns add {ns}",
            f"ip link add {veth} type veth peer name eth0 netns {ns}",
            f"ip link set {veth} master {bridge} up",
            f"ip -n {ns} addr add {address}/22 dev eth0",
            f"ip -n {ns} link set eth0 up",
            f"ip -n {ns} link set lo up",
            f"ip -n {ns} route add default via {SUBNET}.1",
            f"sh -c 'echo $$ > {cg}/cgroup.procs; exec ip netns exec {ns} unshare --pid --mount --uts --ipc --fork "
            f'sh -c "mount -t overlay overlay -o lowerdir={lower},upperdir={d}/upper,workdir={d}/work {d}/merged '
            f"&& exec chroot {d}/merged /bin/busybox sleep 2147483647\"' >/dev/null 2>&1 &",
            "date +%s.%N",
        ]
    return "\n".join(start)


def reference(count: int, store: str) -> dict[str, object]:
    from isodemo.images import busybox
    from isodemo.images.store import Store

    os.environ["ISODEMO_STORE"] = store
    image = busybox.ensure(Store(store))
    lower = ":".join(reversed(image.layers))
    tag = f"isodemo-{os.getpid() & 0xFFFFFF:06x}"
    work = tempfile.mkdtemp(prefix=f"{tag}-ref-", dir="/var/tmp")
    cgroup, limit_file = _memory_cgroup_parent()
    with links.open_host() as ipr:
        clash = addressing.overlapping(ipaddress.ip_network(f"{SUBNET}.0/22"), links.host_networks(ipr))
    if clash:
        raise SystemExit(f"{SUBNET}.0/22 overlaps {clash}, routed on this host already: not touching it")
    start = _script(count, tag, work, lower, cgroup, limit_file)
    netns_dir_was_there = os.path.isdir("/run/netns")
    result: dict[str, object] = {}
    try:
        began = time.time()
        out = subprocess.run(["sh", "-s"], input=start, capture_output=True, text=True, check=True).stdout
        finished = sorted(float(line) for line in out.split())
        by_decile = plan.deciles(finished, began)
        result = {
            "start_seconds": round(finished[-1] - began, 3),
            "per_container_ms_by_decile": by_decile,
            "growth": plan.growth(by_decile),
        }
    finally:
        t = time.monotonic()
        try:
            _teardown(count, tag, work, cgroup)
            result["teardown_seconds"] = round(time.monotonic() - t, 3)
        finally:
            if not netns_dir_was_there:  # `ip netns add` made /run/netns, bind-mounted on itself, shared: undone
                subprocess.run(["umount", "/run/netns"], capture_output=True, check=False)
                with contextlib.suppress(OSError):
                    os.rmdir("/run/netns")
    return result


def _teardown(count: int, tag: str, work: str, cgroup: str) -> None:
    """Every process in the reference's cgroups killed by pid (again, until each cgroup can be removed: the
    last `sh -c ... &` may still be starting), the namespaces, bridge, cgroups and directories."""
    parent = f"{cgroup}/{tag}-ref"
    left = [f"{parent}/c{i}" for i in range(count)]
    deadline = time.monotonic() + 30
    while left and time.monotonic() < deadline:
        for path in list(left):
            try:
                with open(f"{path}/cgroup.procs") as f:
                    for pid in f.read().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), 9)
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue  # members still dying (or zombies not yet reaped): next round
            left.remove(path)
        if left:
            time.sleep(0.01)
    commands = [f"ip netns delete {tag}-ref{i} 2>/dev/null" for i in range(count)]
    commands += [f"ip link delete {tag}s 2>/dev/null"]
    subprocess.run(["sh", "-s"], input="\n".join(commands), text=True, check=False)
    with contextlib.suppress(OSError):
        os.rmdir(parent)
    subprocess.run(["umount", "-R", "-l", work], capture_output=True, check=False)
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=30, help="seconds between the two (default 30)")
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="isodemo-store-density-", dir="/var/tmp")
    os.chmod(store, 0o711)
    try:
        ref = reference(args.count, store)
        # The kernel destroys the reference's namespaces in a work queue after `ip netns delete` returns, for
        # seconds, holding the locks a new namespace needs: isodemo started at once would pay for it.
        time.sleep(args.settle)
        ours = _isodemo("bench", "--density", str(args.count), store=store)
        facts = ours.get("facts", {})
        assert isinstance(facts, dict)
        rows = [("start_seconds", "s"), ("growth", "x"), ("teardown_seconds", "s")]
        print(f"{'':20} {'shell loop':>12} {'isodemo':>12} {'ratio':>8}")
        for key, unit in rows:
            a, b = float(str(ref.get(key, 0))), float(str(facts.get(key, 0)))
            print(f"{key:20} {a:>11.3f}{unit} {b:>11.3f}{unit} {a / b if b else 0:>7.2f}x")
        print("shell deciles (ms):", ref.get("per_container_ms_by_decile"))
        print("isodemo deciles (ms):", facts.get("per_container_ms_by_decile"))
        print("isodemo memory per container:", facts.get("memory_per_container_bytes"))
        print("isodemo leftovers:", facts.get("leftovers"), "error:", ours.get("error"))
    finally:
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
