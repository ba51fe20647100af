"""`hull vm run --net network=NAME` on the host side (issue 16 item 1, docs/vmm.md
"Networking"): the plumbing without a VM. HULL_VMNET_EXEC makes hull exec a stand-in for the
VMM (a shell script) in the VM's network namespace, so these tests see what the VMM would get
(argv: the tap and MAC, the guest's address on the kernel command line; the namespace with
tap0, the tc redirects, eth0 without its address) and that nothing is left after the VMM
exits, after SIGTERM, and after `hull vm run` is SIGKILLed at random points and `hull system
prune` or `hull network rm` ran. The guest's side of the configuration (/etc/hull-net of
`hull vm initramfs`) runs here under busybox in a namespace of its own. Packets through a
real guest: tests/integration/vm/test_vmnet.py (sandbox)."""
import json
import os
import random
import re
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.net

STUB = """#!/bin/sh
# a stand-in for the VMM: what it was given, then exit or wait for SIGTERM
trap 'echo TERM >> "$STUB_OUT.term"; exit 0' TERM
trap 'echo INT >> "$STUB_OUT.term"; exit 9' INT
{ echo "$@" | tr ' ' '\\n'; readlink /proc/self/ns/net; } > "$STUB_OUT.tmp"
mv "$STUB_OUT.tmp" "$STUB_OUT"
if [ -n "$STUB_WAIT" ]; then while :; do sleep 0.05; done; fi
exit "${STUB_RC:-0}"
"""


@pytest.fixture
def vmh(nh, tmp_path):
    """nh with a user network `vnet` and the stand-in VMM."""
    stub = tmp_path / "stub.sh"
    stub.write_text(STUB)
    stub.chmod(0o755)
    nh.env = dict(nh.env, HULL_VMNET_EXEC=str(stub), STUB_OUT=str(tmp_path / "stub.out"))
    nh.run("network", "create", "vnet")
    nh.stub_out = tmp_path / "stub.out"
    # netavark's base chains stay once made (as with podman): the states compared below are
    # those after one VM came and went
    r = run(nh, vm_argv("--net", "network=vnet", "-p", "127.0.0.1:18079:80"))
    assert r.returncode == 0, r.stderr
    nh.stub_out.unlink()
    yield nh
    nh.run("system", "prune", "-f", check=False)
    nh.run("network", "rm", "vnet", check=False)
    assert not list((nh.root / "vms").glob("*")) if (nh.root / "vms").exists() else True


