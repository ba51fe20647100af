"""Bad input and robustness of container networks (issue 15 items 6 and 7): every refusal is
one line naming the flag, exit 125, and leaves nothing (no container, rule, veth, netns file
or address); many runs in a row and in parallel, and hulls SIGKILLed at random points of the
set-up, leave nothing once `rm -f` and `system prune` ran."""
import json
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.net


def refused(nh, args, flag):
    before = nh.net_state()
    ctrs = nh.out("ps", "-a", "-q")
    r = nh.run(*args, check=False)
    assert r.returncode == 125, (args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], (args, r.stderr)
    assert nh.out("ps", "-a", "-q") == ctrs
    assert nh.net_state() == before, args


MALFORMED_P = ["80x", "0", "65536", "1.2.3:80:80", "127.0.0.1:80", "a:b:c:d", "80/sctp",
               "8000-7000:80", "8000-8002:80-81", "", "127.0.0.1:-1:80", "80-:80", "80/"]


@pytest.mark.parametrize("spec", MALFORMED_P)
def test_malformed_publish(nh, spec):
    refused(nh, ["run", "--rm", "-p", spec, "bb", "true"], "-p")


def test_malformed_publish_generated(nh):
    """Seeded random -p values: either accepted by create (and removed) or refused cleanly."""
    rng = random.Random(15)
    alphabet = "0123456789:.-/abtcpud"
    for _ in range(40):
        spec = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        before = nh.net_state()
        r = nh.run("create", "-p", spec, "bb", "true", check=False)
        if r.returncode == 0:
            nh.run("rm", r.stdout.strip())
        else:
            assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, spec
            assert "-p" in r.stderr, (spec, r.stderr)
        assert nh.out("ps", "-a", "-q") == ""
        assert nh.net_state() == before, spec


def test_unknown_network_and_bad_flags(nh):
    refused(nh, ["run", "--rm", "--network", "nope", "bb", "true"], "--network nope")
    refused(nh, ["run", "--rm", "--network", "bad/name", "bb", "true"], "--network")
    refused(nh, ["run", "--rm", "--ip", "10.1.1.1", "bb", "true"], "--ip")
    refused(nh, ["run", "--rm", "--ip", "x", "bb", "true"], "--ip")
    refused(nh, ["run", "--rm", "--network", "none", "-p", "80", "bb", "true"], "--network")
    refused(nh, ["run", "--rm", "--add-host", "nohost", "bb", "true"], "--add-host")
    refused(nh, ["run", "--rm", "--add-host", "h:notip", "bb", "true"], "--add-host")
    refused(nh, ["run", "--rm", "--network", "container:nope", "bb", "true"], "--network")


def test_overlapping_subnets_and_network_in_use(nh):
    nh.run("network", "create", "--subnet", "10.50.0.0/16", "a")
    before = nh.out("network", "ls")
    refused(nh, ["network", "create", "--subnet", "10.50.3.0/24", "b"], "--subnet")
    refused(nh, ["network", "create", "--subnet", "10.0.0.0/8", "b"], "--subnet")
    refused(nh, ["network", "create", "--subnet", "172.17.0.0/24", "b"], "--subnet")
    refused(nh, ["network", "create", "--subnet", "10.60.0.1/16", "b"], "--subnet")
    refused(nh, ["network", "create", "--subnet", "10.60.0.0/16", "--gateway", "10.61.0.1",
                 "b"], "--gateway")
    refused(nh, ["network", "create", "a"], "a")
    assert nh.out("network", "ls") == before
    nh.run("run", "-d", "--name", "user", "--network", "a", "bb", "sleep", "60")
    refused(nh, ["network", "rm", "a"], "in use")
    refused(nh, ["network", "rm", "bridge"], "bridge")
    nh.run("rm", "-f", "user")
    nh.run("network", "rm", "a")


