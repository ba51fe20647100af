"""The control API over --api-sock (issue 16 items 5 and 6): HTTP/1.1 with JSON bodies in
Firecracker's shape, the first API's JSON lines on the same socket, and hostile clients
(oversize heads and bodies, bad lengths, chunked bodies, garbage, half requests, a flood of
connections) answered with a 4xx or a closed connection while the VM and the other clients
keep being served, with bounded memory.

The tests marked `kvm` drive the tiny guest (on the host when its /dev/kvm works, else in the
sandbox); test_real_vm_api (marked `sandbox`) boots Debian's kernel with a disk and uses curl
--unix-socket: status, pause/resume, metrics that follow the guest's disk I/O, bad requests,
a half request held open while the console keeps working, and a shutdown."""
import json
import os
import random
import shutil
import socket
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE, Lines, UnixHTTPConnection, http_raw, http_status, \
    vm_api, vm_http

RUN = ["vm", "run", "--raw", "--allow-pvm", "--memory", "2M"]
WAIT = 120  # bound on waits for what must happen (a hang fails instead of blocking)
MAX_CLIENTS = 32  # API_MAX_CLIENTS (src/vmm/api.h)


def start(hull, kernel, sock, marker, extra=()):
    p = subprocess.Popen([hull, *RUN, *extra, "--api-sock", sock, "--kernel", kernel],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = Lines(p.stdout)
    if not lines.until(marker, WAIT):
        p.kill()
        p.wait()
        pytest.fail(f"the guest did not print {marker!r}: {lines.text()}")
    return p, lines


@pytest.fixture
def spin_vm(hull, tiny_guest, tmp_path):
    """A running tiny guest with an API socket: (process, socket path)."""
    sock = str(tmp_path / "api.sock")
    p, _ = start(hull, tiny_guest["spin"], sock, "spinning")
    try:
        yield p, sock
        if p.poll() is None:
            assert vm_http(sock, "PUT", "/actions", {"action_type": "power-off"})[0] == 204
        assert p.wait(timeout=WAIT) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not os.path.exists(sock)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


pytestmark_kvm = pytest.mark.kvm


@pytestmark_kvm
def test_status_actions_and_config(spin_vm):
    p, sock = spin_vm
    st, body, _ = vm_http(sock)
    assert st == 200
    assert body["app_name"] == "hull" and body["state"] == "Running"
    assert body["vcpu_count"] == 1 and body["mem_size_mib"] == 2 and body["pid"] == p.pid
    assert {"type": "serial", "index": 0} in body["devices"]
    assert vm_http(sock, "PUT", "/actions", {"action_type": "pause"})[:2] == (204, None)
    assert vm_http(sock)[1]["state"] == "Paused"
    assert vm_http(sock, "PUT", "/actions", {"action_type": "resume"})[0] == 204
    assert vm_http(sock)[1]["state"] == "Running"
    # Firecracker's PATCH /vm
    assert vm_http(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert vm_http(sock)[1]["state"] == "Paused"
    assert vm_http(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
    assert vm_http(sock)[1]["state"] == "Running"
    assert vm_http(sock, url="/machine-config")[:2] == (
        200, {"vcpu_count": 1, "mem_size_mib": 2, "smt": False, "track_dirty_pages": False})
    cfg = vm_http(sock, url="/vm/config")[1]
    assert cfg["boot-source"]["kernel_image_path"].endswith("spin.bin")
    assert cfg["drives"] == [] and cfg["machine-config"]["vcpu_count"] == 1
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-sS", "--unix-socket", sock, "http://localhost/"],
                             capture_output=True, text=True, timeout=WAIT, check=True).stdout
        assert json.loads(out)["state"] == "Running"


@pytestmark_kvm
def test_metrics(spin_vm):
    p, sock = spin_vm
    m = vm_http(sock, url="/metrics")[1]
    assert m["vcpu"]["exits"]["io-serial"] > 0  # the guest printed through the UART
    assert m["vcpu"]["exits_total"] >= m["vcpu"]["exits"]["io-serial"]
    assert m["devices"] == {}  # a raw guest has no virtio devices
    api = m["api_server"]
    assert api["connections"] == 1 and api["requests"] >= 1
    vm_http(sock, url="/nope")
    m2 = vm_http(sock, url="/metrics")[1]
    assert m2["api_server"]["requests"] == api["requests"] + 2
    assert m2["api_server"]["errors"] == api["errors"] + 1
    assert m2["utc_timestamp_ms"] >= m["utc_timestamp_ms"]


@pytestmark_kvm
@pytest.mark.parametrize("method,url,body,status,words", [
    ("GET", "/nope", None, 404, "/nope"),
    ("DELETE", "/metrics", None, 405, "GET"),
    ("POST", "/actions", "{}", 405, "PUT"),
    # the resize routes on a VM without a balloon or disks (test_resize.py has them working)
    ("PATCH", "/balloon", {"amount_mib": 1}, 400, "no balloon"),
    ("GET", "/balloon/statistics", None, 400, "no balloon"),
    ("PATCH", "/drives/drive0", {"path_on_host": "x"}, 404, "not a --disk number"),
    ("PATCH", "/drives/0", {"size": 1 << 20}, 400, "disk"),
    ("PATCH", "/network-interfaces/0",
     {"tx_rate_limiter": {"ops": {"size": 10, "refill_time": 1000}}}, 404,
     "no such NIC"),
    ("PATCH", "/network-interfaces/eth0", {"tx_rate_limiter": {}}, 404, "not a --net number"),
    ("PATCH", "/network-interfaces/0", {"mtu": 1}, 400, "rx_rate_limiter or tx_rate_limiter"),
    ("PUT", "/network-interfaces/eth0", {}, 400, "iface_id"),
    ("PUT", "/network-interfaces/eth0", {"iface_id": "eth1", "host_dev_name": "t"}, 400,
     "not the path's"),
    ("PUT", "/network-interfaces/eth0",
     {"iface_id": "eth0", "host_dev_name": "t", "guest_mac": "01:00:00:00:00:01"}, 400,
     "guest_mac"),
    ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "x" * 16}, 400,
     "host_dev_name"),
    ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "t", "mtu": 1},
     400, "unknown field 'mtu'"),
    ("DELETE", "/network-interfaces/eth0", None, 404, "no hot-plugged NIC"),
    ("PATCH", "/machine-config", {"mem_size_mib": 4}, 501, "not implemented"),
    ("PUT", "/actions", None, 400, "body is required"),
    ("PUT", "/actions", "{nope", 400, "body"),
    ("PUT", "/actions", "[1, 2]", 400, "JSON object"),
    ("PUT", "/actions", {"action_type": "explode"}, 400, "explode"),
    ("PUT", "/actions", {"action_type": 1}, 400, "action_type"),
    ("PUT", "/actions", {"action": "pause"}, 400, "unknown field 'action'"),
    ("PATCH", "/vm", {"state": "Sleeping"}, 400, "Sleeping"),
])
def test_bad_requests_keep_the_connection(spin_vm, method, url, body, status, words):
    p, sock = spin_vm
    conn = UnixHTTPConnection(sock)
    try:
        st, reply, headers = vm_http(sock, method, url, body, conn=conn)
        assert st == status and words in reply["fault_message"], reply
        if status == 405:
            assert headers["Allow"]
        # the framing was fine: the same connection serves the next request
        assert vm_http(sock, conn=conn)[1]["state"] == "Running"
    finally:
        conn.close()


