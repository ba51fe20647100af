"""`hull run --vm` on hull's networks (issue 18 item 2, docs/engine.md "hull run --vm"):
the engine sets the container's network up as for a container, wires a tap in its namespace
to eth0, runs the VMM there with the NIC, and the guest agent configures the interface
(NETCONF, docs/vm-agent.md).

Everything runs inside a network namespace the test makes (hull entered with nsenter, as
tests/integration/net/ do), and the end state is compared: links, iptables rules, namespace
files, IPAM allocations, hull-vmm processes.

Host side, no KVM: --network host / container: refused with one line and nothing left;
--mac-address (a container's, and the refusals for both kinds); a taken
host port refused before any VM boots (at create, and at start); the agent's NETCONF over its
test socket (hull-agent --unix decodes and acknowledges, applies nothing).

In the sandbox (a boot each is 15-60 s: the checks are combined per boot): a VM container and
a container on one user network reach each other by name through aardvark-dns, `-p` reaches
the busybox httpd in the VM from the namespace's host side, inspect/ps/port show the VM's
address and ports, /etc/hosts carries --add-host and the hostname; the default network gives
eth0 an address and a default route, --network none leaves only lo."""
import glob
import ipaddress
import json
import os
import pathlib
import random
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from vmhelpers import find_kernel, vmm_procs
from vmhelpers import agent_frame as frame, agent_read_frame as read_frame
from vmhelpers import agent_proc_payload, agent_session

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from engine_helpers import Hull, cleanup_store, make_rootfs  # noqa: E402

WAIT = 600  # a boot in the sandbox (nested KVM under TCG) is slow
PORT = 18381


class NsHull(Hull):
    """hull against a private store, inside network namespace ns (nsenter: no mount ns)."""

    def __init__(self, binary, root, ns):
        super().__init__(binary, root)
        self.ns = ns
        self.prefix = ["nsenter", f"--net=/run/netns/{ns}"]

    def run(self, *args, check=True, input=None, timeout=WAIT, **kw):
        r = subprocess.run([*self.prefix, self.binary, *map(str, args)], capture_output=True,
                           text=True, env=self.env, input=input, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(map(str, args))} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def sh(self, cmd, check=True, timeout=60):
        return subprocess.run([*self.prefix, "sh", "-c", cmd], capture_output=True, text=True,
                              check=check, timeout=timeout)

    def state(self):
        """What must be back as it was."""
        rules = sorted(x for x in self.sh("iptables-save").stdout.splitlines()
                       if x.startswith("-A"))
        links = sorted(x.split(":")[1].strip().split("@")[0]
                       for x in self.sh("ip -o link").stdout.splitlines())
        nsd = self.root / "netns"
        allocs = {}
        for f in sorted((self.root / "networks").glob("*.ipam")):
            text = f.read_text().strip()
            if text not in ("", "{}"):
                allocs[f.name] = text
        ctrs = self.root / "containers"
        return {"rules": rules, "links": links,
                "netns": sorted(os.listdir(nsd)) if nsd.exists() else [],
                "ipam": allocs, "vmm": vmm_procs(self.root),
                "containers": sorted(p.name for p in ctrs.iterdir()
                                     if not p.name.startswith(".")) if ctrs.exists() else [],
                "vm-run": sorted(p.name for p in (self.root / "vm/run").glob("*"))}


def ns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


@pytest.fixture
def nh(hull, tmp_path):
    if not os.path.exists("/bin/busybox"):
        pytest.skip("busybox-static not installed")
    if not find_kernel():
        pytest.skip("no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)")
    ns = f"hvn-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
    root = make_rootfs(tmp_path / "rootfs")
    (root / "www").mkdir()
    (root / "www/index.html").write_text("hello from the container\n")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    h = NsHull(hull, tmp_path / "store", ns)
    api_dirs = set(glob.glob("/tmp/hull-vm-*"))
    try:
        h.run("import", tar, "bb")
        yield h
    finally:
        ids = h.run("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
        if ids:
            h.run("rm", "-f", *ids, check=False)
        left = vmm_procs(h.root)
        for p in left:
            os.kill(p, signal.SIGKILL)
        cleanup_store(h)
        for p in ns_pids(ns):
            os.kill(p, signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], check=True)
        assert not os.path.exists(f"/run/netns/{ns}")
        assert left == [], "hull-vmm processes left"
        assert sorted(set(glob.glob("/tmp/hull-vm-*")) - api_dirs) == []