def popen(h, args, **env):
    """hull in the test's namespace, with more environment."""
    return subprocess.Popen([*h.prefix, h.binary, *args], env=dict(h.env, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(h, args, **env):
    return subprocess.run([*h.prefix, h.binary, *args], env=dict(h.env, **env),
                          capture_output=True, text=True, timeout=120)


def vm_argv(*extra):
    return ["vm", "run", "--kernel", "/nonexistent", *extra]


def records(h):
    d = h.root / "vms"
    return sorted(os.listdir(d)) if d.exists() else []


def wait_file(path, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc is None or proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text().splitlines()


def in_ns(netns, cmd):
    return subprocess.run(["nsenter", f"--net={netns}", "sh", "-c", cmd], capture_output=True,
                          text=True, check=True).stdout


def guest_args(argv):
    """The stand-in's argv: {"tap": ..., "mac": ..., "queues": N, "nic": "the NIC's other
    keys", "cmdline": {...}}."""
    net = argv[argv.index("--net") + 1]
    m = re.fullmatch(r"tap=(\w+),mac=([0-9a-f:]{17}),queues=(\d+)((?:,[a-z_]+=[^,]+)*)", net)
    assert m, net
    cmdline = argv[argv.index("--cmdline") + 1:]
    kv = dict(w.split("=", 1) for w in cmdline if "=" in w and w.startswith("hull."))
    return {"tap": m.group(1), "mac": m.group(2), "queues": int(m.group(3)),
            "nic": m.group(4), "cmdline": kv, "words": cmdline}


def test_plumbing_while_running_and_after_exit(vmh):
    before = vmh.net_state()
    p = popen(vmh, vm_argv("--net", "network=vnet", "-p", "127.0.0.1:18081:80",
                           "--name", "guest1", "--cmdline", "console=hvc0 quiet"),
              STUB_WAIT="1")
    lines = wait_file(vmh.stub_out, p)
    try:
        g = guest_args(lines[:-1])
        [vid] = records(vmh)
        netns = vmh.root / "netns" / vid
        assert lines[-1] != os.readlink("/proc/self/ns/net")
        assert os.stat(netns).st_ino == int(re.search(r"\[(\d+)\]", lines[-1]).group(1))
        # the user's command line is kept, the guest's configuration appended
        assert g["words"][:2] == ["console=hvc0", "quiet"]
        net = json.loads((vmh.root / "vms" / vid / "network.json").read_text())
        ip, gw = net["IPAddress"], net["Gateway"]
        assert g["cmdline"]["hull.net"] == f"eth0,{ip}/{net['IPPrefixLen']},{gw}"
        assert g["cmdline"]["hull.dns"] == gw  # aardvark-dns on the user network
        assert g["cmdline"]["hull.hostname"] == "guest1"
        assert g["tap"] == "tap0" and g["mac"] == net["MacAddress"]
        links = in_ns(netns, "ip -o link")
        assert "tap0:" in links and "eth0@" in links
        assert g["mac"] in in_ns(netns, "ip -o link show eth0")
        assert "inet " not in in_ns(netns, "ip -o addr show eth0")
        for dev, to in (("eth0", "tap0"), ("tap0", "eth0")):
            f = in_ns(netns, f"tc filter show dev {dev} ingress")
            assert f"Egress Redirect to device {to}" in f, f
        assert ip in json.dumps(json.loads((vmh.root / "networks/vnet.ipam").read_text()))
        rules = "\n".join(vmh.net_state()["rules"])
        assert "18081" in rules and ip in rules
        # system prune and network inspect leave a live VM alone (its namespace file is no
        # orphan, its owner lives)
        running = vmh.net_state()
        vmh.run("system", "prune", "-f")
        vmh.run("network", "inspect", "vnet")
        assert records(vmh) == [vid] and vmh.net_state() == running
        assert "tap0:" in in_ns(netns, "ip -o link")
        # a container's allocation keeps the VM's address (its record is no dead container)
        out = vmh.out("run", "--rm", "--network", "vnet", "bb", "ip", "-o", "-4", "addr",
                      "show", "eth0")
        assert f" {ip}/" not in out and "inet 172.18." in out, out
        assert vid in (vmh.root / "networks/vnet.ipam").read_text()
        # the network is in use while the VM runs
        r = vmh.run("network", "rm", "vnet", check=False)
        assert r.returncode == 125 and "in use by VM guest1" in r.stderr, r.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    # SIGTERM was passed on to the VMM, whose status is hull's
    assert p.returncode == 0, err
    assert (vmh.stub_out.parent / "stub.out.term").read_text() == "TERM\n"
    assert records(vmh) == []
    assert vmh.net_state() == before


def test_exit_status_and_defaults(vmh):
    """The VMM's exit status is hull's; without --name the hostname is the id's first 12;
    without --cmdline the VMM's default console comes first."""
    before = vmh.net_state()
    r = run(vmh, vm_argv("--net=network=vnet,ip=172.18.9.9"), STUB_RC="7")
    assert r.returncode == 7, r.stderr
    g = guest_args(vmh.stub_out.read_text().splitlines()[:-1])
    assert g["words"][0] == "console=ttyS0"
    assert g["cmdline"]["hull.net"].startswith("eth0,172.18.9.9/16,")
    assert re.fullmatch(r"[0-9a-f]{12}", g["cmdline"]["hull.hostname"])
    assert records(vmh) == [] and vmh.net_state() == before


def test_sigint_passed_on(vmh):
    """SIGINT sent with kill() reaches the VMM once; its status is hull's; nothing left."""
    before = vmh.net_state()
    p = popen(vmh, vm_argv("--net", "network=vnet"), STUB_WAIT="1")
    wait_file(vmh.stub_out, p)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == 9
    assert (vmh.stub_out.parent / "stub.out.term").read_text() == "INT\n"
    assert records(vmh) == [] and vmh.net_state() == before


def test_mac_given(vmh):
    r = vmh.run(*vm_argv("--net", "network=vnet,mac=02:AA:bb:00:00:01"), check=False)
    assert r.returncode == 0, r.stderr
    assert guest_args(vmh.stub_out.read_text().splitlines()[:-1])["mac"] == "02:aa:bb:00:00:01"


def test_nic_keys_reach_the_vmm(vmh):
    """queues=, vhost= and the rate limits of --net tap= are taken with network= too and
    reach the VMM's --net as given; queues=N>1 makes the namespace's tap multi_queue (one
    queue per pair for the VMM to attach), the default stays 1 queue on a plain tap."""
    before = vmh.net_state()
    keys = "rx_bps=10M,rx_bps_burst=1M,tx_pps=5000,vhost=off"
    p = popen(vmh, vm_argv("--net", f"network=vnet,queues=4,{keys}"), STUB_WAIT="1")
    lines = wait_file(vmh.stub_out, p)
    try:
        g = guest_args(lines[:-1])
        assert g["queues"] == 4 and g["nic"] == "," + keys, g
        [vid] = records(vmh)
        tun = in_ns(vmh.root / "netns" / vid, "ip -d link show tap0")
        assert " multi_queue " in tun and "vnet_hdr on" in tun, tun
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    assert p.returncode == 0
    assert records(vmh) == [] and vmh.net_state() == before
    # the default: one pair on a single-queue tap, nothing else added
    vmh.stub_out.unlink()
    p = popen(vmh, vm_argv("--net", "network=vnet"), STUB_WAIT="1")
    lines = wait_file(vmh.stub_out, p)
    try:
        g = guest_args(lines[:-1])
        assert g["queues"] == 1 and g["nic"] == "", g
        [vid] = records(vmh)
        tun = in_ns(vmh.root / "netns" / vid, "ip -d link show tap0")
        assert "tun type tap" in tun and " multi_queue " not in tun, tun
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    assert records(vmh) == [] and vmh.net_state() == before


def refused(h, args, flag):
    before = h.net_state()
    recs = records(h)
    r = h.run(*args, check=False)
    assert r.returncode == 125, (args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], (args, r.stderr)
    assert records(h) == recs
    assert h.net_state() == before, args


@pytest.mark.parametrize("args,flag", [
    (["--net", "network=nope"], "--net network=nope"),
    (["--net", "network=bad/name"], "--net network="),
    (["--net", "network=vnet,ip=10.1.1.1"], "--net ip=10.1.1.1"),
    (["--net", "network=vnet,ip=x"], "--net ip=x"),
    (["--net", "network=vnet,mac=01:00:00:00:00:01"], "--net mac="),
    (["--net", "network=vnet,mac=00:00:00:00:00:00"], "--net mac="),
    (["--net", "network=vnet,mac=02:00:00:00:00:0g"], "--net mac="),
    (["--net", "network=vnet,mtu=9000"], "--net network="),
    (["--net", "network=vnet,rx_bps=fast"], "--net: rx_bps=fast: expected a number"),
    (["--net", "network=vnet,queues=0"], "--net: queues=0: expected a number of queue pairs"),
    (["--net", "network=vnet,vhost=maybe"], "--net: vhost=maybe: expected on, off or auto"),
    (["--net", "network=vnet,tx_iops=1"], "--net: unknown option 'tx_iops=1'"),
    (["--net", "network=vnet,tap=tap9"], "--net"),
    (["--net", "tap=tap9", "--net", "network=vnet"], "--net tap="),
    (["--net", "network=vnet", "--net", "network=vnet"], "--net"),
    (["-p", "80"], "-p"),
    (["--name", "x"], "--name"),
    (["--net", "network=vnet", "--name", "bad_name"], "--name bad_name"),
    (["--net", "network=vnet", "-p", "80x"], "-p"),
    (["--net", "network=vnet", "-p", "127.0.0.1:0:80:1"], "-p"),
])
def test_bad_input(vmh, args, flag):
    refused(vmh, vm_argv(*args), flag)


def test_taken_port_mac_and_name(vmh):
    """A host port bound by a program or published by another VM, a MAC or a name another
    VM has: refused, nothing made; the first VM is untouched."""
    sock = subprocess.Popen(["nsenter", f"--net=/run/netns/{vmh.ns}", "python3", "-c",
                             "import socket,sys,time; s=socket.socket(); "
                             "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                             "s.bind(('127.0.0.1', 18090)); s.listen(); print('up', flush=True);"
                             " sys.stdin.read()"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert sock.stdout.readline().strip() == "up"
    try:
        refused(vmh, vm_argv("--net", "network=vnet", "-p", "127.0.0.1:18090:80"), "-p")
    finally:
        sock.stdin.close()
        sock.wait(timeout=10)
    p = popen(vmh, vm_argv("--net", "network=vnet,mac=02:00:00:00:00:07", "--name", "one",
                           "-p", "127.0.0.1:18091:80"), STUB_WAIT="1")
    wait_file(vmh.stub_out, p)
    try:
        refused(vmh, vm_argv("--net", "network=vnet", "-p", "127.0.0.1:18091:80"),
                "-p: host port 127.0.0.1:18091/tcp is already")
        refused(vmh, vm_argv("--net", "network=vnet,mac=02:00:00:00:00:07"),
                "--net mac=02:00:00:00:00:07: already in use on network vnet")
        refused(vmh, vm_argv("--net", "network=vnet", "--name", "one"), "--name one")
        # a container cannot take the VM's port either
        r = vmh.run("run", "--rm", "--network", "vnet", "-p", "127.0.0.1:18091:80", "bb",
                    "true", check=False)
        assert r.returncode == 125 and "published by VM" in r.stderr, r.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    assert p.returncode == 0


@pytest.mark.parametrize("cleanup", ["system prune", "network rm"])
def test_sigkill_at_random_points(vmh, cleanup):
    """hull vm run SIGKILLed at seeded random points of the set-up and of the run: the VMM
    dies with it, the record stays (owner dead) until `system prune` or `network rm` tears
    it down; then nothing is left."""
    rng = random.Random(16 if cleanup == "system prune" else 61)
    before = vmh.net_state()
    for i in range(6):
        p = popen(vmh, vm_argv("--net", "network=vnet", "-p", "127.0.0.1:18100:80",
                               "--name", f"k{i}"), STUB_WAIT="1")
        time.sleep(rng.uniform(0, 0.6))
        p.kill()
        p.communicate(timeout=30)
        # the stand-in VMM is gone with its parent (PR_SET_PDEATHSIG); the deadline only
        # guards against a hang
        deadline = time.monotonic() + 120
        while subprocess.run(["pgrep", "-f", str(vmh.stub_out.parent / "stub.sh")],
                             capture_output=True).returncode == 0:
            assert time.monotonic() < deadline, "the VMM outlived hull vm run"
            time.sleep(0.05)
        if cleanup == "system prune":
            vmh.run("system", "prune", "-f")
        else:
            vmh.run("network", "rm", "vnet")
            vmh.run("network", "create", "vnet")
        assert records(vmh) == [], i
        state = vmh.net_state()
        assert state == before, (i, state, before)
        if vmh.stub_out.exists():
            vmh.stub_out.unlink()


def test_guest_net_script(hull, tmp_path):
    """/etc/hull-net from `hull vm initramfs`, run by busybox in a network and UTS namespace
    of its own with a veth called eth0: the address, route, hostname, hosts and resolv.conf
    the guest gets from hull.net=, hull.dns= and hull.hostname=."""
    out = tmp_path / "initrd.cpio"
    subprocess.run([hull, "vm", "initramfs", "--output", str(out)], check=True,
                   capture_output=True)
    script = subprocess.run(["cpio", "-i", "--to-stdout", "etc/hull-net"],
                            stdin=open(out, "rb"), capture_output=True, check=True).stdout
    assert script.startswith(b"#!/bin/sh")
    init = subprocess.run(["cpio", "-i", "--to-stdout", "init"], stdin=open(out, "rb"),
                          capture_output=True, check=True).stdout.decode()
    assert "sh /etc/hull-net $(cat /proc/cmdline)" in init
    (tmp_path / "hull-net").write_bytes(script)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for applet in ("sh", "ip", "hostname", "tr", "printf", "cat", "echo"):
        (bindir / applet).symlink_to("/bin/busybox")
    etc = tmp_path / "etc"
    etc.mkdir()
    args = ("BOOT_IMAGE=x console=ttyS0 hull.net=eth0,10.77.0.5/24,10.77.0.1 "
            "hull.dns=10.77.0.1,10.77.0.2 hull.hostname=guest-a ip=dhcp panic=-1")
    cmd = ("ip link add eth0 type veth peer name eth1 && "
           f"HULL_NET_ETC={etc} sh {tmp_path}/hull-net {args} && "
           "ip -o -4 addr show eth0 && ip route && hostname && ip -o link show lo")
    r = subprocess.run(["unshare", "--net", "--uts", "env", "-i", f"PATH={bindir}", "sh", "-c",
                        cmd], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "inet 10.77.0.5/24" in r.stdout
    assert "default via 10.77.0.1 dev eth0" in r.stdout
    assert "\nguest-a\n" in r.stdout and "UP" in r.stdout.splitlines()[-1]
    assert (etc / "resolv.conf").read_text() == "nameserver 10.77.0.1\nnameserver 10.77.0.2\n"
    assert "10.77.0.5\tguest-a\n" in (etc / "hosts").read_text()
    assert (etc / "hosts").read_text().startswith("127.0.0.1\tlocalhost\n")
    # nothing to do without hull.net=: lo only, no error
    r = subprocess.run(["unshare", "--net", "--uts", "env", "-i", f"PATH={bindir}",
                        f"HULL_NET_ETC={etc}", "sh", f"{tmp_path}/hull-net", "console=ttyS0"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
