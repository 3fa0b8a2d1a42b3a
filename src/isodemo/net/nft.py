"""nftables through `nft -j`: the JSON form of the ruleset (libnftables' own interface, man 5 libnftables-json).

Why not pyroute2? Its nftables support covers only part of the expressions (no nat statements in 0.9), and
`nft -j` is what the nftables project offers as the stable programmatic interface; the learner can replay
each rule with the `nft` text shown beside it. One table per run (`ip isodemo-<run>`), deleted as a whole.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from types import TracebackType
from typing import Any

from isodemo.errors import MissingFeature


def nft(*commands: dict[str, Any]) -> None:
    """Apply a batch of JSON commands atomically (one transaction, like `nft -f`)."""
    binary = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if binary is None:
        raise MissingFeature("`nft` is not installed", "sudo apt install nftables")
    result = subprocess.run(
        [binary, "-j", "-f", "-"],
        input=json.dumps({"nftables": list(commands)}),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise MissingFeature(
            f"nft refused the rules: {result.stderr.strip()}",
            "the kernel needs nf_tables with nat (modprobe nft_nat nft_chain_nat)",
        )


def list_table(name: str) -> dict[str, Any]:
    binary = shutil.which("nft") or "/usr/sbin/nft"
    out = subprocess.run([binary, "-j", "list", "table", "ip", name], capture_output=True, text=True, check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {"nftables": []}


def list_table_text(name: str) -> str:
    binary = shutil.which("nft") or "/usr/sbin/nft"
    return subprocess.run([binary, "list", "table", "ip", name], capture_output=True, text=True, check=False).stdout


def table_names() -> list[str]:
    binary = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if binary is None:
        return []
    out = subprocess.run([binary, "-j", "list", "tables"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return []
    return [item["table"]["name"] for item in json.loads(out.stdout)["nftables"] if "table" in item]


def delete_table(name: str) -> None:
    nft({"delete": {"table": {"family": "ip", "name": name}}})


class NatTable:
    """`table ip <name>` with a prerouting, an output and a postrouting nat chain; removed on exit."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> NatTable:
        chains = [("prerouting", "prerouting", -100), ("output", "output", -100), ("postrouting", "postrouting", 100)]
        nft(
            {"add": {"table": {"family": "ip", "name": self.name}}},
            *(
                {
                    "add": {
                        "chain": {
                            "family": "ip",
                            "table": self.name,
                            "name": chain,
                            "type": "nat",
                            "hook": hook,
                            "prio": prio,
                            "policy": "accept",
                        }
                    }
                }
                for chain, hook, prio in chains
            ),
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.name in table_names():
            delete_table(self.name)

    def add_rule(self, chain: str, expr: list[dict[str, Any]]) -> None:
        nft({"add": {"rule": {"family": "ip", "table": self.name, "chain": chain, "expr": expr}}})

    def publish(self, address: str, port: int, to_address: str, to_port: int) -> list[str]:
        """DNAT address:port to to_address:to_port, for packets from elsewhere and from this host itself."""
        match: list[dict[str, Any]] = [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": address}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": port}},
            {"dnat": {"addr": to_address, "port": to_port}},
        ]
        for chain in ("prerouting", "output"):
            self.add_rule(chain, match)
        text = f"ip daddr {address} tcp dport {port} dnat to {to_address}:{to_port}"
        return [f"nft add rule ip {self.name} {chain} {text}" for chain in ("prerouting", "output")]

    def masquerade(self, subnet: str, bridge: str) -> str:
        """Rewrite the source of the containers' packets leaving by any other interface (a runtime's SNAT)."""
        network, prefix = subnet.split("/")
        self.add_rule(
            "postrouting",
            [
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                        "right": {"prefix": {"addr": network, "len": int(prefix)}},
                    }
                },
                {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": bridge}},
                {"masquerade": None},
            ],
        )
        return f'nft add rule ip {self.name} postrouting ip saddr {subnet} oifname != "{bridge}" masquerade'
