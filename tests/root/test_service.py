"""`isodemo service` as root: a ClusterIP made of kube-proxy's nftables rules, measured from a client pod."""

from __future__ import annotations

import pytest

from tests.conftest import run_isodemo


def _facts(*args: str) -> dict[str, object]:
    result = run_isodemo("service", *args, "--json")
    assert result.code == 0, (result.stdout[-3000:], result.stderr[-3000:])
    report = result.json
    assert report["leftovers"] == []
    facts: dict[str, object] = report["facts"]
    return facts


@pytest.mark.host_only  # the VM stage (emulated, slow) runs only the small case below
def test_service_facts() -> None:
    facts = _facts("--replicas", "3", "--requests", "300")
    assert facts["cluster_ip"] == "10.96.0.100"
    pods = facts["pods"]
    assert isinstance(pods, dict) and len(pods) == 3
    endpoints = facts["endpoints"]
    assert endpoints == [f"{address}:8080" for address in pods.values()]
    per_endpoint = facts["per_endpoint"]
    assert isinstance(per_endpoint, dict) and set(per_endpoint) == set(pods)
    assert sum(per_endpoint.values()) == facts["requests"] == 300
    assert all(count > 0 for count in per_endpoint.values())
    p_value = facts["chi_square_p"]
    assert isinstance(p_value, float) and 0.0 <= p_value <= 1.0
    assert facts["spread_ok"] is True  # p >= 0.001: fails by chance once in a thousand runs
    assert facts["rules_missing"] == []
    assert "numgen random mod 3" in str(facts["nft_table"])
    assert facts["node_port_ok"] is True
    assert facts["failed_after_update"] == 0
    removal = facts["endpoint_removal_ms"]
    assert isinstance(removal, float) and 0 < removal < 5000
    assert facts["no_endpoint_result"] == "refused"
    assert isinstance(facts["no_endpoint_ms"], float) and facts["no_endpoint_ms"] < 1000


def test_two_replicas_share_the_requests() -> None:
    """Not host_only: the pods' containers have cgroups of their own, and the VM's kernel is another one."""
    facts = _facts("--replicas", "2", "--requests", "30")
    per_endpoint = facts["per_endpoint"]
    assert isinstance(per_endpoint, dict) and len(per_endpoint) == 2
    assert sum(per_endpoint.values()) == 30
    assert facts["failed_after_update"] == 0
    assert facts["no_endpoint_result"] == "refused"


@pytest.mark.host_only
@pytest.mark.parametrize(
    "args", [("--replicas", "1"), ("--replicas", "11"), ("--requests", "29"), ("--requests", "many")]
)
def test_bad_options_exit_2(args: tuple[str, ...]) -> None:
    result = run_isodemo("service", *args)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert args[0] in result.stderr
