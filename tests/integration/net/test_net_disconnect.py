"""hull network disconnect of any network, the container's first included (docker's rule,
docs/engine.md "Networks"): the container keeps running with its other networks, or with
loopback only; /etc/hosts, resolv.conf, NetworkSettings and its published ports follow;
connect gives the network back; nothing is left after rm -f. Each test in a network namespace
of its own (conftest.py)."""
import json
import os
import random

import pytest

pytestmark = pytest.mark.net

WGET = ("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O- http://{h}/ && exit 0; "
        "sleep 0.3; done; exit 1")
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]


def fetch(nh, ctr, host, tries=True):
    script = WGET.format(h=host) if tries else f"timeout 3 wget -q -O- http://{host}/ || exit 1"
    return nh.run("exec", ctr, "sh", "-c", script, check=False)


def host_fetch(nh, port):
    return nh.sh(f"python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen("
                 f"\"http://127.0.0.1:{port}/\", timeout=3).read().decode())'", check=False)


def owners(nh, net):
    """The container ids holding an address of network net."""
    text = nh.net_state()["ipam"].get(f"{net}.ipam")
    return sorted(json.loads(text).values()) if text else []


def nets_of(nh, ctr):
    return nh.inspect(ctr)["NetworkSettings"]["Networks"]


def gateway(nh, net):
    return json.loads(nh.out("network", "inspect", net))[0]["IPAM"]["Config"][0]["Gateway"]


def assert_clean(nh, before):
    after = nh.net_state()
    assert after["netns"] == [] and after["ipam"] == {} and after["mounts"] == []
    assert after["links"] == before["links"]
    assert after["rules"] == before["rules"]


def test_disconnect_first_of_two_running(nh):
    nh.run("run", "--rm", "bb", "true")  # netavark's base chains exist from here on
    before = nh.net_state()
    nh.run("network", "create", "n1")
    nh.run("network", "create", "n2")
    nh.run("run", "-d", "--name", "a", "--network", "n1", "-p", "127.0.0.1:18230:80", "bb",
           *HTTPD)
    nh.run("network", "connect", "n2", "a")
    nh.run("run", "-d", "--name", "p1", "--network", "n1", "bb", *HTTPD)
    nh.run("run", "-d", "--name", "p2", "--network", "n2", "bb", *HTTPD)
    a = nh.inspect("a")
    ip1 = a["NetworkSettings"]["Networks"]["n1"]["IPAddress"]
    ip2 = a["NetworkSettings"]["Networks"]["n2"]["IPAddress"]
    assert fetch(nh, "a", "p1").returncode == 0 and fetch(nh, "p1", "a").returncode == 0
    assert host_fetch(nh, 18230).stdout == "hello from hull\n"

    nh.run("network", "disconnect", "n1", "a")
    i = nh.inspect("a")
    assert i["State"]["Running"] and set(i["NetworkSettings"]["Networks"]) == {"n2"}
    assert i["NetworkSettings"]["IPAddress"] == ""
    assert i["NetworkSettings"]["Ports"] == {"80/tcp": []}
    assert i["HostConfig"]["NetworkMode"] == "n1"  # what was asked, as docker keeps it
    links = nh.out("exec", "a", "ip", "-o", "link")
    assert " eth0" not in links and " eth1" in links
    files = nh.out("exec", "a", "cat", "/etc/hosts", "/etc/resolv.conf")
    assert f"{ip1}\t" not in files and f"{ip2}\t" in files
    assert f"nameserver {gateway(nh, 'n2')}" in files
    assert f"nameserver {gateway(nh, 'n1')}" not in files
    # n2 both ways, by name and address; n1 neither way
    for src, dst in (("a", "p2"), ("p2", "a"), ("a", nets_of(nh, "p2")["n2"]["IPAddress"]),
                     ("p2", ip2)):
        r = fetch(nh, src, dst)
        assert r.returncode == 0 and r.stdout == "hello from hull\n", (src, dst, r.stderr)
    for src, dst in (("a", "p1"), ("a", nets_of(nh, "p1")["n1"]["IPAddress"]), ("p1", "a"),
                     ("p1", ip1)):
        assert fetch(nh, src, dst, tries=False).returncode != 0, (src, dst)
    # its published port went with its first network
    assert host_fetch(nh, 18230).returncode != 0
    assert nh.out("port", "a") == ""
    assert "18230" not in nh.out("ps") and "80/tcp" in nh.out("ps", "--filter", "name=a")
    assert owners(nh, "n1") == [nh.inspect("p1")["Id"]]
    assert not [r for r in nh.net_state()["rules"] if "18230" in r]
    r = nh.run("network", "disconnect", "n1", "a", check=False)
    assert r.returncode == 125 and "is not connected to network n1" in r.stderr

    # back: eth0 again, with the published port
    nh.run("network", "connect", "n1", "a")
    assert set(nets_of(nh, "a")) == {"n1", "n2"}
    assert " eth0" in nh.out("exec", "a", "ip", "-o", "link")
    assert fetch(nh, "p1", "a").returncode == 0
    assert fetch(nh, "a", "p1").returncode == 0
    r = None
    for _ in range(20):
        r = host_fetch(nh, 18230)
        if r.returncode == 0:
            break
    assert r.stdout == "hello from hull\n", r.stderr
    assert "127.0.0.1:18230->80/tcp" in nh.out("ps", "--filter", "name=a")
    nh.run("rm", "-f", "a", "p1", "p2")
    nh.run("network", "rm", "n1", "n2")
    assert_clean(nh, before)


