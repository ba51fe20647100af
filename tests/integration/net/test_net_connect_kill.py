"""hull network connect/disconnect of a running container, the first network included, killed
(SIGKILL) at seeded random points: the next connect or disconnect of that network repairs what
the killed one left, and after every step the container's namespace, inspect, `hull port`, the
firewall rules and the IPAM files agree with a model (docs/engine.md "Networks"). Each test in
a network namespace of its own (conftest.py)."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.net

PORT = 18310
NETS = ["k1", "k2", "k3"]


def ipam(nh, net):
    """network's address file: {address: container id}, or {}."""
    text = nh.net_state()["ipam"].get(f"{net}.ipam")
    return json.loads(text) if text else {}


def ns_addrs(sandbox):
    """The IPv4 addresses on the eth* interfaces of the container's namespace."""
    out = subprocess.run(["nsenter", f"--net={sandbox}", "ip", "-o", "-4", "addr"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[3].split("/")[0] for line in out.splitlines()
                  if line.split()[1].startswith("eth"))


def check(nh, model, ids, what):
    """The container c against the model: {"nets": set, "primary": name or None}."""
    i = nh.inspect("c")
    ns = i["NetworkSettings"]
    assert i["State"]["Running"], what
    assert set(ns["Networks"]) == model["nets"], what
    ips = {n: e["IPAddress"] for n, e in ns["Networks"].items()}
    assert all(ips.values()), (what, ips)
    # the interfaces in its namespace are exactly the networks' addresses
    assert ns_addrs(ns["SandboxKey"]) == sorted(ips.values()), what
    # the primary network holds the published port; with none, no port and no rule
    primary = [n for n, ip in ips.items() if ip == ns["IPAddress"]] if ns["IPAddress"] else []
    assert primary == ([model["primary"]] if model["primary"] else []), what
    rules = [r for r in nh.net_state()["rules"] if str(PORT) in r]
    if model["primary"]:
        assert nh.out("port", "c").strip() == f"80/tcp -> 127.0.0.1:{PORT}", what
        assert rules, what
    else:
        assert nh.out("port", "c").strip() == "" and not rules, what
    # every address given once, to whom holds it; none lost
    for n in NETS:
        alloc = ipam(nh, n)
        want = {ips[n]: ids["c"]} if n in model["nets"] else {}
        if n == "k1":
            want[nets_ip(nh, "d", "k1")] = ids["d"]
        assert alloc == want, (what, n, alloc)


def nets_ip(nh, ctr, net):
    return nh.inspect(ctr)["NetworkSettings"]["Networks"][net]["IPAddress"]


def killed(nh, rng, op, net):
    """op run and SIGKILLed after a random delay (maybe after it ended)."""
    p = nh.popen("network", op, net, "c")
    time.sleep(rng.uniform(0.0, 0.6))
    p.send_signal(signal.SIGKILL)
    p.communicate()
    return p.returncode


@pytest.mark.slow
def test_connect_disconnect_killed_at_random_points(nh):
    seed = int(os.environ.get("HULL_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    nh.run("run", "--rm", "bb", "true")  # netavark's base chains exist from here on
    before = nh.net_state()
    for k, n in enumerate(NETS):
        nh.run("network", "create", "--subnet", f"10.89.{41 + k}.0/24", n)
    nh.run("run", "-d", "--name", "c", "--network", "k1", "-p", f"127.0.0.1:{PORT}:80", "bb",
           "sleep", "100000")
    nh.run("run", "-d", "--name", "d", "--network", "k1", "bb", "sleep", "100000")
    ids = {n: nh.inspect(n)["Id"] for n in ("c", "d")}
    model = {"nets": {"k1"}, "primary": "k1"}
    kills = 0
    for step in range(30):
        net = rng.choice(NETS)
        op = "disconnect" if net in model["nets"] else "connect"
        what = f"seed {seed} step {step}: {op} {net} {model}"
        if rng.random() < 0.5:
            kills += killed(nh, rng, op, net) == -signal.SIGKILL
            # the next command on that network, either way: it repairs first
            again = rng.choice(["connect", "disconnect"])
            r = nh.run("network", again, net, "c", check=False)
            ok = ("already exists" if again == "connect" else "is not connected")
            assert r.returncode == 0 or ok in r.stderr, (what, again, r.stderr)
            if again == "disconnect":
                model["nets"].discard(net)
                if model["primary"] == net:
                    model["primary"] = None
            else:
                model["nets"].add(net)
                top = nh.inspect("c")["NetworkSettings"]["IPAddress"]
                if top and top == nets_ip(nh, "c", net):
                    model["primary"] = net  # the empty first slot took it
            what += f" killed, then {again}"
        elif op == "connect":
            nh.run("network", "connect", net, "c")
            model["nets"].add(net)
            model["primary"] = model["primary"] or net
        else:
            nh.run("network", "disconnect", net, "c")
            model["nets"].discard(net)
            if model["primary"] == net:
                model["primary"] = None
        check(nh, model, ids, what)
    assert kills > 0, f"seed {seed}: no command was killed before it ended"
    nh.run("rm", "-f", "c", "d")
    nh.run("network", "rm", *NETS)
    after = nh.net_state()
    assert after["netns"] == [] and after["ipam"] == {} and after["mounts"] == []
    assert after["links"] == before["links"] and after["rules"] == before["rules"]