# ---- host side: no KVM needed -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["host", "container:other"])
@pytest.mark.parametrize("cmd", ["run", "create"])
def test_vm_network_refused(nh, mode, cmd):
    before = nh.state()
    r = nh.run(cmd, "--vm", "--network", mode, "-d", "bb", "true", check=False)
    assert r.returncode == 125, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert f"--network {mode}: not with --vm" in r.stderr, r.stderr
    assert r.stdout == ""
    assert nh.state() == before


def test_mac_address(nh):
    """--mac-address, a container's as a VM's (netavark's static_mac): the interface has it,
    inspect shows it; a bad one or one without a bridge network is one line, nothing made."""
    nh.run("network", "create", "vnet")
    mac = "02:00:5e:12:34:56"
    r = nh.run("run", "--rm", "--network", "vnet", "--mac-address", mac.upper(), "bb", "cat",
               "/sys/class/net/eth0/address")
    assert r.stdout == mac + "\n", r
    before = nh.state()
    for args, msg in ((["--mac-address", "01:00:5e:00:00:01"], "not a unicast MAC address"),
                      (["--mac-address", "02:00:5e:12:34"], "not a unicast MAC address"),
                      (["--mac-address", "00:00:00:00:00:00"], "not a unicast MAC address"),
                      (["--mac-address", "02:00:5e:12:34:5g"], "not a unicast MAC address"),
                      (["--network", "none", "--mac-address", mac], "needs a bridge network")):
        for vm in ([], ["--vm"]):
            r = nh.run("create", *vm, *args, "bb", "true", check=False)
            assert r.returncode == 125 and r.stderr.count("\n") == 1, r
            assert "--mac-address" in r.stderr and msg in r.stderr, r.stderr
            assert nh.state() == before