def test_disconnect_only_network_then_stop_start(nh):
    nh.run("run", "--rm", "bb", "true")
    before = nh.net_state()
    cid = nh.out("run", "-d", "--name", "c", "-p", "127.0.0.1:18231:80", "bb", *HTTPD).strip()
    ip = nh.inspect("c")["NetworkSettings"]["IPAddress"]
    nh.run("network", "disconnect", "bridge", "c")
    i = nh.inspect("c")
    assert i["State"]["Running"] and i["NetworkSettings"]["Networks"] == {}
    assert i["NetworkSettings"]["SandboxKey"]  # the namespace stays, with loopback
    out = nh.out("exec", "c", "sh", "-c", "ip -o link; ip -o -4 addr; cat /etc/hosts")
    assert "eth0" not in out and " lo " in out and "127.0.0.1/8" in out and f"{ip}\t" not in out
    assert fetch(nh, "c", "127.0.0.1").returncode == 0  # loopback is up
    assert host_fetch(nh, 18231).returncode != 0
    state = nh.net_state()
    assert state["ipam"] == {} and state["netns"] == [cid]
    assert not [r for r in state["rules"] if "18231" in r or cid in r]
    # a stop and start with no network: loopback only, and nothing made or lost
    nh.run("stop", "-t", "0", "c")
    assert nh.net_state()["netns"] == []
    nh.run("start", "c")
    assert nh.net_state()["ipam"] == {}
    assert "eth0" not in nh.out("exec", "c", "ip", "-o", "link")
    # connect gives the network back, as its first one (eth0, the published port)
    nh.run("network", "connect", "bridge", "c")
    assert " eth0" in nh.out("exec", "c", "ip", "-o", "link")
    assert nh.inspect("c")["NetworkSettings"]["IPAddress"].startswith("172.17.")
    r = None
    for _ in range(20):
        r = host_fetch(nh, 18231)
        if r.returncode == 0:
            break
    assert r.stdout == "hello from hull\n", r.stderr
    nh.run("network", "disconnect", "bridge", "c")
    nh.run("rm", "-f", "c")
    assert_clean(nh, before)


def test_disconnect_stopped_container(nh):
    nh.run("run", "--rm", "bb", "true")
    before = nh.net_state()
    nh.run("network", "create", "--subnet", "10.89.21.0/24", "m1")
    nh.run("network", "create", "--subnet", "10.89.22.0/24", "m2")
    nh.run("create", "--name", "s", "--network", "m1", "bb", "sh", "-c",
           "ip -o -4 addr; cat /etc/hosts /etc/resolv.conf")
    nh.run("network", "connect", "m2", "s")
    nh.run("network", "disconnect", "m1", "s")
    assert set(nets_of(nh, "s")) == {"m2"}
    nh.run("start", "-a", "s")
    logs = nh.out("logs", "s")
    assert "10.89.22." in logs and "10.89.21." not in logs and "eth0" not in logs
    assert "nameserver 10.89.22.1" in logs and "nameserver 10.89.21.1" not in logs
    assert nh.net_state()["ipam"] == {}
    nh.run("network", "disconnect", "m2", "s")
    nh.run("network", "rm", "m1", "m2")  # no longer in use by s
    nh.run("start", "-a", "s")
    logs = nh.out("logs", "s").split("127.0.0.1\tlocalhost")[-1]
    assert "10.89.2" not in logs
    nh.run("network", "create", "--subnet", "10.89.23.0/24", "m3")
    nh.run("network", "connect", "m3", "s")
    nh.run("start", "-a", "s")
    assert "10.89.23." in nh.out("logs", "s").split("ip6-allrouters")[-1]
    nh.run("rm", "s")
    nh.run("network", "rm", "m3")
    assert_clean(nh, before)


