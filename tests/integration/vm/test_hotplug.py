"""PCI hot-plug of a virtio-net NIC into a running Linux guest (docs/vmm.md "PCI hot-plug"),
in the sandbox: Debian's kernel boots with no NIC; PUT /network-interfaces/n1 puts one on a
tap in a network namespace the test makes; the guest's acpiphp sees the slot's Notify, eth0
appears, takes an address and pings the host side. DELETE asks for the eject: the guest's
interface goes, and hull frees the device once the guest's _EJ0 says so. The freed slot takes
a second NIC on the same tap (the first closed it; the guest sees the NIC again). A snapshot
taken with the NIC restores with it: the clone's guest still pings through it. The
namespace and its taps are gone afterwards. The VMM runs with its seccomp filters (level 2)
and --hotplug's additions: a new NIC's tap, eventfds and I/O thread, and its teardown. The
snapshot test runs twice, its NICs on user space ("vhost": "off") and on vhost-net ("on"; it
hung before the save froze the devices until the memory is written, docs/vmm.md "vhost-net
across a snapshot"), every wait bounded by a reader thread; test_nic_hotplug_vhost checks
"vhost": "on" and "off" and that an eject leaves the VMM's fds as they were before the
plug."""
import json
import os
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE, Lines, vm_http

BOOT_TIMEOUT = 600
# A PUT pauses the vCPUs and builds the device (nested KVM under TCG on a loaded host: the
# 10 s default was seen to run out); a bound on a hang, not a timing assertion.
API_TIMEOUT = 120
HOST_IP, GUEST_IP = "10.77.19.1", "10.77.19.2"
MAC1, MAC2 = "02:19:00:00:00:01", "02:19:00:00:00:02"

# The guest waits for a NIC to appear, uses it, reports when it is gone; twice.
HOTPLUG_INIT = INIT_PROLOGUE + r"""
waitfor() { i=0; while [ $i -lt 600 ] && ! eval "$1"; do sleep 1; i=$((i + 1)); done; }
ip link set lo up
echo "HULL-TEST: no-nic=$(ls /sys/class/net | tr '\n' ' ')"
for round in 1 2; do
	echo "HULL-TEST: waiting-$round"
	waitfor '[ -e /sys/class/net/eth0 ]'
	echo "HULL-TEST: eth0-$round mac=$(cat /sys/class/net/eth0/address) slot=$(basename "$(readlink -f /sys/class/net/eth0/device/..)")"
	ip link set eth0 up
	ip addr add GUEST_IP/24 dev eth0
	if ping -c 2 -W 10 HOST_IP >/dev/null; then echo "HULL-TEST: ping-$round=ok"; fi
	# until the NIC goes: a ping every few seconds (the restored clone's NIC answers too)
	while [ -e /sys/class/net/eth0 ]; do
		if ping -c 1 -W 2 HOST_IP >/dev/null 2>&1; then echo "HULL-TEST: pong-$round"; fi
		sleep 2
	done
	echo "HULL-TEST: gone-$round"
done
poweroff -f
""".replace("GUEST_IP", GUEST_IP).replace("HOST_IP", HOST_IP)


def sh(*cmd):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True)


