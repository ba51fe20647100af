"""A vhost-net NIC across a snapshot (docs/vmm.md "vhost-net across a snapshot"), in the
sandbox with vhost_net loaded: a Debian guest pings the host side of its tap without end;
a snapshot is taken while it runs (the parent resumes), the parent keeps answering, and a
clone restored from it in a second network namespace (a tap of the same name and address)
answers too, its NIC on vhost-net again. Once with a cold NIC (`--net tap=...,vhost=on`),
once with a hot-plugged one (`"vhost": "on"`). The host pings the guest fast while the
snapshot is taken, so that frames arrive between the state and the memory file. Every wait is bounded (a reader thread), so
that a NIC that stops moving frames fails the test instead of hanging it."""
import os
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE, Lines, vm_http

BOOT_BOUND = 600
STEP_BOUND = 240
API_TIMEOUT = 120
HOST_IP, GUEST_IP = "10.77.21.1", "10.77.21.2"
MAC = "02:21:00:00:00:01"

# The guest: eth0 (at boot or once plugged), then a numbered ping every second, without end.
PING_INIT = INIT_PROLOGUE + r"""
ip link set lo up
echo "HULL-TEST: waiting"
i=0
while [ $i -lt 600 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 1; i=$((i + 1)); done
echo "HULL-TEST: eth0 mac=$(cat /sys/class/net/eth0/address)"
ip link set eth0 up
ip addr add GUEST_IP/24 dev eth0
n=0
while true; do
	n=$((n + 1))
	if ping -c 3 -i 0.2 -s 1200 -W 3 HOST_IP >/dev/null 2>&1; then
		echo "HULL-TEST: pong $n"
	else
		echo "HULL-TEST: lost $n"
	fi
	sleep 1
done
""".replace("GUEST_IP", GUEST_IP).replace("HOST_IP", HOST_IP)


def sh(*cmd):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True)


@pytest.fixture
def two_netns():
    """Two namespaces, each with a tap vh21 (HOST_IP/24, up): the parent's and the clone's.
    Removed afterwards, and checked to be gone."""
    names = [f"hull-vh21{c}-{os.getpid()}" for c in "ab"]
    made = []
    try:
        for ns in names:
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "tuntap", "add", "dev", "vh21", "mode", "tap")
            sh("ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", "vh21")
            sh("ip", "-n", ns, "link", "set", "vh21", "up")
        yield names
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)
    listed = sh("ip", "netns", "list").stdout
    assert not any(ns in listed for ns in names), listed


@pytest.fixture
def vhost_net():
    """/dev/vhost-net (the sandbox's kernel has vhost_net as a module)."""
    if not os.path.exists("/dev/vhost-net"):
        subprocess.run(["modprobe", "vhost_net"], check=False, capture_output=True)
    assert os.path.exists("/dev/vhost-net"), "no /dev/vhost-net after modprobe vhost_net"


def pongs(lines, count, bound=STEP_BOUND):
    """count more "pong" lines from the guest within bound seconds."""
    for _ in range(count):
        assert lines.until("HULL-TEST: pong", bound), lines.text()


def nic_vhost(sock):
    devs = vm_http(sock, url="/metrics", timeout=API_TIMEOUT)[1]["devices"]
    return {k: v.get("vhost") for k, v in devs.items() if k.startswith("virtio-net")}


def power_off(p, sock):
    st, rep, _ = vm_http(sock, "PUT", "/actions", {"action_type": "power-off"},
                         timeout=API_TIMEOUT)
    assert st == 204, rep
    assert p.wait(timeout=STEP_BOUND) == 0


def start(argv, ns):
    return subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("plug", ["cold", "hot"])
def test_vhost_net_nic_across_snapshot(hull, kernel, make_initramfs, two_netns, vhost_net,
                                       tmp_path, plug):
    ns_a, ns_b = two_netns
    sock, sock2 = str(tmp_path / "api.sock"), str(tmp_path / "api2.sock")
    initrd = make_initramfs(PING_INIT, modules=("virtio_pci", "virtio_net"))
    argv = [hull, "vm", "run", "--kernel", kernel[0], "--initrd", initrd, "--memory", "256M",
            "--api-sock", sock, "--cmdline", "console=ttyS0 quiet"]
    nic = "virtio-net0"
    if plug == "cold":
        argv += ["--net", f"tap=vh21,mac={MAC},vhost=on"]
    else:
        argv += ["--hotplug"]
        nic = "virtio-net16"
    procs = []
    try:
        p = start(argv, ns_a)
        procs.append(p)
        lines = Lines(p.stdout)
        if plug == "hot":
            assert lines.until("HULL-TEST: waiting", BOOT_BOUND), lines.text()
            body = {"iface_id": "n1", "host_dev_name": "vh21", "guest_mac": MAC,
                    "vhost": "on"}
            st, rep, _ = vm_http(sock, "PUT", "/network-interfaces/n1", body,
                                 timeout=API_TIMEOUT)
            assert st == 204, rep
        assert lines.until(f"HULL-TEST: eth0 mac={MAC}", BOOT_BOUND), lines.text()
        assert nic_vhost(sock) == {nic: 1}
        pongs(lines, 3)
        snap = tmp_path / "snap"
        # frames from the host while the snapshot is taken (rx buffers used in the window
        # between the state and the memory file: what broke the clone's ring before the
        # save froze the devices); bounded in count and time
        flood = subprocess.Popen(["ip", "netns", "exec", ns_a, "ping", "-q", "-c", "2000",
                                  "-i", "0.005", "-s", "1000", "-w", "30", GUEST_IP],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(flood)
        time.sleep(1)
        st, rep, _ = vm_http(sock, "PUT", "/snapshot/create", {"snapshot_path": str(snap)},
                             timeout=API_TIMEOUT)
        assert st == 204, rep
        flood.wait(timeout=60)
        # the parent resumed: its NIC still on vhost-net, still moving frames
        pongs(lines, 3)
        assert nic_vhost(sock) == {nic: 1}
        # the clone, on the other namespace's tap of the same name
        c = start([hull, "vm", "restore", str(snap), "--api-sock", sock2], ns_b)
        procs.append(c)
        clines = Lines(c.stdout)
        pongs(clines, 3)
        assert nic_vhost(sock2) == {nic: 1}
        pongs(lines, 2)  # both at once
        power_off(c, sock2)
        power_off(p, sock)
    finally:
        for q in procs:
            if q.poll() is None:
                q.kill()
                q.wait()
        for q in procs:
            if q.stderr and q.returncode:
                print(f"exited {q.returncode}: {q.stderr.read()}")