def test_random_connect_disconnect_sequences(nh):
    """Seeded random connect/disconnect/stop/start/rm -f on 3 networks and 4 containers; after
    each step the inspect and the allocations agree with the model; at the end nothing is
    left."""
    seed = int(os.environ.get("HULL_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    nh.run("run", "--rm", "bb", "true")
    before = nh.net_state()
    nets = ["r1", "r2", "r3"]
    for k, n in enumerate(nets):
        nh.run("network", "create", "--subnet", f"10.89.{31 + k}.0/24", n)
    model = {}  # name -> {"nets": set, "running": bool}

    def make(name):
        net = rng.choice(nets)
        nh.run("run", "-d", "--name", name, "--network", net, "bb", "sleep", "100000")
        model[name] = {"nets": {net}, "running": True}

    for c in ("c0", "c1", "c2", "c3"):
        make(c)
    for step in range(40):
        c = rng.choice(sorted(model))
        m = model[c]
        op = rng.choice(["connect", "disconnect", "disconnect", "stop", "start", "rm"])
        what = f"seed {seed} step {step}: {op} {c} {m}"
        if op == "connect" and len(m["nets"]) < 3:
            net = rng.choice(sorted(set(nets) - m["nets"]))
            nh.run("network", "connect", net, c)
            m["nets"].add(net)
        elif op == "disconnect" and m["nets"]:
            net = rng.choice(sorted(m["nets"]))
            nh.run("network", "disconnect", net, c)
            m["nets"].discard(net)
        elif op == "stop" and m["running"]:
            nh.run("stop", "-t", "0", c)
            m["running"] = False
        elif op == "start" and not m["running"]:
            nh.run("start", c)
            m["running"] = True
        elif op == "rm":
            nh.run("rm", "-f", c)
            del model[c]
            make(c)
        for name, mm in model.items():
            i = nh.inspect(name)
            assert set(i["NetworkSettings"]["Networks"]) == mm["nets"], (what, name)
            assert i["State"]["Running"] == mm["running"], (what, name)
        ids = {name: nh.inspect(name)["Id"] for name in model}
        for n in nets:
            want = sorted(ids[name] for name, mm in model.items()
                          if mm["running"] and n in mm["nets"])
            assert owners(nh, n) == want, (what, n)
        running = sorted(ids[name] for name, mm in model.items() if mm["running"])
        assert nh.net_state()["netns"] == running, what
    nh.run("rm", "-f", *sorted(model))
    nh.run("network", "rm", *nets)
    assert_clean(nh, before)


def test_bridge_keeps_its_mac_when_a_container_leaves(nh):
    """A bridge takes the lowest MAC of its ports unless one is set on it: the container whose
    veth gave it leaving must not change the gateway's MAC under the others (their ARP entry
    would point nowhere for half a minute: no DNS, no outside)."""
    before = nh.net_state()
    nh.run("network", "create", "--subnet", "10.89.41.0/24", "k1")
    for c in ("k0", "k1c", "k2"):
        nh.run("run", "-d", "--name", c, "--network", "k1", "bb", "sleep", "100000")
    iface = json.loads(nh.out("network", "inspect", "k1"))[0]["Options"][
        "com.docker.network.bridge.name"]

    def sysfs(cmd):
        """cmd with /sys/class/net of the test's namespace (sysfs shows the one it was
        mounted in)."""
        return nh.sh(f"unshare -m sh -c 'mount -t sysfs none /sys && {cmd}'").stdout.strip()

    mac = sysfs(f"cat /sys/class/net/{iface}/address")
    ports = sysfs(f"ls /sys/class/net/{iface}/brif").split()
    # the container whose host-side veth gave the bridge its MAC leaves
    macs = dict(zip(ports, sysfs("cd /sys/class/net && cat " +
                                 " ".join(f"{p}/address" for p in ports)).split()))
    idxs = dict(zip(ports, sysfs("cd /sys/class/net && cat " +
                                 " ".join(f"{p}/ifindex" for p in ports)).split()))
    peer = {c: [p for p in ports if idxs[p] == nh.out("exec", c, "cat",
                                                        "/sys/class/net/eth0/iflink").strip()][0]
            for c in ("k0", "k1c", "k2")}
    leaving = [c for c in peer if macs[peer[c]] == mac]
    stays = [c for c in peer if c not in leaving]
    assert len(leaving) == 1 and len(stays) == 2
    nh.run("rm", "-f", *leaving)
    assert sysfs(f"cat /sys/class/net/{iface}/address") == mac
    assert sysfs(f"cat /sys/class/net/{iface}/addr_assign_type") == "3"
    r = nh.run("exec", stays[0], "nslookup", stays[1], check=False)
    assert r.returncode == 0 and "10.89.41." in r.stdout, r.stdout
    nh.run("rm", "-f", *stays)
    nh.run("network", "rm", "k1")
    after = nh.net_state()
    assert after["netns"] == [] and after["ipam"] == {} and after["links"] == before["links"]
