"""hull network connect/disconnect (docs/engine.md "Networks"): a running container joins a
second network in its namespace (an interface, an address from that network's allocator, a
name in its DNS), leaves it again, and a stopped one gets it at its next start; docker's
refusals; nothing left behind. Each test in a network namespace of its own (conftest.py)."""
import json

import pytest

WGET = ("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O- http://{h}/ && exit 0; "
        "sleep 0.3; done; exit 1")


def fetch(nh, ctr, host, tries=True):
    script = WGET.format(h=host) if tries else f"timeout 3 wget -q -O- http://{host}/ || exit 1"
    return nh.run("exec", ctr, "sh", "-c", script, check=False)


def ipam(nh):
    return nh.net_state()["ipam"]


def test_connect_reach_by_name_disconnect(nh):
    before = nh.net_state()
    nh.run("network", "create", "n1")
    nh.run("network", "create", "n2")
    nh.run("run", "-d", "--name", "srv", "--network", "n2", "bb", "httpd", "-f", "-p", "80",
           "-h", "/www")
    nh.run("run", "-d", "--name", "cli", "--network", "n1", "bb", "sleep", "1000")
    # not on n2 yet: neither the name nor the address
    ip_srv = nh.inspect("srv")["NetworkSettings"]["IPAddress"]
    assert fetch(nh, "cli", ip_srv, tries=False).returncode != 0
    nh.run("network", "connect", "--alias", "cli2", "n2", "cli")
    nets = nh.inspect("cli")["NetworkSettings"]["Networks"]
    assert set(nets) == {"n1", "n2"} and nets["n2"]["IPAddress"]
    assert nets["n2"]["Aliases"] == ["cli2"]
    links = nh.out("exec", "cli", "ip", "-o", "-4", "addr")
    assert nets["n2"]["IPAddress"] in links and "eth1" in links
    hosts = nh.out("exec", "cli", "cat", "/etc/hosts")
    assert f"{nets['n2']['IPAddress']}\t" in hosts and f"{nets['n1']['IPAddress']}\t" in hosts
    r = fetch(nh, "cli", "srv")
    assert r.returncode == 0 and r.stdout == "hello from hull\n", r.stderr
    # the other way, by its alias on n2
    nslook = nh.run("exec", "srv", "nslookup", "cli2", check=False)
    assert nets["n2"]["IPAddress"] in nslook.stdout, nslook.stdout
    assert any("n2.ipam" == k for k in ipam(nh))
    # network rm refuses it while cli uses it through connect
    r = nh.run("network", "rm", "n2", check=False)
    assert r.returncode == 125 and "in use" in r.stderr
    nh.run("network", "disconnect", "n2", "cli")
    assert set(nh.inspect("cli")["NetworkSettings"]["Networks"]) == {"n1"}
    assert "eth1" not in nh.out("exec", "cli", "ip", "-o", "link")
    hosts = nh.out("exec", "cli", "cat", "/etc/hosts")
    assert f"{nets['n2']['IPAddress']}\t" not in hosts and f"{nets['n1']['IPAddress']}\t" in hosts
    assert fetch(nh, "cli", ip_srv, tries=False).returncode != 0
    assert fetch(nh, "cli", "srv", tries=False).returncode != 0
    assert list(json.loads(ipam(nh)["n2.ipam"]).values()) == [nh.inspect("srv")["Id"]]
    nh.run("rm", "-f", "srv", "cli")
    nh.run("network", "rm", "n1", "n2")
    after = nh.net_state()
    assert after["netns"] == [] and after["ipam"] == {} and after["links"] == before["links"]
    assert after["mounts"] == []


def test_connect_stopped_then_start_and_restart(nh):
    before = nh.net_state()
    nh.run("network", "create", "--subnet", "10.89.7.0/24", "n3")
    nh.run("create", "--name", "c", "bb", "sh", "-c", "ip -o -4 addr; cat /etc/hosts; exit 1")
    nh.run("network", "connect", "--ip", "10.89.7.50", "n3", "c")
    # recorded, nothing set up while it is stopped
    assert ipam(nh) == {}
    assert nh.inspect("c")["NetworkSettings"]["Networks"]["n3"]["IPAddress"] == ""
    nh.run("start", "-a", "c", check=False)
    assert "10.89.7.50/24" in nh.out("logs", "c")
    assert "10.89.7.50\t" in nh.out("logs", "c")  # /etc/hosts has it too
    assert ipam(nh) == {}
    # a restart policy re-runs the same setup: no address lost or leaked
    nh.run("rm", "c")
    nh.run("create", "--name", "d", "--restart", "on-failure:3", "bb", "sh", "-c",
           "ip -o -4 addr | grep eth1; exit 1")
    nh.run("network", "connect", "n3", "d")
    nh.run("start", "d")
    import time
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        i = nh.inspect("d")
        if i["State"]["Status"] == "exited" and not i["State"]["Restarting"]:
            break
        time.sleep(0.1)
    assert nh.inspect("d")["RestartCount"] == 3
    assert len(nh.out("logs", "d").splitlines()) == 4  # an eth1 in each of the 4 runs
    assert ipam(nh) == {}
    nh.run("rm", "d")
    nh.run("network", "rm", "n3")
    after = nh.net_state()
    assert after["netns"] == [] and after["ipam"] == {} and after["links"] == before["links"]


def test_connect_refusals(nh):
    nh.run("network", "create", "n4")
    nh.run("run", "-d", "--name", "b", "bb", "sleep", "1000")
    nh.run("run", "-d", "--name", "none", "--network", "none", "bb", "sleep", "1000")
    nh.run("create", "--name", "host", "--network", "host", "bb", "true")
    cases = [
        (["connect", "nonet", "b"], "network nonet not found"),
        (["connect", "n4", "nobody"], "no such container: nobody"),
        (["connect", "bridge", "b"], "already exists in network bridge"),
        (["connect", "n4", "none"], "cannot be connected to any other network"),
        (["connect", "n4", "host"], "host network"),
        (["disconnect", "n4", "b"], "is not connected to network n4"),
        (["connect", "--ip", "300.1.1.1", "n4", "b"], "--ip 300.1.1.1"),
        (["connect", "n4"], "usage"),
    ]
    for args, msg in cases:
        r = nh.run("network", *args, check=False)
        assert r.returncode == 125 and msg in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    nh.run("network", "connect", "n4", "b")
    r = nh.run("network", "connect", "n4", "b", check=False)
    assert r.returncode == 125 and "already exists in network n4" in r.stderr
    # an address outside the subnet: refused, and nothing of it stays
    nh.run("network", "create", "--subnet", "10.89.9.0/24", "n5")
    r = nh.run("network", "connect", "--ip", "192.0.2.9", "n5", "b", check=False)
    assert r.returncode == 125 and "192.0.2.9" in r.stderr, r.stderr
    assert set(nh.inspect("b")["NetworkSettings"]["Networks"]) == {"bridge", "n4"}
    assert "n5.ipam" not in ipam(nh)
    nh.run("rm", "-f", "b", "none", "host")
    nh.run("network", "rm", "n4", "n5")
    assert ipam(nh) == {}
