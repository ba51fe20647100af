"""--net tap=IFNAME[,mac=MAC]: hull's virtio-net (device id 1) on a host tap. The boot test
runs in the sandbox: in a network namespace the test makes, a tap with 10.77.16.1/24 and a
busybox httpd behind it; the guest (virtio_net from `hull vm initramfs --module virtio_net`,
a busybox init that sets its address with `ip`) pings the host side, fetches a file from
its httpd, and serves one that the host side fetches. The errors of --net are checked on
any host: they come before KVM is opened."""
import hashlib
import os
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE, vm_http

BOOT_TIMEOUT = 600
HOST_IP, GUEST_IP = "10.77.16.1", "10.77.16.2"
GUEST_MAC = "02:16:00:ab:cd:ef"

# busybox's wget looks up the "http" service (getservbyname), which a static glibc cannot
# do without NSS modules: the guest fetches with nc and a hand-written request.
NET_INIT = INIT_PROLOGUE + r"""
get() { printf 'GET /%s HTTP/1.0\r\n\r\n' "$1" | nc -w 30 HOST_IP 8080; }
echo "HULL-TEST: mac=$(cat /sys/class/net/eth0/address)"
ip link set lo up
ip link set eth0 up
ip addr add GUEST_IP/24 dev eth0
mkdir -p /www
echo "served-by-the-guest" > /www/guest.txt
dd if=/dev/urandom of=/www/big bs=64k count=64 2>/dev/null
echo "HULL-TEST: bigsum=$(md5sum < /www/big | cut -d' ' -f1)"
httpd -p 80 -h /www
if ping -c 2 -W 10 HOST_IP >/dev/null; then echo "HULL-TEST: ping=ok"; fi
echo "HULL-TEST: fetched=$(get host.txt | tail -n 1)"
# A driver reload: the device is reset (a vhost-net worker gives its rings back) and set up
# again; the transfers below run on the new rings.
m=$(grep '/virtio_net\.ko' /etc/hull-modules)
if rmmod virtio_net && insmod "$m"; then
	i=0
	while [ $i -lt 30 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 1; i=$((i + 1)); done
	ip link set eth0 up
	ip addr add GUEST_IP/24 dev eth0
	if ping -c 2 -W 10 HOST_IP >/dev/null; then echo "HULL-TEST: reload-ping=ok"; fi
	echo "HULL-TEST: refetched=$(get host.txt | tail -n 1)"
else
	echo "HULL-TEST: reload failed"
fi
echo "HULL-TEST: features=$(cat /sys/class/net/eth0/device/features)"
echo "HULL-TEST: queues=$(ls /sys/class/net/eth0/queues | tr '\n' ' ')"
nc -l -p 9000 > /tmp/up &
up=$!
echo "HULL-TEST: ready"
wait $up
echo "HULL-TEST: upsum=$(md5sum < /tmp/up | cut -d' ' -f1)"
# The host publishes /done.txt when it is done: power off then.
i=0
while [ $i -lt 300 ] && ! get done.txt | grep -q '^done'; do
	sleep 1
	i=$((i + 1))
done
poweroff -f
""".replace("GUEST_IP", GUEST_IP).replace("HOST_IP", HOST_IP)


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


@pytest.fixture
def netns_tap(tmp_path):
    """A network namespace with tap `htap16` (multi_queue, 10.77.16.1/24, up), a single-queue
    tap `stap16`, and a busybox httpd on :8080 serving tmp_path/www; everything is removed
    afterwards, and checked to be gone."""
    ns = f"hull-net16-{os.getpid()}"
    www = tmp_path / "www"
    www.mkdir()
    (www / "host.txt").write_text("served-by-the-host\n")
    sh("ip", "netns", "add", ns)
    httpd = None
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", "htap16", "mode", "tap", "multi_queue")
        sh("ip", "-n", ns, "tuntap", "add", "dev", "stap16", "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", "htap16")
        sh("ip", "-n", ns, "link", "set", "htap16", "up")
        httpd = subprocess.Popen(["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p",
                                  f"{HOST_IP}:8080", "-h", str(www)])
        yield ns, www
    finally:
        if httpd:
            httpd.kill()
            httpd.wait()
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert ns not in sh("ip", "netns", "list").stdout


