"""The arithmetic of `isodemo bench --density N`: how many fit, the subnet size, deciles and growth."""

from __future__ import annotations

import ipaddress

import pytest

from isodemo.density import plan, rtnl, zygote


def test_fits_takes_the_smaller_of_memory_and_pids() -> None:
    gib = 1 << 30
    assert plan.fits(4 * gib, 100_000) == 4 * gib // 2 // plan.BYTES_PER_CONTAINER  # 1024: memory decides
    assert plan.fits(64 * gib, 1500) == 500  # pids decide: 1500 free less the margin of 1000
    assert plan.fits(0, 100_000) == 0
    assert plan.fits(1 << 50, 1 << 30) == plan.MAX_COUNT


@pytest.mark.parametrize(("count", "prefixlen"), [(1, 24), (50, 24), (253, 24), (254, 23), (1000, 22), (16000, 18)])
def test_the_subnet_holds_the_gateway_and_every_container(count: int, prefixlen: int) -> None:
    assert plan.prefixlen_for(count) == prefixlen
    subnet = ipaddress.ip_network(f"10.200.0.0/{prefixlen}")
    assert subnet.num_addresses - 3 >= count  # network, gateway .1, broadcast


def test_deciles_are_the_time_each_tenth_took_per_container() -> None:
    # 20 containers: the first ten 1 ms apart, the last ten 2 ms apart
    finished = [0.001 * (i + 1) for i in range(10)] + [0.010 + 0.002 * (i + 1) for i in range(10)]
    by_decile = plan.deciles(finished, 0.0)
    assert len(by_decile) == 10
    assert by_decile[:5] == pytest.approx([1.0] * 5)
    assert by_decile[5:] == pytest.approx([2.0] * 5)
    assert plan.growth(by_decile) == 2.0


def test_deciles_of_fewer_than_ten_and_of_none() -> None:
    assert plan.deciles([0.5, 1.0, 1.5], 0.0) == pytest.approx([500.0, 500.0, 500.0])
    assert plan.deciles([], 0.0) == []
    assert plan.growth([]) == 0.0


def test_stage_deciles_average_each_stage() -> None:
    rows = [[1_000_000, 2_000_000]] * 10 + [[3_000_000, 2_000_000]] * 10
    result = plan.stage_deciles(rows, ("clone", "cgroup"))
    assert result["clone"] == [1.0] * 5 + [3.0] * 5
    assert result["cgroup"] == [2.0] * 10


def test_chart_scales_to_the_largest() -> None:
    lines = plan.chart([1.0, 2.0])
    assert lines[1].count("#") == 40
    assert lines[0].count("#") == 20


def test_names_fit_in_ifnamsiz_and_macs_never_clash_with_the_bridge() -> None:
    assert len(zygote.veth_name("abcdef", plan.MAX_COUNT - 1)) <= 15
    macs = {zygote.mac_of("abcdef", i) for i in range(plan.MAX_COUNT)}
    assert len(macs) == plan.MAX_COUNT
    assert "02:ab:cd:ef:ff:ff" not in macs


def test_a_netlink_batch_is_aligned_and_numbered() -> None:
    batch = rtnl.Batch()
    batch.address(2, "10.200.0.2", 24)
    batch.default_route("10.200.0.1")
    assert [len(message) % 4 for message in batch.messages] == [0, 0]
    assert [int.from_bytes(message[8:12], "little") for message in batch.messages] == [1, 2]  # nlmsg_seq
    assert rtnl.attr(3, b"eth0\0") == b"\x09\x00\x03\x00eth0\x00\x00\x00\x00"
