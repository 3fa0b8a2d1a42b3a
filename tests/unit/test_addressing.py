"""Choosing a subnet that clashes with nothing, and the link names that must fit in 15 bytes."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isodemo import runs
from isodemo.net.addressing import POOL, choose_subnet, host_address


def test_first_choice_comes_from_the_run_id() -> None:
    assert choose_subnet("000000", []) == ipaddress.ip_network("10.200.0.0/24")
    assert choose_subnet("000005", []) == ipaddress.ip_network("10.200.5.0/24")


def test_taken_subnets_and_overlaps_are_skipped() -> None:
    taken = ["10.200.5.0/24", "10.200.6.128/25", "0.0.0.0/0"]
    assert choose_subnet("000005", taken) == ipaddress.ip_network("10.200.7.0/24")


def test_a_full_pool_is_an_error() -> None:
    with pytest.raises(ValueError, match="in use"):
        choose_subnet("000000", ["10.200.0.0/16"])


@given(
    st.text(alphabet="0123456789abcdef", min_size=6, max_size=6),
    st.lists(st.integers(min_value=0, max_value=255), max_size=50),
)
def test_the_choice_never_overlaps_what_is_taken(run_id: str, used: list[int]) -> None:
    taken = [f"10.200.{n}.0/24" for n in used]
    chosen = choose_subnet(run_id, taken)
    assert chosen.subnet_of(POOL)
    assert not any(chosen.overlaps(ipaddress.ip_network(t)) for t in taken)


def test_addresses() -> None:
    subnet = ipaddress.IPv4Network("10.200.9.0/24")
    assert str(host_address(subnet, 1)) == "10.200.9.1"


@pytest.mark.parametrize("suffix", ["v", "w", "p", "q", "r"])
def test_link_names_fit_and_are_recognised(suffix: str) -> None:
    name = f"isodemo-1a2b3c{suffix}"
    assert len(name) <= 15  # IFNAMSIZ - 1
    assert runs.run_id_of(name) == "1a2b3c"