@pytestmark_kvm
def test_keep_alive_and_pipelining(spin_vm):
    p, sock = spin_vm
    conn = UnixHTTPConnection(sock)
    try:
        for _ in range(20):
            assert vm_http(sock, conn=conn)[0] == 200
    finally:
        conn.close()
    # ten requests in one write (the last closes), answered in order
    reqs = b"".join(b"GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(9))
    reqs += b"PUT /actions HTTP/1.1\r\nContent-Length: 23\r\nConnection: close\r\n\r\n" \
            b'{"action_type":"pause"}'
    out = http_raw(sock, reqs)
    assert out.count(b"HTTP/1.1 200 OK") == 9 and out.count(b"HTTP/1.1 204") == 1
    assert vm_http(sock)[1]["state"] == "Paused"
    # a request split into single bytes
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(WAIT)
    try:
        s.connect(sock)
        for b in b'PATCH /vm HTTP/1.1\r\nContent-Length: 19\r\n\r\n{"state":"Resumed"}':
            s.send(bytes([b]))
        assert s.recv(4096).startswith(b"HTTP/1.1 204")
    finally:
        s.close()
    assert vm_http(sock)[1]["state"] == "Running"


HOSTILE = [
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n", 431),
    (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n", 414),
    (b"PUT /actions HTTP/1.1\r\nContent-Length: 70000\r\n\r\n" + b"{" * 70000, 413),
    (b"PUT /actions HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
    (b"PUT /actions HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
    (b"PUT /actions HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"\x00\xff\x01garbage\r\n\r\n", 400),
    (b"not json\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
]


@pytestmark_kvm
def test_hostile_requests(spin_vm):
    p, sock = spin_vm
    for data, status in HOSTILE:
        out = http_raw(sock, data)
        assert http_status(out) == status, (data[:60], out[:200])
        assert b"Connection: close" in out and b'"fault_message"' in out
        assert vm_http(sock)[0] == 200  # and the API goes on
    # seeded random bytes (not '{', which would make the connection JSON lines)
    rnd = random.Random(16)
    for _ in range(60):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000)))
        if data[:1] == b"{":
            data = b"x" + data
        out = http_raw(sock, data + b"\r\n\r\n")
        assert out == b"" or http_status(out) in (400, 404, 405, 411, 413, 414, 431, 505), \
            (data[:60], out[:200])
    assert p.poll() is None
    assert vm_http(sock)[1]["state"] == "Running"


@pytestmark_kvm
def test_half_requests_time_out_while_others_are_served(spin_vm):
    p, sock = spin_vm
    slow = []
    try:
        # slowloris: half a head, half a body, and a client that says nothing
        for data in (b"GET / HTTP/1.1\r\nHost: loc", b"PUT /actions HTTP/1.1\r\n"
                     b"Content-Length: 100\r\n\r\n{\"action_", b""):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(WAIT)
            s.connect(sock)
            s.sendall(data)
            slow.append(s)
        for _ in range(5):
            assert vm_http(sock)[1]["state"] == "Running"
        # each of them is answered 408 (the ones that began a request) or closed, in bounded time
        for s, expect in zip(slow, (408, 408, 0)):
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
            assert http_status(out) == expect, out
        assert vm_http(sock, url="/metrics")[1]["api_server"]["timeouts"] == 3
    finally:
        for s in slow:
            s.close()


@pytestmark_kvm
def test_connection_flood(spin_vm):
    p, sock = spin_vm
    rss0 = rss_kib(p.pid)
    conns = []
    try:
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)  # blocking: waits while the listen backlog is full
            s.settimeout(WAIT)
            conns.append(s)
        # the ones over the cap hear 503 (or are closed); the others are served
        statuses = []
        for s in conns:
            try:
                s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # a 503 closed it: the answer waits in the receive buffer
            try:
                statuses.append(http_status(s.recv(4096)))
            except ConnectionResetError:
                statuses.append(0)
        # (a connection served once may be closed to make room for a new one: it had its 200)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) >= MAX_CLIENTS and statuses.count(503) >= 1
        for s in conns:
            s.close()
        conns = []
        # every connection holding most of a big body: memory stays bounded
        for _ in range(MAX_CLIENTS):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(WAIT)
            s.connect(sock)
            s.sendall(b"PUT /actions HTTP/1.1\r\nContent-Length: 65536\r\n\r\n" + b" " * 60000)
            conns.append(s)
        assert vm_http(sock)[0] in (200, 503)
        assert rss_kib(p.pid) - rss0 < 16 * 1024
    finally:
        for s in conns:
            s.close()
    # once they are gone the API serves again (the closes are seen by the next event)
    deadline = time.monotonic() + WAIT
    while vm_http(sock)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert vm_http(sock)[0] == 200
    assert p.poll() is None


@pytestmark_kvm
def test_json_lines_still_served(spin_vm):
    p, sock = spin_vm
    assert vm_api(sock, {"op": "status"}) == {"ok": True, "state": "running", "cpus": 1,
                                              "memory": 2 << 20}
    assert vm_api(sock, {"op": "pause"})["state"] == "paused"
    assert vm_http(sock)[1]["state"] == "Paused"
    assert vm_api(sock, {"op": "resume"})["state"] == "running"
    assert vm_api(sock, None, raw=b"{" + b"x" * 5000)["ok"] is False  # over 4096 bytes


@pytestmark_kvm
def test_many_connections_in_sequence(spin_vm):
    # Before, each connection took one of the event loop's 64 watch slots for good (a
    # deleted watch is never reused): after ~60 requests the API closed every new one.
    p, sock = spin_vm
    for i in range(150):
        assert vm_api(sock, {"op": "status"})["state"] == "running", i


@pytestmark_kvm
def test_shutdown_through_http(hull, tiny_guest, tmp_path):
    sock = str(tmp_path / "api.sock")
    p, lines = start(hull, tiny_guest["kbd"], sock, "waiting for ctrl-alt-del")
    try:
        # Firecracker's name for it; hull's own "shutdown" is the same request
        assert vm_http(sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"})[0] == 204
        assert p.wait(timeout=WAIT) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines.t.join(timeout=WAIT)
    assert lines.until("powering off", 5), lines.text()
    assert not os.path.exists(sock)


REAL_INIT = INIT_PROLOGUE + r"""
echo "HULL-TEST: ready"
while read -r line; do
  case "$line" in
    write) dd if=/dev/zero of=/dev/vda bs=4096 count=512 oflag=direct 2>/dev/null
           echo "HULL-TEST: wrote";;
    read) dd if=/dev/vda of=/dev/null bs=4096 count=512 iflag=direct 2>/dev/null
          echo "HULL-TEST: read";;
    *) echo "HULL-TEST: echo=$line";;
  esac
done
"""


def curl(sock, url, method="GET", data=None):
    cmd = ["curl", "-sS", "--unix-socket", sock, "-X", method, "-w", "\n%{http_code}",
           f"http://localhost{url}"]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", data]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT, check=True).stdout
    body, code = out.rsplit("\n", 1)
    return int(code), (json.loads(body) if body else None)


@pytest.mark.sandbox
@pytest.mark.slow
def test_real_vm_api(hull, kernel, make_initramfs, tmp_path):
    if not shutil.which("curl"):
        pytest.skip("curl missing (apt-get install curl)")
    disk = tmp_path / "disk.raw"
    with open(disk, "wb") as f:
        f.truncate(16 << 20)
    initrd = make_initramfs(REAL_INIT, modules=())
    sock = str(tmp_path / "api.sock")
    p = subprocess.Popen([hull, "vm", "run", "--kernel", kernel[0], "--initrd", initrd,
                          "--memory", "256M", "--disk", str(disk), "--api-sock", sock,
                          "--cmdline", "console=ttyS0 quiet"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines = Lines(p.stdout)
    half = None

    def say(word, marker):
        p.stdin.write(word + "\n")
        p.stdin.flush()
        assert lines.until(marker, WAIT), lines.text()

    try:
        assert lines.until("HULL-TEST: ready", 600), lines.text()
        code, st = curl(sock, "/")
        assert code == 200 and st["state"] == "Running"
        assert {"type": "virtio-blk", "index": 0} in st["devices"]
        m0 = curl(sock, "/metrics")[1]
        blk0 = m0["devices"]["virtio-blk0"]
        say("write", "HULL-TEST: wrote")
        m1 = curl(sock, "/metrics")[1]
        blk1 = m1["devices"]["virtio-blk0"]
        assert blk1["write_bytes"] - blk0["write_bytes"] >= 2 << 20
        assert blk1["requests"] > blk0["requests"] and blk1["errors"] == blk0["errors"]
        say("read", "HULL-TEST: read")
        blk2 = curl(sock, "/metrics")[1]["devices"]["virtio-blk0"]
        assert blk2["read_bytes"] - blk1["read_bytes"] >= 2 << 20
        assert m1["vcpu"]["exits_total"] > m0["vcpu"]["exits_total"]
        # bad requests
        code, fault = curl(sock, "/actions", "PUT", '{"action_type": "explode"}')
        assert code == 400 and "explode" in fault["fault_message"]
        assert curl(sock, "/nope")[0] == 404
        # a half request held open: the console and the other clients go on
        half = socket.socket(socket.AF_UNIX)
        half.settimeout(WAIT)
        half.connect(sock)
        half.sendall(b"PUT /actions HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
        say("ping", "HULL-TEST: echo=ping")
        assert curl(sock, "/")[1]["state"] == "Running"
        # pause and resume: a paused guest does not echo until resumed
        assert curl(sock, "/vm", "PATCH", '{"state": "Paused"}')[0] == 204
        assert curl(sock, "/")[1]["state"] == "Paused"
        p.stdin.write("pong\n")
        p.stdin.flush()
        assert curl(sock, "/actions", "PUT", '{"action_type": "resume"}')[0] == 204
        assert lines.until("HULL-TEST: echo=pong", WAIT), lines.text()
        # shutdown: Ctrl-Alt-Del; a shell as PID 1 leaves the kernel's C-A-D on: it restarts
        assert curl(sock, "/actions", "PUT", '{"action_type": "shutdown"}')[0] == 204
        p.wait(timeout=WAIT)
        err = p.stderr.read()
    finally:
        if half:
            half.close()
        if p.poll() is None:
            p.kill()
            p.wait()
    lines.t.join(timeout=WAIT)
    assert p.returncode == 3, lines.text() + err
    assert not os.path.exists(sock)


@pytestmark_kvm
def test_cli_verbs(hull, tiny_guest, tmp_path):
    sock = str(tmp_path / "api.sock")

    def verb(*args):
        return subprocess.run([hull, "vm", *args, "--api-sock", sock], capture_output=True,
                              text=True, timeout=WAIT)

    p, _ = start(hull, tiny_guest["spin"], sock, "spinning")
    try:
        r = verb("status")
        assert r.returncode == 0 and json.loads(r.stdout)["state"] == "Running", r.stderr
        assert verb("pause").returncode == 0
        assert json.loads(verb("status").stdout)["state"] == "Paused"
        assert verb("resume").returncode == 0
        assert json.loads(verb("status").stdout)["state"] == "Running"
        m = json.loads(verb("metrics").stdout)
        assert m["vcpu"]["exits_total"] > 0
        r = verb("power-off")
        assert r.returncode == 0 and r.stdout == "", r.stderr
        assert p.wait(timeout=WAIT) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # the VM is gone: one line naming the socket, exit 125
    r = verb("status")
    assert r.returncode == 125 and r.stdout == ""
    assert r.stderr.startswith("hull vm status: --api-sock ") and len(r.stderr.splitlines()) == 1
    r = subprocess.run([hull, "vm", "pause"], capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 125 and "--api-sock PATH is required" in r.stderr
