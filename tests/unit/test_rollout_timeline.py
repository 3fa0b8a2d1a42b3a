"""kube/timeline.py (what the client saw, set against the controller's events) and the pod-template-hash of
cluster/deployment_controller.py: pure, no root."""

from __future__ import annotations

from isodemo.cluster.deployment_controller import Timing, pod_template_hash
from isodemo.inside.net import bridge_mac
from isodemo.kube import proxy_rules, timeline


def _event(at: float, kind: str, *counts: int) -> timeline.Event:
    """counts: old pods, old ready, new pods, new ready."""
    old, old_ready, new, new_ready = counts
    return timeline.Event(at, kind, (), old, old_ready, new, new_ready)


def _ok(at: float, version: str) -> timeline.Record:
    return (at, 0.001, 200, f"web-abc-{at} {version}")


def _refused(at: float) -> timeline.Record:
    return (at, 0.0, 0, "Connection refused")


def test_version_of() -> None:
    assert timeline.version_of("web-7d69989b9-gnsq7 v1") == "v1"
    assert timeline.version_of("Connection refused") == "refused"  # two words: callers look at 200s only
    assert timeline.version_of("v1") == ""
    assert timeline.version_of("") == ""


def test_rows_split_requests_at_endpoint_changes() -> None:
    events = [
        _event(10.0, timeline.START, 2, 2, 0, 0),
        _event(10.1, timeline.CREATED, 2, 2, 1, 0),  # not a row: the endpoints did not change
        _event(10.2, timeline.READY, 2, 2, 1, 1),
        _event(10.3, timeline.OUT, 1, 1, 1, 1),
        _event(10.4, timeline.TERMINATED, 1, 1, 1, 1),
        _event(10.5, timeline.COMPLETE, 0, 0, 2, 2),
    ]
    records = [_ok(9.9, "v1"), _ok(10.15, "v1"), _ok(10.25, "v2"), _ok(10.26, "v1"), _refused(10.35), _ok(10.6, "v2")]
    rows = timeline.rows(events, records)
    assert [row.event.kind for row in rows] == [timeline.START, timeline.READY, timeline.OUT, timeline.COMPLETE]
    assert [round(row.seconds, 3) for row in rows] == [0.0, 0.2, 0.3, 0.5]
    assert rows[0].answered == {"v1": 2}  # from before the start to the first change
    assert rows[1].answered == {"v1": 1, "v2": 1}
    assert (rows[2].answered, rows[2].failed) == ({}, 1)
    assert rows[3].answered == {"v2": 1}  # to the end
    assert sum(sum(r.answered.values()) + r.failed for r in rows) == len(records)
    assert timeline.rows([], records) == []


def test_versions_seen_in_a_window() -> None:
    records = [_ok(1.0, "v1"), _ok(2.0, "v2"), _ok(3.0, "v1"), _refused(2.5)]
    assert timeline.versions_seen(records, 1.5, 3.0) == ["v2"]
    assert timeline.versions_seen(records, 0.0, 10.0) == ["v1", "v2"]
    assert timeline.versions_seen(records, 2.4, 2.6) == []


def test_most_running_and_fewest_ready_in_a_window() -> None:
    """Samples (at, what was there then): the one in force when the window opened counts, later ones do not."""
    running = [(0.5, "abcd"), (1.0, "abcde"), (2.0, "abcde"), (3.0, "abcd"), (9.0, "abcdefgh")]
    ready = [(0.1, ["a", "b", "c", "d"]), (2.0, ["a", "b", "c"]), (4.0, ["a", "b", "c", "e"]), (9.5, [])]
    assert timeline.most(running, 0.8, 4.0) == 5
    assert timeline.most(running, 3.5, 4.0) == 4  # only the sample taken before the window: 4 were running
    assert timeline.fewest(ready, 1.0, 4.0) == 3  # 4 when it began, 3 at 2.0, 4 at 4.0; 0 at 9.5 is after it
    assert timeline.fewest(ready, 1.0, 10.0) == 0
    assert timeline.in_window(ready, 3.0, 3.5) == [3]
    assert timeline.most([], 0.0, 1.0) == 0
    assert timeline.fewest([], 0.0, 1.0) == 0


def test_timing_keeps_the_kubelets_probe_floors_and_a_ready_timeout_of_10_s_at_least() -> None:
    fast = Timing(speed=100)
    assert (fast.probe.period, fast.probe.timeout) == (0.5, 0.25)  # not 0.1 s and 0.01 s
    assert (fast.probe.period_seconds, fast.probe.timeout_seconds) == (10, 1)  # what the pod spec says
    assert fast.ready_timeout == 10.0  # not 1 s
    default = Timing(speed=10)
    assert (default.probe.period, default.probe.timeout, default.ready_timeout) == (1.0, 0.25, 10.0)
    assert Timing(speed=1).ready_timeout == 100.0
    assert default.scaled(default.pre_stop) == 0.5


def test_answered_text() -> None:
    assert timeline.answered_text({"v1": 3, "v2": 12}) == "v1 3, v2 12"
    assert timeline.answered_text({}) == "-"


def test_pod_template_hash_is_fnv32a_safe_encoded() -> None:
    # FNV-32a("") is the offset basis 2166136261; each decimal digit's character code mod 27 picks a letter
    assert pod_template_hash("") == "".join("bcdfghjklmnpqrstvwxz2456789"[ord(c) % 27] for c in "2166136261")
    assert pod_template_hash("v1") == pod_template_hash("v1")
    assert pod_template_hash("v1") != pod_template_hash("v2")
    assert pod_template_hash("v1", 1) != pod_template_hash("v1")
    assert set(pod_template_hash("anything")) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_bridge_mac_follows_the_gateway_address() -> None:
    assert bridge_mac("10.244.0.1") == "0a:58:0a:f4:00:01"


def test_first_sync_without_ready_endpoints_deletes_nothing() -> None:
    """A pod added not ready to a Service that was never synced: no element exists yet to delete."""
    service = proxy_rules.ServicePort("default", "web", "10.96.0.100", 80, 8080)
    unready = proxy_rules.Endpoint("web-a", "10.244.0.2", 8080, False)
    ready = proxy_rules.Endpoint("web-a", "10.244.0.2", 8080, True)
    first = proxy_rules.sync(service, [unready], None)
    assert not [line for line in first if line.startswith("delete element")]
    assert any("no-endpoint-services" in line and line.startswith("add element") for line in first)
    # then ready: the no-endpoint element goes; after every endpoint left ([] synced), it is deleted again
    assert any(
        line.startswith("delete element ip kube-proxy no-endpoint-services")
        for line in proxy_rules.sync(service, [ready], [unready])
    )
    assert any(
        line.startswith("delete element ip kube-proxy no-endpoint-services")
        for line in proxy_rules.sync(service, [ready], [])
    )
    # the first sync with a ready endpoint deletes nothing either
    assert not [line for line in proxy_rules.sync(service, [ready], None) if line.startswith("delete element")]
