"""kube-proxy's nftables rules as text (kube/proxy_rules.py) and the demo's reading of `nft list` output."""

from __future__ import annotations

import base64
import hashlib

from isodemo.cluster import client as requests_
from isodemo.cluster import pods
from isodemo.demos import service
from isodemo.inside import http
from isodemo.kube import proxy_rules as rules
from isodemo.kube.proxy_rules import Endpoint, ServicePort

SERVICE = ServicePort("default", "web", "10.96.0.100", 80, 8080, node_port=30080)
A = Endpoint("a", "10.244.0.2", 8080)
B = Endpoint("b", "10.244.0.3", 8080)


def test_chain_names_are_kube_proxys_hash_and_name() -> None:
    digest = base64.b32encode(hashlib.sha256(b"default/web/tcp/http").digest()).decode()[:8]
    assert SERVICE.chain == f"service-{digest}-default/web/tcp/http"
    assert SERVICE.external_chain == f"external-{digest}-default/web/tcp/http"
    assert SERVICE.endpoint_chain(A).endswith("-default/web/tcp/http__10.244.0.2/8080")
    assert SERVICE.endpoint_chain(A) != SERVICE.endpoint_chain(B)
    assert len(digest) == 8 and digest.isupper()


def test_base_table_has_the_hooks_and_maps() -> None:
    text = "\n".join(rules.base_table())
    assert "add table ip kube-proxy" in text
    assert "type nat hook prerouting priority -100" in text
    assert "type nat hook postrouting priority 100" in text
    assert "type filter hook forward priority -110" in text
    assert "mark set mark or 0x4000" in text
    assert "masquerade fully-random" in text
    assert "vmap @no-endpoint-services" in text


def test_first_sync_load_balances_over_ready_endpoints() -> None:
    lines = rules.sync(SERVICE, [A, B, Endpoint("c", "10.244.0.4", 8080, ready=False)], None)
    numgen = [line for line in lines if "numgen" in line]
    assert len(numgen) == 1 and "numgen random mod 2 vmap" in numgen[0]
    assert "10.244.0.4" not in "\n".join(lines)  # not ready: no chain, not in the map
    assert f"add element ip kube-proxy service-ips {{ 10.96.0.100 . tcp . 80 : goto {SERVICE.chain} }}" in lines
    assert f"add element ip kube-proxy service-nodeports {{ tcp . 30080 : goto {SERVICE.external_chain} }}" in lines
    assert not [line for line in lines if line.startswith("delete")]  # nothing was there before


def test_an_endpoint_leaving_deletes_its_chain() -> None:
    lines = rules.sync(SERVICE, [A, Endpoint("b", B.address, 8080, ready=False)], [A, B])
    assert f"delete chain ip kube-proxy {SERVICE.endpoint_chain(B)}" in lines
    assert any("numgen random mod 1 vmap { 0 : goto " + SERVICE.endpoint_chain(A) in line for line in lines)


def test_no_endpoints_goes_to_reject_and_back() -> None:
    gone = rules.sync(SERVICE, [], [A])
    assert "delete element ip kube-proxy service-ips { 10.96.0.100 . tcp . 80 }" in gone
    assert "add element ip kube-proxy no-endpoint-services { 10.96.0.100 . tcp . 80 : goto reject-chain }" in gone
    assert not [line for line in gone if "numgen" in line]
    first = rules.sync(SERVICE, [A], None)  # the first sync: no element to delete
    assert "delete element ip kube-proxy no-endpoint-services { 10.96.0.100 . tcp . 80 }" not in first
    back = rules.sync(SERVICE, [A], [])  # after a sync that wrote no endpoint: the reject element goes
    assert "delete element ip kube-proxy no-endpoint-services { 10.96.0.100 . tcp . 80 }" in back
    again = rules.sync(SERVICE, [A], [Endpoint("a", A.address, 8080, ready=False)])
    assert "delete element ip kube-proxy no-endpoint-services { 10.96.0.100 . tcp . 80 }" in again


LISTING = """table ip kube-proxy {
\tchain services {
\t\tip daddr . meta l4proto . th dport vmap @service-ips
\t}
\tchain nat-prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tjump services
\t}
}
"""


def test_parse_chains_leaves_out_hook_lines() -> None:
    chains = service.parse_chains(LISTING)
    assert chains == {
        "services": ["ip daddr . meta l4proto . th dport vmap @service-ips"],
        "nat-prerouting": ["jump services"],
    }
    rows = service.explain_rules(chains, SERVICE)
    found = {(chain, rule) for chain, rule, _meaning in rows if rule != "(missing)"}
    assert found == {("nat-prerouting", "jump services"), ("services", chains["services"][0])}


def test_later_syncs_show_only_what_changed() -> None:
    shown = service.changes(rules.sync(SERVICE, [A], [A, B]))
    assert all(line.startswith("nft ") for line in shown)
    assert any("numgen" in line for line in shown) and any(line.startswith("nft delete chain") for line in shown)
    assert not any("flush chain" in line for line in shown)


def test_short_rule_cuts_endpoint_chain_names() -> None:
    rule = f"numgen random mod 1 vmap {{ 0 : goto {SERVICE.endpoint_chain(A)} }}"
    assert service._short_rule(rule) == "numgen random mod 1 vmap { 0 : goto endpoint-…10.244.0.2/8080 }"


def test_client_records() -> None:
    records = [(0.0, 0.01, 200, "a"), (0.1, 0.01, 0, "Connection refused"), (0.3, 0.01, 200, "b"), (0.4, 0.0, 200, "c")]
    assert requests_.failed(records) == [records[1]]
    assert requests_.after(records, 0.3) == records[2:]
    assert requests_.longest_outage(records) == 0.2
    assert requests_.longest_outage(records[:2]) == 0.01  # from the failed start to the end of the last
    assert requests_.longest_outage([]) == 0.0


def test_http_response_parsing() -> None:
    assert http.parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nweb-abcde v1\n") == (200, "web-abcde v1")
    assert http.parse_response(b"HTTP/1.0 503 Service Unavailable\r\n\r\n") == (503, "")
    assert http.parse_response(b"") == (0, "bad response")
    assert http.parse_response(b"garbage") == (0, "bad response")


def test_pod_names_and_serve_command() -> None:
    name = pods.pod_name("web")
    assert name.startswith("web-") and len(name) == 9 and not set(name[4:]) & set("aeiou013")
    argv = pods.serve_command("web-x v1", 8080, {"healthz": "echo ok"})
    assert argv[:2] == ("sh", "-c")
    assert "exec httpd -f -p 8080 -h /www" in argv[2] and "/www/cgi-bin/healthz" in argv[2]
