"""`hull vm update --add-net network=NAME` on the host side (issue 16 item 1, docs/vmm.md
"NIC hot-plug"): the plumbing without a guest. A stand-in VMM (a Python process answering
the API's JSON lines on a unix socket, inside the test's network namespace) records each
request and whether the tap it names exists in its namespace, and says ok, or refuses every
net-add as a VMM answering 409 would. The tests check what the stand-in is given (the tap, the
MAC the network gave), the attachment (its namespace with eth0 wired to the veth, the veth's
peer and the tap in the VMM's namespace, the address in the network's allocator), and that
nothing is left (links, rules, namespace files and mounts, addresses, records) after a
--del-net, a refused plug, bad input, or the VMM killed at seeded random points followed by
`hull system prune` or `hull network inspect`. With a real guest:
tests/integration/vm/test_vmnet_hotplug.py (sandbox)."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.net

STUB = r"""
import json, socket, sys
path, out, mode = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
n = 0
open(out + ".ready", "w").close()
while True:
    c, _ = s.accept()
    data = b""
    while not data.endswith(b"\n"):
        d = c.recv(4096)
        if not d:
            break
        data += d
    if not data.strip():  # hull's first connection only asks who the peer is
        c.close()
        continue
    req = json.loads(data)
    tap = req.get("tap")
    try:  # in this namespace (/sys is the host's: nsenter --net does not remount it)
        seen = bool(tap) and socket.if_nametoindex(tap) > 0
    except OSError:
        seen = False
    with open(out, "a") as f:
        f.write(json.dumps(dict(req, tap_seen=seen)) + "\n")
    if mode == "refuse" and req["op"] == "net-add":
        rep = {"ok": False, "error": f"net-add {req['id']}: NIC id already exists"}
    elif req["op"] == "net-del" and req["id"].startswith("gone"):  # the guest ejected it
        rep = {"ok": False, "error": f"no hot-plugged NIC {req['id']}"}
    else:
        n += {"net-add": 1, "net-del": -1}.get(req["op"], 0)
        rep = {"ok": True, "id": req.get("id"), "hotplugged_nics": n}
    c.sendall((json.dumps(rep) + "\n").encode())
    c.close()
"""


class Stub:
    """The stand-in VMM in the test's namespace."""

    def __init__(self, h, tmp_path, mode="ok", tag="a"):
        script = tmp_path / "stub.py"
        script.write_text(STUB)
        self.sock = str(tmp_path / f"api-{tag}.sock")
        self.out = tmp_path / f"stub-{tag}.out"
        self.p = subprocess.Popen([*h.prefix, "/usr/bin/python3", str(script), self.sock,
                                   str(self.out), mode])
        deadline = time.monotonic() + 30
        while not os.path.exists(str(self.out) + ".ready"):
            assert self.p.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)

    def requests(self):
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=30)


@pytest.fixture
def hot(nh):
    """nh with the user network `vnet`; the state compared is the one after an attachment
    came and went (netavark's base chains stay once made)."""
    nh.run("network", "create", "vnet")
    yield nh
    nh.run("system", "prune", "-f", check=False)
    nh.run("network", "rm", "vnet", check=False)


@pytest.fixture
def stub(hot, tmp_path):
    s = Stub(hot, tmp_path)
    r = update(hot, s, "--add-net", "network=vnet,id=warm")
    assert r.returncode == 0, r.stderr
    r = update(hot, s, "--del-net", "warm")
    assert r.returncode == 0, r.stderr
    yield s
    s.kill()


def update(h, s, *args):
    return h.run("vm", "update", "--api-sock", s.sock, *args, check=False, timeout=120)


def records(h):
    d = h.root / "vms"
    return sorted(os.listdir(d)) if d.exists() else []


def links(h):
    return h.sh("ip -o link").stdout


def test_add_then_del(hot, stub):
    before = hot.net_state()
    n0 = len(stub.requests())
    r = update(hot, stub, "--add-net", "network=vnet,id=n1,mac=02:16:2b:00:00:01")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["id"] == "n1" and rep["network"] == "vnet", rep
    assert rep["mac"] == "02:16:2b:00:00:01"
    ip = rep["ip"].split("/")[0]
    [req] = stub.requests()[n0:]
    # the VMM got a tap that exists in its namespace, and the network's MAC
    assert req["op"] == "net-add" and req["id"] == "n1" and req["tap_seen"], req
    assert req["mac"] == "02:16:2b:00:00:01" and req["tap"].startswith("hht"), req
    [rid] = records(hot)
    vm = json.loads((hot.root / "vms" / rid / "vm.json").read_text())
    assert vm["Pid"] == stub.p.pid and vm["Iface"] == "n1" and vm["Tap"] == req["tap"]
    tap, veth = vm["Tap"], vm["Veth"]
    assert f" {tap}:" in links(hot) and f" {veth}@" in links(hot)
    f = hot.sh(f"tc filter show dev {tap} ingress").stdout
    assert f"Egress Redirect to device {veth}" in f, f
    netns = hot.root / "netns" / rid
    inside = subprocess.run(["nsenter", f"--net={netns}", "sh", "-c",
                             "ip -o link; ip -o -4 addr; tc filter show dev eth0 ingress"],
                            capture_output=True, text=True, check=True).stdout
    assert "hhn0@" in inside and "Egress Redirect to device hhn0" in inside, inside
    assert " eth0 " not in inside.split("tc")[0].split("inet")[-1] or "inet " not in inside
    assert ip in (hot.root / "networks/vnet.ipam").read_text()
    # a live VMM's attachment survives prune and inspect
    running = hot.net_state()
    hot.run("system", "prune", "-f")
    hot.run("network", "inspect", "vnet")
    assert records(hot) == [rid] and hot.net_state() == running
    # the network is in use by it
    r = hot.run("network", "rm", "vnet", check=False)
    assert r.returncode == 125 and f"in use by VM NIC n1 (VMM pid {stub.p.pid})" in r.stderr, \
        r.stderr
    r = update(hot, stub, "--del-net", "n1")
    assert r.returncode == 0, r.stderr
    assert stub.requests()[-1] == {"op": "net-del", "id": "n1", "tap_seen": False}
    assert records(hot) == [] and hot.net_state() == before


