"""Live migration of a Linux guest (Debian's kernel, in the sandbox's nested KVM) between two
`hull vm` processes on one host, with its disks on storage both see (src/vmm/migrate.c,
migrate-disks.c). The guest's init counts: each step rewrites one page of a 1 MiB tmpfs
buffer (its RAM) with the step number and prints the buffer's MD5, writes "step N" to a raw
and to a QCOW2 disk (a new 64 KiB cluster of the QCOW2 for each of the first 128 steps:
allocations, so new tables and refcounts) and reads the step before back from both with its
page cache dropped (from the disk files as the VMM serving it opened them). Across each
migration the count goes on with no step lost or repeated, every checksum is the one the
test computes, and every read-back is the step before: the destination opens the disks only
after the source's last write, its QCOW2 metadata read then."""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
MEM = "256M"
PAGES = 256      # the buffer's pages
SLOTS = 128      # the disks' slots, 64 KiB apart
SLOT = 64 << 10

COUNT_INIT = r"""
mkdir -p /buf
mount -t tmpfs -o size=96m tmpfs /buf
dd if=/dev/zero of=/buf/m bs=4096 count=%(pages)d 2>/dev/null
if grep -q hull.load /proc/cmdline; then
  dd if=/dev/urandom of=/buf/src bs=1M count=32 2>/dev/null
  (while true; do cat /buf/src > /buf/junk; done) &
fi
echo "HULL-TEST: counting"
i=0
while true; do
  i=$((i + 1))
  echo $i | dd of=/buf/m bs=4096 seek=$((i %% %(pages)d)) count=1 conv=sync,notrunc 2>/dev/null
  s=$(md5sum /buf/m)
  for d in /dev/vda /dev/vdb; do
    echo "step $i" | dd of=$d bs=512 seek=$(((i %% %(slots)d) * 128)) count=1 \
      conv=sync,notrunc,fsync 2>/dev/null
  done
  echo 1 > /proc/sys/vm/drop_caches
  p=$(((i - 1) %% %(slots)d))
  a=$(dd if=/dev/vda bs=512 skip=$((p * 128)) count=1 2>/dev/null | head -n 1)
  b=$(dd if=/dev/vdb bs=512 skip=$((p * 128)) count=1 2>/dev/null | head -n 1)
  echo "HULL-COUNT $i ${s%%%% *} [$a] [$b]"
  usleep 20000
done
""" % {"pages": PAGES, "slots": SLOTS}
LINE = re.compile(rb"^HULL-COUNT (\d+) ([0-9a-f]{32}) \[([^]\n]*)\] \[([^]\n]*)\]$")


def _md5_at(i):
    """The buffer's MD5 after step i: page k holds the last step j <= i with j % PAGES == k,
    as "j\\n" and zeros (dd conv=sync), or zeros."""
    buf = bytearray(PAGES * 4096)
    for j in range(max(1, i - PAGES + 1), i + 1):
        k = j % PAGES
        line = b"%d\n" % j
        buf[k * 4096:k * 4096 + len(line)] = line
    return hashlib.md5(bytes(buf)).hexdigest()


def _counts(data):
    """The complete HULL-COUNT lines of a console output (the guest's tty writes \\r\\n)."""
    data = data.replace(b"\r", b"")
    out = []
    for ln in data.split(b"\n")[:-1]:
        m = LINE.match(ln)
        if m:
            out.append((int(m[1]), m[2].decode(), m[3].decode(), m[4].decode()))
    return out


def _wait_count(path, n, timeout=900):
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = _counts(path.read_bytes())
        if c and c[-1][0] >= n:
            return c[-1][0]
        time.sleep(0.5)
    raise AssertionError(f"{path}: no step {n}: {path.read_bytes()[-3000:]!r}")


def _check(outs):
    """The steps of the consoles in turn: 1, 2, 3... with the right checksums and reads."""
    steps = [c for out in outs for c in _counts(out.read_bytes())]
    assert [s[0] for s in steps] == list(range(1, len(steps) + 1)), [s[0] for s in steps]
    for i, md5, a, b in steps:
        assert md5 == _md5_at(i), (i, md5)
        want = f"step {i - 1}" if i > 1 else ""
        assert (a, b) == (want, want) or i == 1, (i, a, b)
    return len(steps)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_listening(port):
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return True
    return False


