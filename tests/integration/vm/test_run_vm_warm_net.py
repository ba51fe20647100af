"""`hull run --vm` on a network from the warm snapshot (issue 18 item 3, docs/engine.md "Fast
start"): the snapshot is taken with a NIC on a fixed placeholder MAC, a restore gets the
container's tap and MAC (restore --net) and NETCONF sets the guest's MAC before its addresses.

In the sandbox, in a network namespace the test makes (test_run_vm_net's fixture): the first
run builds the snapshot, later ones (a user network with -p, the default network) restore it
and look like a cold run: the MAC inspect shows, the address, the route, /etc/hosts, -p
reaching the guest's httpd, names through aardvark-dns; two restored runs at once get
different MACs and addresses and reach each other by name; a killed hull's restored VM goes
with `rm -f` and leaves the namespace as it was. Each boot or restore is costly: the checks
share few runs."""
import json
import os
import signal
import subprocess

import pytest

import test_run_vm_net as trn
from test_run_vm_net import nh  # noqa: F401 (the fixture)

PORT = 18391
WARM_MAC = "02:68:75:6c:6c:77"  # HULL_AGENT_WARM_MAC (guest/agent/proto.h)
SHOW = ("cat /sys/class/net/eth0/address; ip -o -4 addr show; ip -o link; ip route; "
        "ip neigh; hostname; cat /etc/hosts /etc/resolv.conf")


def start(nh, name):
    return nh.run("inspect", "--format", "{{.Start}}", name).stdout.strip()


def warm_keys(nh):
    return sorted(p.read_text() for p in (nh.root / "vm").glob("*/warm-*/key"))


def check_guest(nh, name, out):
    """The guest's view of its NIC: what inspect says, nothing of the snapshot's."""
    ns = nh.inspect(name)["NetworkSettings"]
    ip, mac, gw = ns["IPAddress"], ns["MacAddress"], ns["Gateway"]
    assert ip and mac and gw, ns
    assert out.split("\n")[0] == mac, out
    assert f"inet {ip}/" in out and f"default via {gw} dev eth0" in out, out
    assert WARM_MAC not in out, out
    # only /etc/hosts' lines start with an address: the container's is there
    assert any(line.split()[:1] == [ip] for line in out.splitlines()), out
    assert "nameserver" in out, out
    return ip, mac


def detached(nh, name, *args):
    return subprocess.Popen([*nh.prefix, nh.binary, "run", "-d", "--vm", "--name", name, *args,
                             "bb", "sh", "-c", trn.VM_CMD], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=nh.env)


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_warm_on_networks(nh):
    nh.run("network", "create", "vnet")
    # the first run boots and builds the snapshot with the placeholder NIC: a cold run's view
    # (running: inspect's network settings go when the container stops)
    nh.run("run", "-d", "--vm", "--name", "c0", "--network", "vnet", "bb", "sh", "-c",
           trn.VM_CMD)
    trn.logs_until(nh, "c0", "ready")
    assert start(nh, "c0") == "cold+snapshot"
    check_guest(nh, "c0", nh.run("exec", "c0", "sh", "-c", SHOW).stdout)
    nh.run("rm", "-f", "c0")
    keys = warm_keys(nh)
    assert len(keys) == 1 and f"nic tap=tap0,mac={WARM_MAC},queues=1,vhost=off\n" in keys[0], keys
    before = nh.state()
    # two restored runs at once on one network (one with -p): distinct MACs and addresses,
    # each reaches the other by name, -p reaches the guest's httpd
    procs = [detached(nh, "v1", "--network", "vnet", "-p", f"127.0.0.1:{PORT}:80"),
             detached(nh, "v2", "--network", "vnet", "--network-alias", "v2alias")]
    for p in procs:
        out, err = p.communicate(timeout=trn.WAIT)
        assert p.returncode == 0, (out, err)
    seen = {}
    for name in ("v1", "v2"):
        trn.logs_until(nh, name, "ready")
        assert start(nh, name) == "restored", nh.run("logs", name).stdout
        seen[name] = check_guest(nh, name, nh.run("exec", name, "sh", "-c", SHOW).stdout)
    assert seen["v1"][0] != seen["v2"][0] and seen["v1"][1] != seen["v2"][1], seen
    assert trn.fetch_from_ns(nh, PORT) == "from-the-vm\n"
    for a, b in (("v1", "v2"), ("v2", "v1"), ("v1", "v2alias")):
        r = nh.run("exec", a, "sh", "-c", trn.FETCH, "sh", b).stdout
        assert r == f"{seen[b.replace('alias', '')][0]} from-the-vm\n", (a, b, r)
    nh.run("rm", "-f", "v1", "v2")
    assert nh.state() == before
    # the default network: restored from the same snapshot (the NIC does not depend on it)
    nh.run("run", "-d", "--vm", "--name", "d0", "bb", "sh", "-c", trn.VM_CMD)
    trn.logs_until(nh, "d0", "ready")
    assert start(nh, "d0") == "restored"
    check_guest(nh, "d0", nh.run("exec", "d0", "sh", "-c", SHOW).stdout)
    nh.run("rm", "-f", "d0")
    assert warm_keys(nh) == keys
    after = nh.state()
    # a killed hull: the monitor and the shim SIGKILLed, the restored VMM left running in the
    # namespace; `rm -f` takes the VMM, its tap, the namespace, the address and rules
    cid = nh.run("run", "-d", "--vm", "bb", "sleep", "1000").stdout.strip()
    assert start(nh, cid) == "restored"
    st = json.loads((nh.root / "containers" / cid / "state.json").read_text())
    assert st["MonitorPid"] > 1 and st["Pid"] > 1, st
    for pid in (st["MonitorPid"], st["Pid"]):
        os.kill(pid, signal.SIGKILL)
    assert trn.vmm_procs(nh.root) != []
    nh.run("rm", "-f", cid)
    assert nh.state() == after
    nh.run("network", "rm", "vnet")