@pytest.fixture
def netns_taps():
    """A namespace with tap hp19a (10.77.19.1/24, up); removed afterwards, and checked to be
    gone."""
    ns = f"hull-hp16-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", "hp19a", "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", "hp19a")
        sh("ip", "-n", ns, "link", "set", "hp19a", "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert ns not in sh("ip", "netns", "list").stdout


@pytest.fixture
def vhost_net():
    """/dev/vhost-net (the sandbox's kernel has vhost_net as a module)."""
    if not os.path.exists("/dev/vhost-net"):
        subprocess.run(["modprobe", "vhost_net"], check=False, capture_output=True)
    assert os.path.exists("/dev/vhost-net"), "no /dev/vhost-net after modprobe vhost_net"


def until(lines, marker, deadline):
    """The guest's next line with marker, before deadline (a reader thread: a silent guest
    fails the test instead of blocking it); the line."""
    assert lines.until(marker, max(1, deadline - time.time())), \
        f"no {marker!r} from the guest:\n" + lines.text()
    return lines.out[-1]


def nic_devices(sock):
    return sorted(k for k in vm_http(sock, url="/metrics")[1]["devices"] if "net" in k)


def wait_devices(sock, want, deadline):
    while time.time() < deadline:
        if nic_devices(sock) == want:
            return
        time.sleep(0.5)
    assert nic_devices(sock) == want


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("vhost", ["off", "on"])
def test_nic_hotplug_and_eject(hull, kernel, make_initramfs, netns_taps, tmp_path, vhost,
                               request):
    ns = netns_taps
    if vhost == "on":
        request.getfixturevalue("vhost_net")
    sock = str(tmp_path / "api.sock")
    initrd = make_initramfs(HOTPLUG_INIT, modules=("virtio_pci", "virtio_net"))
    p = subprocess.Popen(["ip", "netns", "exec", ns, hull, "vm", "run", "--kernel", kernel[0],
                          "--initrd", initrd, "--memory", "256M", "--hotplug",
                          "--api-sock", sock, "--cmdline", "console=ttyS0 quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = Lines(p.stdout)
    try:
        deadline = time.time() + BOOT_TIMEOUT
        until(lines, "HULL-TEST: waiting-1", deadline)
        assert nic_devices(sock) == []
        # the datapath asked for explicitly (absent is auto, which takes vhost-net wherever
        # an earlier test loaded vhost_net)
        body = {"iface_id": "n1", "host_dev_name": "hp19a", "guest_mac": MAC1, "vhost": vhost}
        st, rep, _ = vm_http(sock, "PUT", "/network-interfaces/n1", body, timeout=API_TIMEOUT)
        assert st == 204, rep
        st, rep, _ = vm_http(sock, "PUT", "/network-interfaces/n1", body, timeout=API_TIMEOUT)
        assert st == 409 and "already exists" in rep["fault_message"], rep
        assert nic_devices(sock) == ["virtio-net16"]
        on = vm_http(sock, url="/metrics")[1]["devices"]["virtio-net16"]["vhost"]
        assert on == (vhost == "on"), on
        line = until(lines, "HULL-TEST: eth0-1", deadline)
        assert f"mac={MAC1}" in line and "slot=0000:00:10.0" in line, line
        until(lines, "HULL-TEST: ping-1=ok", deadline)
        # a snapshot with the NIC: the clone is built with it in its slot, its tap reopened
        snap = tmp_path / "snap"
        st, rep, _ = vm_http(sock, "PUT", "/snapshot/create",
                             {"snapshot_path": str(snap), "resume": False},
                             timeout=API_TIMEOUT)
        assert st == 204, rep
        st, rep, _ = vm_http(sock, "PUT", "/actions", {"action_type": "power-off"},
                             timeout=API_TIMEOUT)
        assert st == 204, rep
        p.wait(timeout=BOOT_TIMEOUT)
        assert p.returncode == 0, p.stderr.read()
        hot = json.loads((snap / "config.json").read_text())["hotplug_nets"]
        assert hot == [{"id": "n1", "tap": "hp19a", "mac": MAC1, "slot": 16,
                        "vhost": vhost}], hot
        lines.until("\0", 5)  # the rest of the original VM's output
        first = "".join(lines.out)
        assert "HULL-TEST: no-nic=lo " in first and "insmod" not in first, first[-3000:]
        sock = str(tmp_path / "api2.sock")
        p = subprocess.Popen(["ip", "netns", "exec", ns, hull, "vm", "restore", str(snap),
                              "--api-sock", sock, "--hotplug"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        lines = Lines(p.stdout)  # the clone's from here
        until(lines, "HULL-TEST: pong-1", deadline)
        assert nic_devices(sock) == ["virtio-net16"]
        on = vm_http(sock, url="/metrics")[1]["devices"]["virtio-net16"]["vhost"]
        assert on == (vhost == "on"), on
        st, rep, _ = vm_http(sock, "DELETE", "/network-interfaces/n1", timeout=API_TIMEOUT)
        assert st == 204, rep
        until(lines, "HULL-TEST: gone-1", deadline)
        wait_devices(sock, [], deadline)  # the guest's _EJ0 freed it
        st, rep, _ = vm_http(sock, "DELETE", "/network-interfaces/n1", timeout=API_TIMEOUT)
        assert st == 404, rep
        # the freed slot and the closed tap again, through the CLI this time
        until(lines, "HULL-TEST: waiting-2", deadline)
        r = subprocess.run([hull, "vm", "update", "--api-sock", sock, "--add-net",
                            f"tap=hp19a,mac={MAC2},id=n2,vhost={vhost}"],
                           capture_output=True, text=True, timeout=API_TIMEOUT)
        assert r.returncode == 0, r.stderr
        line = until(lines, "HULL-TEST: eth0-2", deadline)
        assert f"mac={MAC2}" in line and "slot=0000:00:10.0" in line, line
        until(lines, "HULL-TEST: ping-2=ok", deadline)
        r = subprocess.run([hull, "vm", "update", "--api-sock", sock, "--del-net", "n2"],
                           capture_output=True, text=True, timeout=API_TIMEOUT)
        assert r.returncode == 0, r.stderr
        until(lines, "HULL-TEST: gone-2", deadline)
        p.wait(timeout=BOOT_TIMEOUT)
        assert p.returncode == 0, lines.text() + p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines.until("\0", 5)
    assert "insmod" not in "".join(lines.out), lines.text()


def vmm_pid(sock):
    """The VMM's pid: the process whose command line names sock and which holds /dev/kvm."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().decode(errors="replace")
            if sock in cmd and "/dev/kvm" in fd_links(int(d)):
                return int(d)
        except OSError:
            continue
    raise AssertionError(f"no VMM process for {sock}")


def fd_links(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def fd_kinds(pid):
    """How many fds of each kind a NIC brings: vhost-net, tap queues, eventfds (the kick and
    call fds, vhost's fallback call and error fds), epoll sets and timers (its I/O thread)."""
    links = fd_links(pid)
    return {k: sum(1 for link in links if k in link)
            for k in ("/dev/vhost-net", "/dev/net/tun", "[eventfd]", "[eventpoll]",
                      "[timerfd]")}


@pytest.mark.sandbox
@pytest.mark.slow
def test_nic_hotplug_vhost(hull, kernel, make_initramfs, netns_taps, vhost_net, tmp_path):
    """A hot-plugged NIC takes vhost-net as a --net NIC does (hull's "vhost" field, --add-net
    vhost=), under the seccomp filter (level 2, --hotplug's widening: no other); its eject
    releases the vhost fd, its eventfds and the tap (/proc/PID/fd before and after); vhost=off
    stays in user space."""
    ns = netns_taps
    sock = str(tmp_path / "api.sock")
    initrd = make_initramfs(HOTPLUG_INIT, modules=("virtio_pci", "virtio_net"))
    p = subprocess.Popen(["ip", "netns", "exec", ns, hull, "vm", "run", "--kernel", kernel[0],
                          "--initrd", initrd, "--memory", "256M", "--hotplug",
                          "--api-sock", sock, "--cmdline", "console=ttyS0 quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = Lines(p.stdout)
    try:
        deadline = time.time() + BOOT_TIMEOUT
        until(lines, "HULL-TEST: waiting-1", deadline)
        pid = vmm_pid(sock)
        before = fd_kinds(pid)
        assert before["/dev/vhost-net"] == 0 and before["/dev/net/tun"] == 0, before
        body = {"iface_id": "n1", "host_dev_name": "hp19a", "guest_mac": MAC1,
                "vhost": "maybe"}
        st, rep, _ = vm_http(sock, "PUT", "/network-interfaces/n1", body, timeout=API_TIMEOUT)
        assert st == 400 and "vhost 'maybe'" in rep["fault_message"], rep
        assert fd_kinds(pid) == before
        body["vhost"] = "on"
        st, rep, _ = vm_http(sock, "PUT", "/network-interfaces/n1", body, timeout=API_TIMEOUT)
        assert st == 204, rep
        plugged = fd_kinds(pid)
        assert plugged["/dev/vhost-net"] == 1 and plugged["/dev/net/tun"] == 1, plugged
        assert vm_http(sock, url="/metrics")[1]["devices"]["virtio-net16"]["vhost"] == 1
        until(lines, "HULL-TEST: eth0-1", deadline)
        until(lines, "HULL-TEST: ping-1=ok", deadline)
        st, rep, _ = vm_http(sock, "DELETE", "/network-interfaces/n1")
        assert st == 204, rep
        until(lines, "HULL-TEST: gone-1", deadline)
        wait_devices(sock, [], deadline)
        assert fd_kinds(pid) == before  # vhost fd, its eventfds, ioeventfds' fds, the tap
        # the CLI's vhost=off: the user-space datapath, no vhost fd
        until(lines, "HULL-TEST: waiting-2", deadline)
        r = subprocess.run([hull, "vm", "update", "--api-sock", sock, "--add-net",
                            f"tap=hp19a,mac={MAC2},id=n2,vhost=off"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        until(lines, "HULL-TEST: ping-2=ok", deadline)
        now = fd_kinds(pid)
        assert now["/dev/vhost-net"] == 0 and now["/dev/net/tun"] == 1, now
        assert vm_http(sock, url="/metrics")[1]["devices"]["virtio-net16"]["vhost"] == 0
        r = subprocess.run([hull, "vm", "update", "--api-sock", sock, "--del-net", "n2"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        until(lines, "HULL-TEST: gone-2", deadline)
        wait_devices(sock, [], deadline)
        assert fd_kinds(pid) == before
        p.wait(timeout=BOOT_TIMEOUT)
        assert p.returncode == 0, lines.text() + p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