def _wait_listening(spec, proc, stderr, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, stderr()
        if spec.startswith("unix:") and os.path.exists(spec[5:]):
            return
        if spec.startswith("tcp:") and _tcp_listening(int(spec.rsplit(":", 1)[1])):
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {spec}")


class Guests:
    """The hull vm processes of a test, killed and reaped at the end whatever happened."""

    def __init__(self, hull, tmp):
        self.hull, self.tmp, self.procs = hull, tmp, []
        self.vda, self.vdb = tmp / "vda.raw", tmp / "vdb.qcow2"
        self.vda.write_bytes(b"\0" * (8 << 20))
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.vdb), "16M"],
                       check=True)

    def disks(self, vda=None):
        return ["--disk", str(vda or self.vda), "--disk", f"{self.vdb},format=qcow2"]

    def start(self, name, *args, vda=None):
        out = self.tmp / f"{name}.out"
        with open(out, "wb") as f, open(self.tmp / f"{name}.err", "wb") as e:
            p = subprocess.Popen([self.hull, "vm", "run", "--memory", MEM, *self.disks(vda),
                                  "--api-sock", str(self.tmp / f"{name}.sock"), *args],
                                 stdout=f, stderr=e)
        self.procs.append(p)
        return p, out

    def err(self, name):
        return (self.tmp / f"{name}.err").read_text(errors="replace")

    def errs(self):
        """Every VM's stderr, for an assertion's message."""
        return "".join(f"{n}: {self.err(n[:-4])}" for n in sorted(os.listdir(self.tmp))
                       if n.endswith(".err"))

    def incoming(self, name, spec, vda=None):
        p, out = self.start(name, "--incoming", spec, vda=vda)
        _wait_listening(spec, p, lambda: self.err(name))
        return p, out

    def migrate(self, src, to, *extra):
        return subprocess.run([self.hull, "vm", "migrate", "--api-sock",
                               str(self.tmp / f"{src}.sock"), "--to", to, *extra],
                              capture_output=True, text=True, timeout=900)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=60)
        for n in os.listdir(self.tmp):  # a SIGKILLed VMM leaves its control socket
            if n.endswith(".sock"):
                os.unlink(self.tmp / n)


@pytest.fixture
def guests(hull, tmp_path):
    if not shutil.which("qemu-img"):
        pytest.skip("no qemu-img (apt-get install qemu-utils)")
    g = Guests(hull, tmp_path)
    yield g
    g.close()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".sock")]


def _boot(guests, vmlinux, make_initramfs, extra=""):
    initrd = make_initramfs(INIT_PROLOGUE + COUNT_INIT, modules=())
    return guests.start("src", "--kernel", vmlinux, "--initrd", initrd,
                        "--cmdline", f"console=ttyS0 quiet {extra}".strip())


