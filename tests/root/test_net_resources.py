"""net/'s resources on their own: each removes its object by name, safely before, after and twice; what the
demo reads back (nft -j's masquerade rules, an ICMP echo) is parsed from the real kernel's answers."""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest

from isodemo import runs
from isodemo.isolated import Isolated
from isodemo.kernel import icmp
from isodemo.net import links, netns, nft, own, tc


@pytest.fixture
def name() -> str:
    return runs.Run.new().name


def _links() -> list[str]:
    return sorted(os.listdir("/sys/class/net"))


def test_a_veth_pair_goes_whole_and_removing_twice_is_fine(name: str) -> None:
    before = _links()
    with links.open_host() as ipr:
        pair = links.VethPair(ipr, f"{name}v", f"{name}p")
        pair.remove()  # not made yet: nothing to do
        with pair:
            assert {f"{name}v", f"{name}p"} <= set(_links())
        pair.remove()
    assert _links() == before


def test_a_qdisc_is_removed_and_a_missing_one_is_no_error(name: str) -> None:
    with links.open_host() as ipr, links.Bridge(ipr, f"{name}r") as bridge:
        limit = tc.Tbf(ipr, bridge.name, 5)
        limit.remove()  # no qdisc of ours yet
        with limit:
            shown = subprocess.run(
                ["tc", "qdisc", "show", "dev", bridge.name], capture_output=True, text=True, check=True
            ).stdout
            assert "tbf 1: root" in shown and "rate 5Mbit" in shown
        shown = subprocess.run(
            ["tc", "qdisc", "show", "dev", bridge.name], capture_output=True, text=True, check=True
        ).stdout
        assert "tbf" not in shown
    limit.remove()  # the device itself is gone now


def test_own_registers_the_teardown(name: str) -> None:
    with contextlib.ExitStack() as stack, links.open_host() as ipr:
        own(stack, links.Bridge(ipr, f"{name}r"))
        assert f"{name}r" in _links()
    assert f"{name}r" not in _links()


def test_a_named_netns_and_its_directory_go(name: str) -> None:
    existed = os.path.isdir(netns.NETNS_DIR)
    with Isolated(["net"], comm=name) as box:
        ns = netns.NamedNetns(name, box.pid)
        with ns:
            assert os.stat(ns.path).st_ino == os.stat(f"/proc/{box.pid}/ns/net").st_ino
        ns.remove()
    assert not os.path.exists(ns.path)
    assert os.path.isdir(netns.NETNS_DIR) == existed


def test_the_masquerade_rule_is_read_back_from_nft_json(name: str) -> None:
    table = nft.NatTable(name)
    table.remove()
    with table:
        table.masquerade("10.200.7.0/24", f"{name}r")
        found = nft.masquerades(nft.list_table(name))
    assert found == [{"saddr": "10.200.7.0/24", "not_oifname": f"{name}r"}]
    assert name not in nft.table_names()
    table.remove()


def test_icmp_echo_to_loopback_and_to_a_namespace_without_routes(name: str) -> None:
    from isodemo.inside import net as inside

    assert icmp.ping("127.0.0.1")
    with Isolated(["net"], comm=name) as box:
        assert box.call(inside.ping, "127.0.0.1") is False  # lo is down in a new namespace: no route at all