def listener(nh, port):
    """A TCP listener on 127.0.0.1:port inside the namespace, held by a child process."""
    p = subprocess.Popen([*nh.prefix, sys.executable, "-c",
                          "import socket,sys,time\n"
                          "s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); "
                          "s.listen(); print('up', flush=True); sys.stdin.read()", str(port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    return p


def test_vm_taken_port_refused_before_boot(nh):
    nh.run("network", "create", "vnet")
    before = nh.state()
    holder = listener(nh, PORT)
    try:
        # at create: nothing is made
        r = nh.run("run", "--vm", "-d", "--network", "vnet", "-p", f"127.0.0.1:{PORT}:80",
                   "bb", "true", check=False)
        assert r.returncode == 125, r
        assert r.stderr.count("\n") == 1, r.stderr
        assert f"host port 127.0.0.1:{PORT}/tcp is already in use" in r.stderr, r.stderr
        assert nh.state() == before
        # at start (taken after create): the VM never boots, its network is torn down
        holder.stdin.close()
        holder.wait(timeout=60)
        cid = nh.run("create", "--vm", "--name", "late", "--network", "vnet", "-p",
                     f"127.0.0.1:{PORT}:80", "bb", "true").stdout.strip()
        created = nh.state()
        holder = listener(nh, PORT)
        r = nh.run("start", "late", check=False)
        assert r.returncode != 0, r
        assert f"host port 127.0.0.1:{PORT}/tcp is already in use" in r.stderr, r.stderr
        assert not (nh.root / "vm/run" / cid).exists()
        assert nh.state() == created
        assert not os.path.exists(nh.root / "vm/run" / cid / "console.log")
        nh.run("rm", "late")
        assert nh.state() == before
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def agent_bin(build):
    return str(build / "guest/agent/hull-agent")


def nic(mac=b"\x02\0\0\0\0\x01", p4=24, mtu=0, a4=b"\x0a\0\0\x02", g4=b"\x0a\0\0\x01",
        p6=0, a6=b"\0" * 16, g6=b"\0" * 16):
    return mac + bytes([p4, p6]) + struct.pack("<I", mtu) + a4 + g4 + a6 + g6


def netconf(*nics, count=None):
    return struct.pack("<HH", len(nics) if count is None else count, 0) + b"".join(nics)


def test_agent_netconf_frame(build, tmp_path):
    """NETCONF on the agent's test socket: ACK and the session goes on to an EXEC; a bad one
    is an ERROR naming NETCONF and the connection closes; seeded random ones never kill the
    agent."""
    path = str(tmp_path / "agent.sock")
    p = subprocess.Popen([agent_bin(build), "--unix", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(500):
            if os.path.exists(path):
                break
            time.sleep(0.01)
        s = agent_session(path)
        s.sendall(frame(14, netconf(nic(), nic(mac=b"\x02\0\0\0\0\x02", mtu=1400))))
        assert read_frame(s) == (12, b"\0\0\0\0")
        s.sendall(frame(3, agent_proc_payload(["echo", "after"])))
        got = []
        while (f := read_frame(s)) is not None:
            got.append(f)
            if f[0] == 10:
                break
        assert (8, b"after\n") in got and got[-1] == (10, b"\0\0\0\0"), got
        s.close()
        bad = [netconf(nic(mac=b"\x01\0\0\0\0\x01")), netconf(nic(p4=33)),
               netconf(nic(), count=2), netconf(nic(), nic()), netconf(nic(mtu=20))]
        for b in bad:
            s = agent_session(path)
            s.sendall(frame(14, b))
            f = read_frame(s)
            assert f and f[0] == 11 and f[1].startswith(b"NETCONF: "), f
            assert read_frame(s) is None
            s.close()
        rng = random.Random(1818)
        for i in range(200):
            s = agent_session(path)
            n = rng.randrange(0, 10)
            body = bytearray(netconf(*[nic(mac=bytes([2, 0, 0, 0, 0, k])) for k in range(n)]))
            for _ in range(rng.randrange(0, 4)):
                if body:
                    body[rng.randrange(len(body))] = rng.randrange(256)
            try:
                s.sendall(frame(14, bytes(body)))
                s.shutdown(socket.SHUT_WR)
                while (f := read_frame(s)) is not None:
                    assert f[0] in (11, 12), f
            except (BrokenPipeError, ConnectionResetError):
                pass
            s.close()
            assert p.poll() is None, p.stderr.read()
    finally:
        p.kill()
        p.wait(timeout=60)
        p.stderr.close()


# ---- in the sandbox: VMs ------------------------------------------------------------------

def logs_until(nh, name, marker):
    for _ in range(WAIT):
        out = nh.run("logs", name, check=False).stdout
        if marker in out:
            return out
        time.sleep(1)
    raise AssertionError(nh.run("logs", name, check=False))


def fetch_from_ns(nh, port):
    """GET / on 127.0.0.1:port from the namespace's host side (bounded retries)."""
    code = (f"import urllib.request,sys\n"
            f"print(urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=30)"
            f".read().decode(), end='')")
    r = None
    for _ in range(30):
        r = subprocess.run([*nh.prefix, sys.executable, "-c", code], capture_output=True,
                           text=True, timeout=120)
        if r.returncode == 0:
            return r.stdout
        time.sleep(1)
    raise AssertionError(r)


# in the guest: name -> address through aardvark-dns (busybox nslookup), then HTTP with nc
FETCH = r"""
for i in $(seq 1 60); do
	a=$(nslookup "$1" 2>/dev/null | sed -n 's/^Address:[[:space:]]*\([0-9.]*\)$/\1/p' | tail -1)
	r=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "$a" 80 2>/dev/null)
	case "$r" in "HTTP/1."*" 200 "*) echo "$a $(echo "$r" | tail -1)"; exit 0 ;; esac
	sleep 1
done
echo "NOTHING $a"
"""

VM_CMD = ("mkdir -p /tmp/www; echo from-the-vm > /tmp/www/index.html; httpd -p 80 -h /tmp/www;"
          " echo ready; while :; do sleep 1; done")


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_on_user_network(nh):
    nh.run("network", "create", "vnet")
    nh.run("run", "-d", "--name", "web", "--network", "vnet", "bb", "httpd", "-f", "-p", "80",
           "-h", "/www")
    before = nh.state()
    nh.run("run", "-d", "--vm", "--name", "vm1", "--network", "vnet", "--network-alias",
           "vmalias", "--mac-address", "02:42:ac:1f:00:99", "--hostname", "vmhost", "--add-host", "extra.test:10.1.2.3", "-p",
           f"127.0.0.1:{PORT}:80", "bb", "sh", "-c", VM_CMD)
    logs_until(nh, "vm1", "ready")
    # the namespace's host side reaches the guest's httpd through -p
    assert fetch_from_ns(nh, PORT) == "from-the-vm\n"
    ns = nh.inspect("vm1")["NetworkSettings"]
    ip, mac = ns["IPAddress"], ns["MacAddress"]
    assert ip.count(".") == 3 and ns["Gateway"] and mac == "02:42:ac:1f:00:99", ns
    assert ns["Networks"]["vnet"]["IPAddress"] == ip, ns
    assert ns["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(PORT)}]}, ns
    assert f"127.0.0.1:{PORT}->80/tcp" in nh.run("ps").stdout
    assert nh.run("port", "vm1").stdout.strip() == f"80/tcp -> 127.0.0.1:{PORT}"
    # the guest's side: the address on the NIC with eth0's MAC, the route, the files
    g = nh.run("exec", "vm1", "sh", "-c", "ip -o -4 addr show; ip -o link; ip route; "
               "hostname; cat /etc/hosts").stdout
    assert f"inet {ip}/" in g and mac in g, g
    assert f"default via {ns['Gateway']}" in g, g
    assert "vmhost" in g and "10.1.2.3\textra.test" in g.replace(" ", "\t"), g
    # the VM reaches the container by name, the container the VM by name and alias
    web_ip = nh.inspect("web")["NetworkSettings"]["IPAddress"]
    r = nh.run("exec", "vm1", "sh", "-c", FETCH, "sh", "web").stdout
    assert r == f"{web_ip} hello from the container\n", r
    for name in ("vm1", "vmalias"):
        r = nh.run("exec", "web", "sh", "-c", FETCH, "sh", name).stdout
        assert r == f"{ip} from-the-vm\n", (name, r)
    # rm -f of the running VM: the VMM, its tap, namespace, address and rules go
    nh.run("rm", "-f", "vm1")
    assert nh.state() == before
    nh.run("rm", "-f", "web")
    nh.run("network", "rm", "vnet")


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_default_network_and_none(nh):
    show = "ls /sys/class/net; ip -o -4 addr show; ip route"
    # the first run makes the default network's bridge and base rules, which stay (as with
    # podman): the state compared is the one after it
    r = nh.run("run", "--rm", "--vm", "bb", "sh", "-c", show).stdout
    cfg = json.loads(nh.run("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]
    gw = cfg["Gateway"]
    assert cfg["Subnet"].endswith("/16"), cfg
    prefix = gw.rsplit(".", 2)[0] + "."
    assert re.search(rf"eth0\s+inet {re.escape(prefix)}\d+\.\d+/\d+ ", r), r
    assert f"default via {gw} dev eth0" in r, r
    after = nh.state()
    assert after["netns"] == [] and after["ipam"] == {} and after["containers"] == []
    r = nh.run("run", "--rm", "--vm", "--network", "none", "bb", "sh", "-c", show).stdout
    assert r.split("\n")[0] == "lo" and "eth0" not in r and "scope global" not in r, r
    assert nh.state() == after
    # a killed hull: the monitor and the shim SIGKILLed, the VMM left running in the
    # namespace; `rm -f` takes the VMM, its tap, the namespace, the address and rules
    cid = nh.run("run", "-d", "--vm", "bb", "sleep", "1000").stdout.strip()
    st = json.loads((nh.root / "containers" / cid / "state.json").read_text())
    assert st["MonitorPid"] > 1 and st["Pid"] > 1, st
    for pid in (st["MonitorPid"], st["Pid"]):
        os.kill(pid, signal.SIGKILL)
    assert vmm_procs(nh.root) != []
    nh.run("rm", "-f", cid)
    assert nh.state() == after


# in a guest or a container: this interface's global IPv6 address (bounded wait for DAD)
ADDR6 = r"""
for i in $(seq 1 60); do
	a=$(ip -o -6 addr show dev eth0 scope global | sed -n 's/.* inet6 \([0-9a-f:]*\)\/.*/\1/p')
	[ -n "$a" ] && { echo "$a"; exit 0; }
	sleep 1
done
"""
# TCP over IPv6 to $1 port 80 (busybox nc: its static wget crashes), bounded retries
GET6 = r"""
for i in $(seq 1 60); do
	r=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "$1" 80 2>/dev/null)
	case "$r" in "HTTP/1."*" 200 "*) echo "$r" | tail -1; exit 0 ;; esac
	sleep 1
done
echo NOTHING
"""


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_on_ipv6_network(nh):
    """guest18: a VM container on an --ipv6 network has its IPv6 address and default route
    (NETCONF); ping6 and TCP over IPv6 both ways between it and a container."""
    nh.run("network", "create", "--ipv6", "v6net")
    nh.run("run", "-d", "--name", "web6", "--network", "v6net", "bb", "httpd", "-f", "-p",
           "80", "-h", "/www")
    before = nh.state()
    nh.run("run", "-d", "--vm", "--name", "vm6", "--network", "v6net", "bb", "sh", "-c",
           VM_CMD)
    logs_until(nh, "vm6", "ready")
    sub6 = [c for c in json.loads(nh.run("network", "inspect", "v6net").stdout)[0]["IPAM"]
            ["Config"] if ":" in c["Subnet"]]
    assert len(sub6) == 1, sub6
    vm6 = nh.run("exec", "vm6", "sh", "-c", ADDR6).stdout.strip()
    web6 = nh.run("exec", "web6", "sh", "-c", ADDR6).stdout.strip()
    net6 = ipaddress.ip_network(sub6[0]["Subnet"])
    assert ipaddress.ip_address(vm6) in net6 and ipaddress.ip_address(web6) in net6, \
        (vm6, web6, net6)
    assert vm6 != web6
    g = nh.run("exec", "vm6", "sh", "-c", "ip -o -6 addr show dev eth0; ip -6 route").stdout
    assert f"inet6 {vm6}/{net6.prefixlen}" in g, g
    assert re.search(r"default via [0-9a-f:]+ dev eth0", g), g
    r = nh.run("exec", "vm6", "ping6", "-c", "3", "-W", "10", web6, check=False)
    assert r.returncode == 0 and " 0% packet loss" in r.stdout, r
    assert nh.run("exec", "vm6", "sh", "-c", GET6, "sh", web6).stdout == \
        "hello from the container\n"
    assert nh.run("exec", "web6", "sh", "-c", GET6, "sh", vm6).stdout == "from-the-vm\n"
    nh.run("rm", "-f", "vm6")
    assert nh.state() == before
    nh.run("rm", "-f", "web6")
    nh.run("network", "rm", "v6net")


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_on_two_networks(nh):
    """guest18: a VM container given a second network (`network connect` before start, as a
    container takes one) has eth0 and eth1 with their addresses, and reaches a container on
    each network by name; `network connect` while the VM runs is refused with one line."""
    nh.run("network", "create", "na")
    nh.run("network", "create", "nb")
    nh.run("run", "-d", "--name", "wa", "--network", "na", "bb", "httpd", "-f", "-p", "80",
           "-h", "/www")
    nh.run("run", "-d", "--name", "wb", "--network", "nb", "bb", "httpd", "-f", "-p", "80",
           "-h", "/www")
    before = nh.state()
    nh.run("create", "--vm", "--name", "vm2", "--network", "na", "bb", "sh", "-c", VM_CMD)
    nh.run("network", "connect", "nb", "vm2")
    nh.run("start", "vm2")
    logs_until(nh, "vm2", "ready")
    nets = nh.inspect("vm2")["NetworkSettings"]["Networks"]
    assert set(nets) == {"na", "nb"}, nets
    g = nh.run("exec", "vm2", "sh", "-c", "ls /sys/class/net; ip -o -4 addr show").stdout
    assert g.split("\n")[:3] == ["eth0", "eth1", "lo"], g
    for n in ("na", "nb"):
        assert f"inet {nets[n]['IPAddress']}/" in g, (n, g)
    for name in ("wa", "wb"):
        ip = nh.inspect(name)["NetworkSettings"]["IPAddress"]
        r = nh.run("exec", "vm2", "sh", "-c", FETCH, "sh", name).stdout
        assert r == f"{ip} hello from the container\n", (name, r)
    r = nh.run("network", "connect", "bridge", "vm2", check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r
    assert "runs in a VM" in r.stderr, r
    nh.run("rm", "-f", "vm2")
    assert nh.state() == before
    nh.run("rm", "-f", "wa", "wb")
    nh.run("network", "rm", "na", "nb")