def _check_disks(guests, last):
    """The files, read outside any VM: the last steps' slots of both disks (the QCOW2
    converted by qemu-img, whose check finds no damage)."""
    r = subprocess.run(["qemu-img", "check", str(guests.vdb)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    raw = guests.tmp / "vdb.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(guests.vdb), str(raw)], check=True)
    for path in (guests.vda, raw):
        data = path.read_bytes()
        for j in range(max(1, last - SLOTS + 2), last):  # the last one may be cut short
            at = (j % SLOTS) * SLOT
            assert data[at:at + 16].split(b"\n")[0] == b"step %d" % j, (path, j)


def test_linux_guest_counts_across_two_migrations(hull, vmlinux, make_initramfs, guests):
    """Booted once, migrated over a unix socket, then from there over TCP: one unbroken count,
    right checksums and disk reads throughout, the disks' files right afterwards."""
    src, out0 = _boot(guests, vmlinux, make_initramfs)
    n = _wait_count(out0, 5)
    outs = [out0]
    prev, prev_name = src, "src"
    for name, spec in (("dst1", f"unix:{guests.tmp}/in1.sock"),
                       ("dst2", f"tcp:127.0.0.1:{_free_port()}")):
        dst, out = guests.incoming(name, spec)
        r = guests.migrate(prev_name, spec)
        assert r.returncode == 0, r.stderr + guests.errs()
        assert r.stdout.startswith(f"migrated to {spec}: "), r.stdout
        assert prev.wait(timeout=120) == 0, guests.errs()
        outs.append(out)
        n = _wait_count(out, n + 5)
        assert dst.poll() is None
        assert b"Linux version" not in out.read_bytes()  # no boot: the guest went on
        prev, prev_name = dst, name
    prev.kill()
    prev.wait(timeout=60)
    last = _check(outs)
    _check_disks(guests, last)


def test_linux_guest_under_write_load(hull, vmlinux, make_initramfs, guests):
    """A guest that rewrites 32 MiB over and over besides counting. At 1 MiB/s with a 1 ms
    downtime the migration times out (one line, exit 125) and the source counts on; a
    destination whose disk has another size refuses at the stop-and-copy, after the source
    released its disks: the source opens them again and counts on, reading its disks back;
    unlimited with --downtime-ms 3000 it converges (or stops and copies after the last round)
    and the count goes on at the destination."""
    src, out0 = _boot(guests, vmlinux, make_initramfs, "hull.load=1")
    n = _wait_count(out0, 5)

    to = f"tcp:127.0.0.1:{_free_port()}"
    dst, _ = guests.incoming("dstA", to)
    r = guests.migrate("src", to, "--max-bandwidth", "1", "--downtime-ms", "1",
                       "--timeout", "5")
    assert r.returncode == 125, r.stdout + guests.errs()
    assert "timed out" in r.stderr and "goes on here" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert dst.wait(timeout=120) == 125
    n = _wait_count(out0, n + 3)
    assert src.poll() is None

    other = guests.tmp / "other.raw"
    other.write_bytes(b"\0" * (4 << 20))
    to = f"unix:{guests.tmp}/inB.sock"
    dst, _ = guests.incoming("dstB", to, vda=other)
    r = guests.migrate("src", to)
    assert r.returncode == 125, r.stdout + guests.errs()
    assert "sectors, the guest's disk had" in r.stderr and "goes on here" in r.stderr, r.stderr
    assert dst.wait(timeout=120) == 125
    assert "sectors, the guest's disk had" in guests.err("dstB")
    n = _wait_count(out0, n + 3)  # its reads back prove its disks open again
    assert src.poll() is None
    assert other.read_bytes() == b"\0" * (4 << 20)

    to = f"tcp:127.0.0.1:{_free_port()}"
    dst, out = guests.incoming("dstC", to)
    r = guests.migrate("src", to, "--downtime-ms", "3000")
    assert r.returncode == 0, r.stderr + guests.errs()
    assert src.wait(timeout=120) == 0
    _wait_count(out, n + 5)
    dst.kill()
    dst.wait(timeout=60)
    last = _check([out0, out])
    _check_disks(guests, last)


# The TCP case: the guest on a bridge in a namespace the test made, a server there sending
# "net N" lines that the guest prints. A frame for the guest that the bridge sends to the
# source's port is lost, and the guest, silent but for its ACKs, would never tell the bridge
# otherwise: the destination's RARP (migrate-net.c) moves the MAC to its port.
NET_INIT = r"""
ip link set lo up
ip link set eth0 up
ip addr add 10.77.18.2/24 dev eth0
echo "HULL-TEST: net up"
until nc 10.77.18.1 5218 </dev/null | while read -r l; do echo "HULL-NET $l"; done; do
  usleep 500000
done
echo "HULL-TEST: connection ended"
"""
SERVER = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.18.1", 5218))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
s.close()
n = 0
while True:
    n += 1
    c.sendall(b"net %d\n" % n)
    time.sleep(0.1)
"""
# Waits for one RARP (ETH_P_RARP) on the bridge and prints the MAC it came from.
CAPTURE = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x8035))
s.bind((sys.argv[1], 0))
s.settimeout(600)  # no RARP (a hull without the announce): "none", not a hang
print("capturing", flush=True)
try:
    print(s.recv(2048)[6:12].hex(":"), flush=True)
except socket.timeout:
    print("none", flush=True)
"""
MAC = "02:17:18:00:00:01"


def _ns(ns, *cmd, **kw):
    return subprocess.run(["ip", "-n", ns, *cmd], check=True, capture_output=True, text=True,
                          **kw)


@pytest.fixture
def bridge_ns():
    """A namespace with a bridge br17 (10.77.18.1/24, FDB entries kept for a day) and two
    persistent taps on it, mtap0 and mtap1, up: the source's port stays there after it."""
    ns = f"hull-mig17-{os.getpid()}"
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        _ns(ns, "link", "set", "lo", "up")
        _ns(ns, "link", "add", "br17", "type", "bridge", "ageing_time", "8640000")
        _ns(ns, "addr", "add", "10.77.18.1/24", "dev", "br17")
        _ns(ns, "link", "set", "br17", "up")
        for t in ("mtap0", "mtap1"):
            _ns(ns, "tuntap", "add", "dev", t, "mode", "tap")
            _ns(ns, "link", "set", t, "master", "br17")
            _ns(ns, "link", "set", t, "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True).stdout


def _net_lines(path):
    data = path.read_bytes().replace(b"\r", b"")
    return [int(m) for m in re.findall(rb"^HULL-NET net (\d+)$", data, re.M)]


def _wait_net(path, n, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = _net_lines(path)
        if got and got[-1] >= n:
            return got[-1]
        time.sleep(0.5)
    raise AssertionError(f"{path}: no net line {n}: {path.read_bytes()[-3000:]!r}")


def test_tcp_connection_survives_migration(hull, vmlinux, make_initramfs, bridge_ns, tmp_path):
    """The guest (user-space virtio-net on mtap0) reads a TCP stream from a server on the
    bridge; migrated to a destination on mtap1 with the same MAC, the destination announces
    the MAC (a RARP seen on the bridge), the bridge moves it to mtap1, and the same
    connection goes on: the lines the guest printed on both sides make one unbroken
    sequence, and the connection never ended."""
    ns = bridge_ns
    initrd = make_initramfs(INIT_PROLOGUE + NET_INIT, modules=("virtio_pci", "virtio_net"))
    procs = []

    def start(name, *args, stdout=None):
        out = tmp_path / f"{name}.out"
        with open(out, "wb") as f, open(tmp_path / f"{name}.err", "wb") as e:
            p = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=stdout or f,
                                 stderr=e)
        procs.append(p)
        return p, out

    def errs():
        return "".join(f"{n}: {(tmp_path / n).read_text(errors='replace')}"
                       for n in sorted(os.listdir(tmp_path)) if n.endswith(".err"))

    def vm(name, tap, *extra):
        return start(name, hull, "vm", "run", "--memory", MEM, "--api-sock",
                     str(tmp_path / f"{name}.sock"), "--net",
                     f"tap={tap},mac={MAC},vhost=off", *extra)

    try:
        server, _ = start("server", "/usr/bin/python3", "-c", SERVER, stdout=subprocess.PIPE)
        assert server.stdout.readline() == b"listening\n"
        src, out0 = vm("src", "mtap0", "--kernel", vmlinux, "--initrd", initrd,
                       "--cmdline", "console=ttyS0 quiet")
        last = _wait_net(out0, 10)
        fdb = _ns(ns, "-o", "link", "show", "mtap0").stdout  # sanity: the port is there
        assert "master br17" in fdb, fdb
        to = f"unix:{tmp_path}/in.sock"
        dst, out1 = vm("dst", "mtap1", "--incoming", to)
        _wait_listening(to, dst, errs)
        cap, _ = start("capture", "/usr/bin/python3", "-c", CAPTURE, "br17",
                       stdout=subprocess.PIPE)
        assert cap.stdout.readline() == b"capturing\n"
        r = subprocess.run([hull, "vm", "migrate", "--api-sock", str(tmp_path / "src.sock"),
                            "--to", to], capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr + errs()
        assert src.wait(timeout=120) == 0, errs()
        assert cap.stdout.readline().decode().strip() == MAC
        last = _wait_net(out1, max(_net_lines(out0)[-1], last) + 20)
        fdb = subprocess.run(["bridge", "-n", ns, "fdb", "show", "br", "br17"],
                             capture_output=True, text=True).stdout
        assert any(ln.startswith(f"{MAC} dev mtap1") for ln in fdb.splitlines()), fdb
        assert dst.poll() is None and server.poll() is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=60)
            if p.stdout:
                p.stdout.close()
    lines = _net_lines(out0) + _net_lines(out1)
    assert lines == list(range(1, len(lines) + 1)), lines
    text = (out0.read_bytes() + out1.read_bytes()).decode(errors="replace")
    assert "connection ended" not in text and "insmod" not in text, text[-3000:]
    for n in os.listdir(tmp_path):
        if n.endswith(".sock"):
            os.unlink(tmp_path / n)
