"""What net computes without the kernel: ICMP packets, overlapping networks, masquerade rules in nft -j JSON."""

from __future__ import annotations

import ipaddress
import struct

from hypothesis import given
from hypothesis import strategies as st

from isodemo.kernel import icmp
from isodemo.net import addressing, nft


def test_checksum_of_a_known_echo_request() -> None:
    # `ping -c1` with id 0x1234, seq 1 and no payload: 0x08 0x00 [sum] 0x12 0x34 0x00 0x01
    packet = icmp.echo_request(0x1234, 1, b"")
    assert packet == bytes.fromhex("0800e5ca12340001")


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.binary(max_size=64))
def test_a_request_checksums_to_zero(identifier: int, sequence: int, payload: bytes) -> None:
    assert icmp.checksum(icmp.echo_request(identifier, sequence, payload)) == 0


def test_only_the_matching_reply_counts() -> None:
    reply = struct.pack("!BBHHH", icmp.ECHO_REPLY, 0, 0, 7, 1)
    assert icmp.is_reply(reply, 7, 1)
    assert icmp.is_reply(reply, None, 1)  # a ping socket: the kernel chose the identifier
    assert not icmp.is_reply(reply, 8, 1)
    assert not icmp.is_reply(reply, 7, 2)
    assert not icmp.is_reply(icmp.echo_request(7, 1, b""), 7, 1)  # our own request, seen by a raw socket
    assert not icmp.is_reply(b"\0", 7, 1)


def test_overlapping_uses_the_real_prefixes() -> None:
    subnet = ipaddress.IPv4Network("10.200.9.0/24")
    taken = ["0.0.0.0/0", "10.200.9.128/25", "10.200.0.0/16", "10.200.10.0/24", "10.0.0.0/8"]
    assert addressing.overlapping(subnet, taken) == ["10.200.9.128/25", "10.200.0.0/16", "10.0.0.0/8"]


RULESET = {
    "nftables": [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "ip", "name": "isodemo-1a2b3c", "handle": 1}},
        {
            "rule": {
                "family": "ip",
                "table": "isodemo-1a2b3c",
                "chain": "output",
                "handle": 5,
                "expr": [
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                            "right": "10.1.1.1",
                        }
                    },
                    {"dnat": {"addr": "10.200.7.2", "port": 8080}},
                ],
            }
        },
        {
            "rule": {
                "family": "ip",
                "table": "isodemo-1a2b3c",
                "chain": "postrouting",
                "handle": 6,
                "expr": [
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                            "right": {"prefix": {"addr": "10.200.7.0", "len": 24}},
                        }
                    },
                    {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "isodemo-1a2b3cr"}},
                    {"masquerade": None},
                ],
            }
        },
        {
            "rule": {
                "family": "ip",
                "table": "isodemo-1a2b3c",
                "chain": "postrouting",
                "handle": 7,
                "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"comment": "masquerade"}],
            }
        },
    ]
}


def test_masquerade_rules_are_found_by_structure() -> None:
    # The last rule only mentions the word: a search of the text would count it.
    assert nft.masquerades(RULESET) == [{"saddr": "10.200.7.0/24", "not_oifname": "isodemo-1a2b3cr"}]
    assert nft.masquerades(RULESET, chain="output") == []
    assert nft.masquerades({"nftables": []}) == []
