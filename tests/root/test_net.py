"""`isodemo net` as root: every required fact observed; two runs at once; SIGKILL then cleanup.

Traffic goes only to addresses inside the namespaces these runs create (and the host-side ends of their own
veth pairs and bridge): never out of the machine.
"""

from __future__ import annotations

import os
import subprocess

from tests.conftest import Result, isodemo_argv, run_isodemo
from tests.root.holding import Held, run_processes, wait_gone


def _check(result: Result) -> dict[str, object]:
    assert result.code == 0, result.stdout[-3000:] + result.stderr
    report = result.json
    assert report["ok"] is True and report["leftovers"] == []
    return dict(report["facts"])


def test_net_facts() -> None:
    facts = _check(run_isodemo("net", "--json", "--rate", "20"))
    assert facts["links_inside_initially"] == ["lo"]
    assert facts["loopback_reachable_initially"] is False
    assert facts["netns_inode_host"] != facts["netns_inode_inside"]
    assert facts["ping_host_to_container"] is True
    assert facts["ping_container_to_host"] is True
    assert facts["ping_container_to_container"] is True
    assert facts["published_port_ok"] is True
    assert facts["masquerade_rule_present"] is True
    assert facts["bandwidth_limit_mbit"] == 20
    assert abs(float(facts["bandwidth_measured_mbit"]) - 20) <= 4  # type: ignore[arg-type]
    assert float(facts["bandwidth_unlimited_mbit"]) > 60  # type: ignore[arg-type]
    assert str(facts["subnet"]).startswith("10.200.")


def test_two_runs_at_once_do_not_collide() -> None:
    procs = [
        subprocess.Popen(
            isodemo_argv("net", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(_check(Result(proc.returncode, out, err)))
    assert results[0]["subnet"] != results[1]["subnet"]


def test_hold_names_the_namespaces_ip_netns_sees() -> None:
    held = Held("net", "--json")
    try:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        inside = subprocess.run(
            ["ip", "netns", "exec", held.info["netns"][0], "ip", "-o", "-4", "addr"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        code, _, err = held.release("enter")
    assert code == 0, err
    assert all(name in listed for name in held.info["netns"])
    assert "eth0" in inside and "10.200." in inside


def test_sigkilled_net_demo_is_cleaned_up() -> None:
    held = Held("net", "--json")
    run_id = held.info["run"]
    pids = run_processes(run_id)
    held.kill()
    assert wait_gone(pids) == []
    found = run_isodemo("cleanup", "--dry-run", "--json").json["facts"]["found"]
    kinds = {item.split(" ")[0] for item in found if run_id in item}
    assert {"link", "network", "nft"} <= kinds, found
    done = run_isodemo("cleanup", "--json")
    assert done.code == 0, done.stderr
    assert not any(name.startswith(f"isodemo-{run_id}") for name in os.listdir("/sys/class/net"))
    assert not any(run_id in name for name in os.listdir("/run/netns")) if os.path.isdir("/run/netns") else True


def test_a_subnet_the_host_uses_is_refused_before_anything_is_made() -> None:
    import ipaddress

    out = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "scope", "global"], capture_output=True, text=True, check=True
    ).stdout
    if not out.strip():
        return  # no global IPv4 address on this host: nothing to clash with
    address = ipaddress.ip_interface(out.split()[3])
    network = ipaddress.ip_network(f"{address.ip}/24", strict=False)
    result = run_isodemo("net", "--plain", "--subnet", str(network))
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    if network.is_private:
        assert "overlaps" in result.stderr