def read_until(p, out, marker, deadline):
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out.append(line)
        if marker in line:
            return line
    raise AssertionError(f"no {marker!r} from the guest:\n" + "".join(out)[-3000:])


# The host side's client, in the namespace (busybox's static wget crashes in the sandbox,
# where no NSS modules match its glibc): GET a URL to stdout, or send stdin to HOST PORT.
CLIENT = r"""
import shutil, socket, sys, urllib.request
if sys.argv[1] == "get":
    with urllib.request.urlopen(sys.argv[2], timeout=120) as r:
        shutil.copyfileobj(r, sys.stdout.buffer)
else:
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=120)
    s.sendall(sys.stdin.buffer.read())
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
"""


def in_ns(ns, *args, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", CLIENT, *args],
                          capture_output=True, timeout=BOOT_TIMEOUT, **kw)


@pytest.fixture
def vhost_net():
    """/dev/vhost-net, from the vhost_net module (the sandbox's kernel has it as a module)."""
    if not os.path.exists("/dev/vhost-net"):
        subprocess.run(["modprobe", "vhost_net"], check=False, capture_output=True)
    if not os.path.exists("/dev/vhost-net"):
        pytest.fail("no /dev/vhost-net after modprobe vhost_net")


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("vhost", ["off", "on"])
def test_guest_on_a_tap(hull, vmlinux, make_initramfs, netns_tap, tmp_path, request, vhost):
    """Small files and 4 MiB both ways: the large transfers go through the offloads the guest
    negotiates (TSO from the guest, GSO frames over mergeable buffers to it). The same on
    the user-space datapath (vhost=off) and on vhost-net (vhost=on), each across a driver
    reload (rmmod/insmod virtio_net: a device reset, the rings set up again)."""
    ns, www = netns_tap
    if vhost == "on":
        request.getfixturevalue("vhost_net")
    big = os.urandom(4 << 20)
    (tmp_path / "up").write_bytes(big)
    sock = str(tmp_path / "api.sock")
    initrd = make_initramfs(NET_INIT, modules=("virtio_pci", "virtio_net"))
    p = subprocess.Popen(["ip", "netns", "exec", ns, hull, "vm", "run", "--kernel", vmlinux,
                          "--initrd", initrd, "--memory", "256M", "--cpus", "2",
                          "--net", f"tap=htap16,mac={GUEST_MAC},vhost={vhost}",
                          "--api-sock", sock, "--cmdline", "console=ttyS0 quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out = []
    try:
        deadline = time.time() + BOOT_TIMEOUT
        read_until(p, out, "HULL-TEST: ready", deadline)
        nic = vm_http(sock, url="/metrics")[1]["devices"]["virtio-net0"]
        assert nic["vhost"] == (vhost == "on"), nic
        # The host side fetches files from the guest's httpd, and sends it one with nc.
        small = in_ns(ns, "get", f"http://{GUEST_IP}/guest.txt")
        fetched = in_ns(ns, "get", f"http://{GUEST_IP}/big")
        with open(tmp_path / "up", "rb") as f:
            sent = in_ns(ns, "send", GUEST_IP, "9000", stdin=f)
        upsum = read_until(p, out, "HULL-TEST: upsum=", deadline)
        (www / "done.txt").write_text("done\n")
        rest, err = p.communicate(timeout=BOOT_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = "".join(out) + rest
    assert p.returncode == 0, text[-3000:] + err
    assert "insmod" not in text
    assert f"HULL-TEST: mac={GUEST_MAC}" in text
    assert "HULL-TEST: ping=ok" in text, text[-3000:]
    assert "HULL-TEST: fetched=served-by-the-host" in text, text[-3000:]
    assert "HULL-TEST: reload-ping=ok" in text, text[-3000:]
    assert "HULL-TEST: refetched=served-by-the-host" in text, text[-3000:]
    assert small.returncode == 0 and small.stdout == b"served-by-the-guest\n", small
    bigsum = [x for x in text.splitlines() if x.startswith("HULL-TEST: bigsum=")][0]
    assert fetched.returncode == 0 and len(fetched.stdout) == 4 << 20, fetched.stderr
    assert bigsum.split("=")[1] == hashlib.md5(fetched.stdout).hexdigest()
    assert sent.returncode == 0, sent
    assert upsum.strip().split("=")[1] == hashlib.md5(big).hexdigest()
    # the guest took the offloads (features: one digit per bit, from bit 0)
    feats = [x for x in text.splitlines() if x.startswith("HULL-TEST: features=")][0]
    bits = feats.split("=")[1]
    for bit in (0, 1, 7, 11, 15, 17, 22):  # CSUM, GUEST_CSUM, GUEST_TSO4, HOST_TSO4,
        assert bits[bit] == "1", feats        # MRG_RXBUF, CTRL_VQ, MQ
    # one queue pair per vCPU on the multi_queue tap
    assert "HULL-TEST: queues=rx-0 rx-1 tx-0 tx-1 " in text, text[-3000:]


def run_vm(hull, kernel, *args, ns=None):
    pre = ["ip", "netns", "exec", ns] if ns else []
    return subprocess.run(pre + [hull, "vm", "run", "--kernel", kernel[0], *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("net, msg", [
    ("mac=02:00:00:00:00:01", "--net: tap=IFNAME is required"),
    ("tap=", "--net: tap=IFNAME is required"),
    ("tap=htap16,mac=01:00:5e:00:00:01", "--net: mac=01:00:5e:00:00:01: not a unicast MAC "
     "address"),
    ("tap=htap16,mac=02:00:00:00:00", "--net: mac=02:00:00:00:00: not a unicast MAC address"),
    ("tap=htap16,speed=10", "--net: unknown option 'speed=10'"),
    ("tap=nosuchtap16", "--net tap=nosuchtap16: no such interface"),
    ("tap=lo", "--net tap=lo: not a tap interface"),
    ("tap=averyveryverylongname", "--net tap=averyveryverylongname: longer than 15 bytes"),
    ("tap=htap16,queues=9", "--net tap=htap16: queues=9: at most 8"),
    ("tap=htap16,queues=0", "--net: queues=0: expected a number of queue pairs"),
    ("tap=stap16,queues=2", "--net tap=stap16: not a multi_queue tap interface (ip tuntap add "
     "dev stap16 mode tap multi_queue)"),
    ("tap=htap16,vhost=maybe", "--net: vhost=maybe: expected on, off or auto"),
    ("tap=htap16,vhost=on,rx_bps=1M", "--net tap=htap16: vhost=on: rate limits need the "
     "user-space datapath (vhost=off or auto)"),
    pytest.param("tap=htap16,vhost=on", "--net tap=htap16,vhost=on: /dev/vhost-net (the "
                 "vhost_net module): No such file or directory",
                 marks=pytest.mark.skipif(os.path.exists("/dev/vhost-net"),
                                          reason="this host has /dev/vhost-net")),
])
def test_net_errors(hull, kernel, netns_tap, net, msg):
    """One line naming --net, exit 125, before the VM is built (so on any host)."""
    ns, _ = netns_tap
    r = run_vm(hull, kernel, "--net", net, ns=ns)
    assert r.returncode == 125, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0], r.stderr


def test_net_tap_in_use(hull, kernel, netns_tap):
    """A single-queue tap that another process holds, and two NICs on one tap."""
    ns, _ = netns_tap
    r = run_vm(hull, kernel, "--net", "tap=stap16", "--net", "tap=stap16", ns=ns)
    assert r.returncode == 125 and "--net tap=stap16: given twice" in r.stderr, r
    args = [f"--net=tap=t{i}" for i in range(5)]
    r = run_vm(hull, kernel, *args, ns=ns)
    assert r.returncode == 125 and "at most 4 --net" in r.stderr, r
    holder = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", HOLD_TAP],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = run_vm(hull, kernel, "--net", "tap=stap16", ns=ns)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 125 and "--net tap=stap16: in use by another process" in r.stderr, r


# Attach to stap16 (single queue) and hold it until killed.
HOLD_TAP = r"""
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"stap16", 0x0002 | 0x1000))
print("held", flush=True)
time.sleep(600)
"""