def test_host_port_taken(nh):
    """A port bound by a host program, or published by another container: refused before the
    container exists, nothing left."""
    holder = subprocess.Popen([*nh.prefix, "python3", "-c",
                               "import socket, sys, time; s = socket.socket(); "
                               "s.bind(('127.0.0.1', 18300)); s.listen(); print('ok', flush=True);"
                               " time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "ok\n"
        refused(nh, ["run", "--rm", "-p", "127.0.0.1:18300:80", "bb", "true"], "-p")
        refused(nh, ["run", "--rm", "-p", "18300:80", "bb", "true"], "-p")
    finally:
        holder.kill()
        holder.wait()
    nh.run("run", "-d", "--name", "first", "-p", "127.0.0.1:18301:80", "bb", "sleep", "60")
    refused(nh, ["run", "--rm", "-p", "127.0.0.1:18301:80", "bb", "true"], "-p")
    refused(nh, ["create", "-p", "18300-18302:80-82", "bb", "true"], "-p")
    nh.run("rm", "-f", "first")


def settled(nh):
    """The state after one container came and went: netavark's base chains exist."""
    nh.run("run", "--rm", "-p", "127.0.0.1::80", "bb", "true")
    return nh.net_state()


@pytest.mark.slow
def test_hundred_in_a_row_and_twenty_parallel(nh):
    base = settled(nh)
    assert base["netns"] == [] and base["ipam"] == {} and base["links"] == ["lo"]
    for i in range(100):
        nh.run("run", "--rm", "-p", f"127.0.0.1:{19000 + i}:80", "bb", "true")
    assert nh.net_state() == base

    def one(i):
        return nh.run("run", "--rm", "-p", f"127.0.0.1:{19200 + i}:80", "bb", "true",
                      check=False, timeout=300)

    def detached(i):
        return nh.run("run", "-d", "-p", f"127.0.0.1:{19300 + i}:80", "bb", "sleep", "60",
                      check=False, timeout=300)
    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(one, range(20)))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        assert nh.net_state() == base
        # 20 at once that stay: 20 different addresses, then 20 removals at once
        results = list(ex.map(detached, range(20)))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        ids = [r.stdout.strip() for r in results]
        addrs = {nh.inspect(i)["NetworkSettings"]["IPAddress"] for i in ids}
        assert len(addrs) == 20, addrs
        assert all(r.returncode == 0 for r in ex.map(
            lambda i: nh.run("rm", "-f", i, check=False, timeout=300), ids))
    assert nh.net_state() == base


@pytest.mark.slow
def test_sigkill_during_setup_then_rm_and_prune(nh):
    """hull killed at seeded random points of `run -d -p` (netns, IPAM, netavark setup):
    the next `rm -f` and `system prune` leave nothing."""
    base = settled(nh)
    nh.run("network", "create", "k")
    rng = random.Random(1515)
    for i in range(12):
        net = "k" if i % 2 else "bridge"
        p = nh.popen("run", "-d", "--network", net, "-p", f"127.0.0.1:{19500 + i}:80", "bb",
                     "sleep", "60")
        time.sleep(rng.uniform(0.0, 0.5))
        p.send_signal(signal.SIGKILL)
        p.communicate()
    ids = nh.out("ps", "-a", "-q", "--no-trunc").split()
    if ids:
        nh.run("rm", "-f", *ids)
    nh.run("system", "prune", "-f")
    nh.run("network", "rm", "k")
    assert nh.out("ps", "-a", "-q") == ""
    assert nh.net_state() == base


def test_prune_tears_down_what_a_killed_monitor_left(nh):
    nh.run("run", "-d", "--name", "m", "-p", "127.0.0.1:18400:80", "bb", "sleep", "60")
    mon = nh.inspect("m")["State"]["Pid"]
    state = (nh.root / "containers" / nh.inspect("m")["Id"] / "state.json").read_text()
    monitor = json.loads(state)["MonitorPid"]
    os.kill(monitor, signal.SIGKILL)
    os.kill(mon, signal.SIGKILL)
    deadline = time.monotonic() + 20  # until the init's zombie is reaped (not by us)
    while nh.out("ps", "-q") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert nh.net_state()["netns"] != []
    out = nh.out("system", "prune", "-f")
    assert "Tore down 1 container networks" in out
    st = nh.net_state()
    assert st["netns"] == [] and st["ipam"] == {} and not [r for r in st["rules"] if "18400" in r]
    nh.run("rm", "m")


def test_overlap_checks_see_every_network(nh):
    """70 networks (more than the 64 the checks once loaded): a subnet overlapping the first
    or the last one is refused, and a new network's bridge is none of theirs."""
    names = [f"m{i:02d}" for i in range(1, 71)]
    try:
        for i, name in enumerate(names, 1):
            nh.run("network", "create", "--subnet", f"10.100.{i}.0/24", name)
        refused(nh, ["network", "create", "--subnet", "10.100.1.0/24", "x"], "--subnet")
        refused(nh, ["network", "create", "--subnet", "10.100.70.128/25", "x"], "--subnet")
        nh.run("network", "create", "--subnet", "10.101.0.0/24", "x")
        infos = json.loads(nh.out("network", "inspect", *names, "x"))
        bridges = [n["Options"]["com.docker.network.bridge.name"] for n in infos]
        assert len(bridges) == 71 and len(set(bridges)) == 71, bridges
    finally:
        nh.run("network", "rm", *names, "x", check=False)
    assert nh.out("network", "ls", "-q").split() == ["bridge"]


def test_netavark_gets_a_minimal_environment(nh, tmp_path):
    """hull's environment does not reach netavark: neither its firewall driver
    (NETAVARK_FW), its DNS port, its logging, nor the iptables it finds through PATH."""
    fake = tmp_path / "bin"
    fake.mkdir()
    marker = tmp_path / "ran"
    for tool in ("iptables", "ip6tables", "iptables-legacy", "iptables-nft"):
        (fake / tool).write_text(f"#!/bin/sh\necho \"$0\" >> {marker}\nexit 1\n")
        (fake / tool).chmod(0o755)
    nh.run("network", "create", "envnet")
    env = dict(nh.env, NETAVARK_FW="bogus", NETAVARK_DNS_PORT="x", RUST_LOG="trace",
               RUST_BACKTRACE="full", PATH=f"{fake}:{os.environ['PATH']}")
    for net in ("bridge", "envnet"):
        r = subprocess.run([*nh.prefix, nh.binary, "run", "--rm", "--network", net, "bb",
                            "true"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stderr == "", (net, r.stderr)
    assert not marker.exists(), marker.read_text()
    nh.run("network", "rm", "envnet")
