"""The host-side objects a density run shares among its containers, each owned by the run's context:
the directory tree in the image store, the parent memory cgroup, the bridge with the subnet's gateway."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from isodemo.container import overlay
from isodemo.context import DemoContext
from isodemo.density import plan
from isodemo.images import busybox
from isodemo.images.store import Store


def directories(ctx: DemoContext) -> tuple[str, str]:
    """<store>/containers/isodemo-<run>-density (noted in the run record before it exists, so that
    `isodemo cleanup` removes it after a SIGKILL), with exec/isodemo-<run> -> /bin/busybox in it: a one-file
    layer over the image. Returns the directory and overlayfs's lowerdir= (highest layer first)."""
    store = Store()
    image = busybox.ensure(store)
    base = os.path.join(store.containers_dir, ctx.run.object_name("density"))
    ctx.run.note("container", base)
    ctx.on_exit(overlay.remove, base)
    os.makedirs(store.containers_dir, mode=0o700, exist_ok=True)
    os.chmod(store.containers_dir, 0o700)
    os.mkdir(base, 0o711)
    exec_layer = os.path.join(base, "exec")
    os.mkdir(exec_layer, 0o755)
    os.symlink("/bin/busybox", os.path.join(exec_layer, ctx.run.name))
    return base, ":".join([exec_layer, *reversed(image.layers)])


def bridge(ctx: DemoContext, ipr: Any, count: int) -> tuple[Any, ipaddress.IPv4Network, str]:
    """The bridge isodemo-<run>s (s for switch: the letter after the id is no hex digit) with .1 of a free
    subnet big enough for `count` (the same clash checks as `isodemo net`), and a MAC of its own: a bridge
    otherwise takes the lowest MAC among its ports, and the containers' neighbour entries for the gateway
    would go stale as ports come."""
    from isodemo.net import addressing, links

    rid = ctx.run.id
    prefixlen = plan.prefixlen_for(count)
    with addressing.claimed_subnet(rid, lambda: links.host_networks(ipr), prefixlen=prefixlen) as subnet:
        made = ctx.own(links.Bridge(ipr, f"isodemo-{rid}s"))
        mac = f"02:{rid[0:2]}:{rid[2:4]}:{rid[4:6]}:ff:ff"
        ipr.link("set", index=made.index, address=mac)
        made.add_address(str(addressing.host_address(subnet, 1)), subnet.prefixlen)
    made.up()
    return made, subnet, mac


def bridge_ports(name: str) -> list[str]:
    """`ls /sys/class/net/NAME/brif`: the links whose master the bridge is."""
    try:
        return os.listdir(f"/sys/class/net/{name}/brif")
    except FileNotFoundError:
        return []
