"""nftables through `nft -j`: the JSON form of the ruleset (libnftables' own interface, man 5 libnftables-json).

Why not pyroute2? Its nftables support covers only part of the expressions (no nat statements in 0.9), and
`nft -j` is what the nftables project offers as the stable programmatic interface; the learner can replay
each rule with the `nft` text shown beside it. One table per run (`ip isodemo-<run>`), deleted as a whole.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import signal
import subprocess
import time
from typing import Any

from isodemo import host as hostinfo
from isodemo import testpoints
from isodemo.errors import MissingFeature
from isodemo.i18n import _
from isodemo.kernel import process
from isodemo.net import Resource


def nft(*commands: dict[str, Any]) -> None:
    """Apply a batch of JSON commands atomically (one transaction, like `nft -f`).

    The `nft` process dies with isodemo (PR_SET_PDEATHSIG): an isodemo killed while nft runs must not leave
    it to commit a table after `isodemo cleanup` has looked, where no run record would vouch for it."""
    binary = hostinfo.find_tool("nft")
    result = subprocess.run(
        [binary, "-j", "-f", "-"],
        input=json.dumps({"nftables": list(commands)}),
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=functools.partial(_die_with, os.getpid()),  # isodemo forks only single-threaded
    )
    if result.returncode != 0:
        raise MissingFeature(
            _("nft refused the rules: {error}", error=result.stderr.strip()),
            _("the kernel needs nf_tables with nat (modprobe nft_nat nft_chain_nat)"),
        )


def _die_with(parent: int) -> None:
    """In the forked nft, before its exec: SIGKILL when isodemo dies (or at once, if it already has)."""
    process.set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _list(*what: str) -> str | None:
    """`nft list ...`; None without nft. A listing can fail while other nft transactions change the ruleset
    (several runs and cleanups at once): asked again, up to three times, before it counts as failed."""
    binary = hostinfo.which("nft")
    if binary is None:
        return None
    for attempt in range(3):
        out = subprocess.run([binary, *what], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            return out.stdout
        time.sleep(0.05 * (attempt + 1))
    return None


def list_table(name: str) -> dict[str, Any]:
    """`nft -j list table ip NAME` parsed; `{"nftables": []}` when there is no such table."""
    out = _list("-j", "list", "table", "ip", name)
    parsed: dict[str, Any] = json.loads(out) if out else {"nftables": []}
    return parsed


def list_table_text(name: str) -> str:
    return _list("list", "table", "ip", name) or ""


def table_names() -> list[str]:
    out = _list("-j", "list", "tables")
    if not out:
        return []
    return [item["table"]["name"] for item in json.loads(out)["nftables"] if "table" in item]


def delete_table(name: str) -> None:
    nft({"delete": {"table": {"family": "ip", "name": name}}})


def masquerades(ruleset: dict[str, Any], chain: str = "postrouting") -> list[dict[str, str]]:
    """The masquerade rules of `chain` in a `nft -j` listing: for each, the source network it matches
    (`saddr`, or "any") and the interface it excludes (`not_oifname`, or "")."""
    found = []
    for item in ruleset.get("nftables", []):
        rule = item.get("rule")
        if not rule or rule.get("chain") != chain:
            continue
        expr = rule.get("expr", [])
        if not any("masquerade" in statement for statement in expr):
            continue
        saddr, not_oifname = "any", ""
        for statement in expr:
            match = statement.get("match", {})
            left, right, op = match.get("left", {}), match.get("right"), match.get("op")
            if left.get("payload") == {"protocol": "ip", "field": "saddr"} and op in ("==", "in"):
                saddr = _network(right)
            elif left.get("meta") == {"key": "oifname"} and op == "!=":
                not_oifname = str(right)
        found.append({"saddr": saddr, "not_oifname": not_oifname})
    return found


def _network(right: Any) -> str:
    """`{"prefix": {"addr": A, "len": N}}` or a plain address, as a network."""
    if isinstance(right, dict) and "prefix" in right:
        return str(ipaddress.ip_network(f"{right['prefix']['addr']}/{right['prefix']['len']}", strict=False))
    return str(ipaddress.ip_network(str(right), strict=False))


class NatTable(Resource):
    """`table ip <name>` with a prerouting, an output and a postrouting nat chain; removed by name.

    Made in one nft transaction, so it exists whole or not at all: there is nothing half-made to undo."""

    CHAINS = (("prerouting", -100), ("output", -100), ("postrouting", 100))  # dstnat, dstnat, srcnat

    def __init__(self, name: str) -> None:
        self.name = name

    def commands(self) -> list[str]:
        """The `nft` commands that make the same table and chains by hand."""
        return [
            f"nft add table ip {self.name}",
            *(
                f"nft add chain ip {self.name} {chain} '{{ type nat hook {chain} priority {prio}; }}'"
                for chain, prio in self.CHAINS
            ),
        ]

    def create(self) -> None:
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
                            "hook": chain,
                            "prio": prio,
                            "policy": "accept",
                        }
                    }
                }
                for chain, prio in self.CHAINS
            ),
        )
        testpoints.hit("nft.created")

    def remove(self) -> None:
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
