"""`isodemo net` as root: every required fact observed; four runs at once; a signal right after each kernel
object it makes; SIGKILL then cleanup.

Traffic goes only to addresses inside the namespaces these runs create (and the host-side ends of their own
veth pairs and bridge): never out of the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from isodemo import runs
from tests.conftest import Result, isodemo_argv, run_isodemo
from tests.root.holding import Held, run_processes, wait_gone

# the net demo makes no cgroup: the same on cgroup v1 and v2.
pytestmark = pytest.mark.host_only


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


@pytest.mark.host_only
def test_four_runs_at_once_do_not_collide() -> None:
    procs = [
        subprocess.Popen(
            isodemo_argv("net", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(_check(Result(proc.returncode, out, err)))
    assert len({str(facts["subnet"]) for facts in results}) == 4


# Right after each kernel object net makes (the first namespace's name, the second's, veth a, the bridge,
# veth b, the nft table, the tbf qdisc) and as the HTTP request goes out. The VM stage runs a few of them.
POINTS = [
    "netns.created",
    "netns.created#2",
    "link.created",
    "link.created#2",
    "link.created#3",
    "nft.created",
    "tc.created",
    "net.request",
]
QUICK = {("link.created", "SIGINT"), ("nft.created", "SIGTERM")}


@pytest.mark.parametrize(
    ("point", "sig"),
    [
        pytest.param(point, sig, marks=[] if (point, sig) in QUICK else [pytest.mark.host_only])
        for point in POINTS
        for sig in ("SIGINT", "SIGTERM")
    ],
)
def test_a_signal_right_after_each_creation_leaves_nothing(point: str, sig: str) -> None:
    """Exit 130 and no traceback; the host invariants (links, netns, nft, mounts) check that nothing is left."""
    result = run_isodemo("net", "--plain", env={"ISODEMO_TESTPOINT": f"{point}:{sig}"})
    assert result.code == 130, result.stdout[-2000:] + result.stderr
    assert f"interrupted by {sig}" in result.stderr
    assert "Traceback" not in result.stderr and "could not remove" not in result.stderr, result.stderr


@pytest.mark.host_only
def test_ctrl_c_during_the_http_step_prints_no_traceback() -> None:
    """A terminal's Ctrl-C reaches the whole process group: isodemo, its children, the HTTP server inside."""
    proc = subprocess.Popen(
        isodemo_argv("net", "--plain"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = ""
    while "[4] Publishing" not in seen:
        chunk = proc.stdout.read(1)
        assert chunk, seen
        seen += chunk
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Error" not in err, err


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
    """The test makes the clash itself: a veth pair named like a run's, with an address in a free subnet."""
    from isodemo.net import addressing, links

    name = f"isodemo-{runs.Run.new().id}"
    with links.open_host() as ipr, links.VethPair(ipr, f"{name}v", f"{name}p") as pair:
        with addressing.claimed_subnet("0", lambda: links.host_networks(ipr)) as subnet:
            pair.add_address(str(addressing.host_address(subnet, 1)), subnet.prefixlen)
        before = sorted(os.listdir("/sys/class/net"))
        result = run_isodemo("net", "--plain", "--subnet", str(subnet))
        after = sorted(os.listdir("/sys/class/net"))
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"overlaps {subnet}" in result.stderr
    assert before == after