def test_del_of_a_nic_already_gone(hot, stub):
    """A --del-net the VMM answers with an error (the guest ejected the NIC on its own):
    the error is hull's, and the attachment goes all the same."""
    before = hot.net_state()
    r = update(hot, stub, "--add-net", "network=vnet,id=gone1")
    assert r.returncode == 0, r.stderr
    assert len(records(hot)) == 1
    r = update(hot, stub, "--del-net", "gone1")
    assert r.returncode == 125 and r.stderr == "hull vm update: no hot-plugged NIC gone1\n"
    assert records(hot) == [] and hot.net_state() == before


def test_refused_plug_leaves_nothing(hot, tmp_path):
    ok = Stub(hot, tmp_path, tag="ok")
    try:
        assert update(hot, ok, "--add-net", "network=vnet").returncode == 0
        assert update(hot, ok, "--del-net", "vnet").returncode == 0
    finally:
        ok.kill()
    before = hot.net_state()
    s = Stub(hot, tmp_path, mode="refuse", tag="no")
    try:
        r = update(hot, s, "--add-net", "network=vnet,id=n9")
        assert r.returncode == 125 and r.stdout == "", r
        assert r.stderr == "hull vm update: net-add n9: NIC id already exists\n", r.stderr
        [req] = s.requests()
        assert req["tap_seen"], req  # it was made, offered, and taken back
        assert records(hot) == [] and hot.net_state() == before
    finally:
        s.kill()


BAD = [
    ("network=", "network=: no network name"),
    ("id=x", "expected tap=IF[,mac=MAC][,id=ID][,vhost=on|off|auto] or network=NAME"),
    ("network=vnet,colour=red", "unknown key 'colour=red'"),
    ("network=vnet,id=a/b", "id=a/b: expected 1-64"),
    ("network=vnet,id=" + "x" * 65, "expected 1-64"),
    ("network=vnet,id=n,id=m", "'id=m' given twice"),
    ("network=Bad!Name", "--add-net network=Bad!Name: not a network name"),
    ("network=nosuchnet", "--add-net network=nosuchnet"),
    ("network=vnet,mac=01:00:5e:00:00:01", "--add-net mac=01:00:5e:00:00:01: not a unicast"),
    ("network=vnet,mac=zz", "--add-net mac=zz: not a unicast"),
    ("network=vnet,ip=10.99.0.7", "--add-net ip=10.99.0.7"),
    ("network=vnet,ip=300.1.1.1", "--add-net ip=300.1.1.1"),
]


def test_bad_input_makes_nothing(hot, stub):
    """One line naming --add-net and the field, exit 125, nothing made, the VMM never asked;
    the cases in a seeded random order, each also after a good value on the same command
    line, which is done first (the requests go in order)."""
    before = hot.net_state()
    rng = random.Random(0x2b16)
    cases = BAD[:]
    rng.shuffle(cases)
    for value, want in cases:
        n0 = len(stub.requests())
        r = update(hot, stub, "--add-net", value)
        assert r.returncode == 125, (value, r)
        assert r.stderr.count("\n") == 1 and "--add-net" in r.stderr and want in r.stderr, \
            (value, r.stderr)
        assert stub.requests()[n0:] == [] and records(hot) == [], value
        assert hot.net_state() == before, value
    value, want = rng.choice(cases)
    r = update(hot, stub, "--add-net", "network=vnet,id=g1", "--add-net", value)
    assert r.returncode == 125 and want in r.stderr, r
    assert [q["id"] for q in stub.requests()[-1:]] == ["g1"]
    assert update(hot, stub, "--del-net", "g1").returncode == 0
    assert records(hot) == [] and hot.net_state() == before


@pytest.mark.parametrize("sweep", ["system prune", "network inspect"])
def test_vmm_killed_at_random_points(hot, stub, tmp_path, sweep):
    """Seeded random adds and dels, the VMM SIGKILLed after a random number of them: the
    records stay (their owner is gone) until the sweep, which leaves the state as before."""
    before = hot.net_state()
    stub.kill()
    rng = random.Random(16 if sweep == "system prune" else 0x2b00)
    for round_ in range(3):
        s = Stub(hot, tmp_path, tag=f"r{round_}")
        live = set()
        try:
            for _ in range(rng.randint(1, 5)):
                if live and rng.random() < 0.4:
                    nic = rng.choice(sorted(live))
                    r = update(hot, s, "--del-net", nic)
                    assert r.returncode == 0, r.stderr
                    live.discard(nic)
                else:
                    nic = f"n{rng.randint(0, 99)}"
                    while nic in live:
                        nic = f"n{rng.randint(0, 99)}"
                    r = update(hot, s, "--add-net", f"network=vnet,id={nic}")
                    assert r.returncode == 0, r.stderr
                    live.add(nic)
            assert len(records(hot)) == len(live)
        finally:
            s.p.send_signal(signal.SIGKILL)
            s.kill()
        if sweep == "system prune":
            hot.run("system", "prune", "-f")
        else:
            hot.run("network", "inspect", "vnet")
        assert records(hot) == [] and hot.net_state() == before, round_
