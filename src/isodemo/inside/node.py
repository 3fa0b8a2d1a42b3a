"""kube-proxy's part of the node (cluster/node.py): `nft` run by the node's Isolated child, in the node's network
namespace, so that the ruleset it changes is that namespace's and never the host's. The node's links are made
by the same child with inside/net.py's node_* functions (the only module inside/ that may use netlink).
"""

from __future__ import annotations

import functools
import signal
import subprocess

from isodemo.kernel import process


def nft(nft_binary: str, script: str) -> str:
    """`nft -f -` of `script` in this namespace, as one transaction; "" or nft's error."""
    result = subprocess.run(
        [nft_binary, "-f", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=functools.partial(process.set_pdeathsig, signal.SIGKILL),
    )
    return "" if result.returncode == 0 else result.stderr.strip()


def nft_list(nft_binary: str, *what: str) -> str:
    """`nft list ...` in this namespace."""
    result = subprocess.run(
        [nft_binary, "list", *what],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=functools.partial(process.set_pdeathsig, signal.SIGKILL),
    )
    return result.stdout if result.returncode == 0 else result.stderr.strip()
