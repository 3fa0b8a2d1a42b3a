"""A pod of a ReplicaSet on the node: a pinned network namespace wired to cni0, and one busybox container.

    1. a network namespace, pinned at /run/netns/isodemo-<run>-<pod>: the pod's IP lives as long as the pin,
       whatever its container does (a restarted container gets the same address)
    2. CNI ADD from the node: a veth from cni0, eth0 inside with the next address (node.py)
    3. the container: `isodemo run`'s runtime (pod/containers.py) joining that network namespace, with its own
       mount, pid, ipc and uts namespaces, its own cgroup, busybox's httpd as its command

Simplification, named: `isodemo pod` shows the sandbox's pause process; these pods have none (the pin holds
the network namespace, and each pod has one container, so there is nothing else to share).
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from isodemo.pod.containers import PodContainer

HTTP_PORT = 8080


def serve_command(body: str, port: int = HTTP_PORT, cgi: dict[str, str] | None = None) -> tuple[str, ...]:
    """busybox httpd answering GET / with `body` (and a CGI script per name in `cgi`: /cgi-bin/NAME)."""
    script = ["mkdir -p /www/cgi-bin", f"echo '{body}' > /www/index.html"]
    for name, text in (cgi or {}).items():
        script += [
            f"printf '%s\\n' '#!/bin/sh' {_quote_lines(text)} > /www/cgi-bin/{name}",
            f"chmod +x /www/cgi-bin/{name}",
        ]
    script.append(f"exec httpd -f -p {port} -h /www")
    return ("sh", "-c", " && ".join(script))


def _quote_lines(text: str) -> str:
    return " ".join("'" + line.replace("'", "'\\''") + "'" for line in text.splitlines())


def pod_name(owner: str) -> str:
    """A ReplicaSet's pod name: <owner>-<5 random characters>, from the alphabet the apiserver's
    generateName uses (no vowels, no digits that look like letters)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return owner + "-" + "".join(secrets.choice(alphabet) for _ in range(5))


class Pod:
    """A running pod: its name, labels, IP, pinned network namespace and its (one) container."""

    def __init__(self, ctx: Any, node: Any, name: str, labels: dict[str, str] | None = None) -> None:
        self.ctx = ctx
        self.node = node
        self.name = name
        self.labels = dict(labels or {})
        self.stack = contextlib.ExitStack()
        ctx.enter(self.stack)  # ends with the demo at the latest; delete() ends it before
        self.address = ""
        self.netns_path = ""
        self.shell: list[str] = []
        self.container: PodContainer | None = None
        self.restarts = 0

    def create_sandbox(self) -> None:
        """Steps 1 and 2: the pinned namespace and CNI ADD."""
        from isodemo.context import DemoContext
        from isodemo.net import netns

        own = DemoContext(self.ctx.run, self.ctx.host, self.stack, False, self.ctx.options)
        holder = own.isolated(["net"])
        pin = own.own(netns.NamedNetns(self.ctx.run.object_name(self.name), holder.pid))
        self.netns_path = pin.path
        self.stack.callback(self._cni_del)  # before the veth exists: a signal in between cannot leave it
        self.address, commands = self.node.attach(self.name, pin.path, pin.name)
        holder.stop()  # the pin keeps the namespace
        self.shell = [f"ip netns add {pin.name}", *commands]

    def _cni_del(self) -> None:
        with contextlib.suppress(Exception):  # the node may be gone already: its links went with it
            self.node.detach(self.name)

    def start(self, command: tuple[str, ...], **resources: Any) -> PodContainer:
        """Step 3: the container, in the pod's network namespace (again after a restart: same IP)."""
        from isodemo.context import DemoContext
        from isodemo.pod import containers

        own = DemoContext(self.ctx.run, self.ctx.host, self.stack, False, self.ctx.options)
        self.container = containers.start(
            own, self.name, command, join={"net": self.netns_path}, hostname=self.name, **resources
        )
        return self.container

    @property
    def pid(self) -> int:
        return self.container.pid if self.container else 0

    def kill_container(self) -> int:
        """SIGKILL the container and remove its cgroup, overlay and directories; the pod's IP stays. Its exit
        code (137)."""
        container, self.container = self.container, None
        return container.kill() if container else 0

    def delete(self) -> None:
        """The whole pod: its container, CNI DEL, the pin (and with it the namespace)."""
        self.container = None
        self.stack.close()
