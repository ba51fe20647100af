"""Helpers shared by the `hull vm` tests (plain functions, no fixtures)."""
import fcntl
import glob
import http.client
import json
import os
import pathlib
import queue
import shutil
import subprocess
import tarfile
import socket
import struct
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[3]
# Runs a command as on a host without /dev/kvm (or, with --not-kvm, with an unusable one).
WITHOUT_KVM = str(REPO / "tests/sandbox/without-kvm")
KVM_GET_API_VERSION = 0xAE00


def host_lacks_hw_virt() -> bool:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                words = line.split(":", 1)[1].split()
                return "vmx" not in words and "svm" not in words
    return False


def kvm_works() -> bool:
    """/dev/kvm opens and answers KVM_GET_API_VERSION (PVM counts: the tests pass
    --allow-pvm). The same probe as scripts/test's, which routes the tests marked `kvm` to
    the sandbox when it fails."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


def find_kernel():
    """Debian's kernel and its module tree, newest first: (vmlinuz, /lib/modules/VER)."""
    for vmlinuz in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        ver = vmlinuz.split("vmlinuz-", 1)[1]
        moddir = f"/lib/modules/{ver}"
        if os.path.exists(f"{moddir}/modules.dep"):
            return vmlinuz, moddir
    return None


# The guest init's common prologue: mount, load the modules hull packed, in order.
INIT_PROLOGUE = """#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" || echo "HULL-TEST: insmod $m failed"; done < /etc/hull-modules
"""


def vm_api(path, obj=None, raw=None, timeout=10):
    """One request on a VM's API socket (JSON lines): obj as JSON (default: status), or raw
    bytes as they are; the answer's JSON."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(raw if raw is not None else
                  (json.dumps(obj if obj is not None else {"op": "status"}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return json.loads(data)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a VM's API socket (keep-alive: several requests on one connection)."""
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def vm_http(path, method="GET", url="/", body=None, timeout=10, conn=None):
    """One HTTP request on a VM's API socket: body a dict (sent as JSON), str/bytes (as they
    are) or None. Returns (status, the reply's JSON or None, headers). On conn (a
    UnixHTTPConnection) when given, else on a new connection closed afterwards."""
    c = conn or UnixHTTPConnection(path, timeout)
    try:
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        c.request(method, url, body=data)
        r = c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None), dict(r.getheaders())
    finally:
        if conn is None:
            c.close()


def http_raw(path, data, timeout=10):
    """Send raw bytes on a new connection, half-close it, read until the server closes it."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all: read its answer
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def http_status(reply: bytes) -> int:
    """The status code of the first response in reply (0: none)."""
    if not reply.startswith(b"HTTP/1.1 "):
        return 0
    return int(reply[9:12])


class Lines:
    """A process's output, read by a thread: until() waits for a marker with a bound, so that
    a silent console fails the test instead of blocking it."""
    def __init__(self, stream):
        self.q = queue.Queue()
        self.out = []
        self.t = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.t.start()

    def _pump(self, stream):
        for line in iter(stream.readline, ""):
            self.q.put(line)
        self.q.put(None)

    def until(self, marker, bound=120):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                return False
            self.out.append(line)
            if marker in line:
                return True
        return False

    def text(self):
        return "".join(self.out)[-3000:]


class BusyboxStore:
    """A private hull store (HULL_ROOT under tmp_path) with a busybox image "bb": the given
    applets, /etc/passwd and /etc/group lines, and what `extra(rootfs)` adds. For the
    `run --vm` tests; `cleanup()` removes its containers and mounts."""

    def __init__(self, hull, tmp_path, applets, passwd="root:x:0:0:root:/root:/bin/sh\n",
                 group="root:x:0:\n", dirs=("bin", "etc", "tmp"), extra=None,
                 timeout=600, busybox="/bin/busybox"):
        self.hull = hull
        self.timeout = timeout
        self.root = tmp_path / "store"
        self.env = dict(os.environ, HULL_ROOT=str(self.root))
        # the VMs' API sockets live in private /tmp/hull-vm-XXXXXX directories
        self.api_dirs = set(glob.glob("/tmp/hull-vm-*"))
        rootfs = tmp_path / "rootfs"
        for d in dirs:
            (rootfs / d).mkdir(parents=True)
        shutil.copy(busybox, rootfs / "bin/busybox")
        for a in applets:
            (rootfs / "bin" / a).symlink_to("busybox")
        (rootfs / "etc/passwd").write_text(passwd)
        (rootfs / "etc/group").write_text(group)
        if extra:
            extra(rootfs)
        with tarfile.open(tmp_path / "rootfs.tar", "w") as t:
            t.add(rootfs, arcname=".")
        self.run("import", str(tmp_path / "rootfs.tar"), "bb")

    def run(self, *args, check=True, input=None, timeout=None):
        r = subprocess.run([self.hull, *args], capture_output=True, text=True, env=self.env,
                           input=input, timeout=timeout or self.timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: {r.returncode}\n{r.stderr}")
        return r

    def vm_dir(self):
        return self.root / "vm"

    def cleanup(self):
        ids = self.run("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
        if ids:
            self.run("rm", "-f", *ids, check=False)
        subprocess.run(["sh", "-c", f"grep -o ' {self.root}/[^ ]*' /proc/mounts | "
                        "xargs -r -n1 umount -l"], capture_output=True)


def agent_frame(t, payload=b"", flags=0, length=None):
    """A guest agent frame (docs/vm-agent.md): u32 length, u16 type, u16 flags, payload;
    length= lies about the payload's length."""
    return struct.pack("<IHH", len(payload) if length is None else length, t, flags) + payload


def agent_read_frame(s):
    """(type, payload) of the next frame on socket s, or None at its end."""
    hdr = b""
    while len(hdr) < 8:
        chunk = s.recv(8 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    n, t, _ = struct.unpack("<IHH", hdr)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return t, body



def agent_proc_payload(args, tty=False, rows=0, cols=0, env=()):
    """A RUN/EXEC payload (proto.h), as vm_agent_proc_encode writes it."""
    body = struct.pack("<IIIHHHHHH", 0, 0, 1 if tty else 0, rows, cols, len(args), len(env),
                       0, 0)
    for a in (*args, *env, "", "", "", ""):
        body += a.encode() + b"\0"
    return body


def agent_session(path):
    """A connection to the agent's test socket at path, past its HELLO."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(path)
    hello = agent_read_frame(s)
    assert hello and hello[0] == 1, hello
    return s

def vmm_procs(root):
    """hull-vmm processes of this store's VMs (HULL_ROOT=root in their environment)."""
    out = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            cmd = open(f"{d}/cmdline", "rb").read().split(b"\0")
            env = open(f"{d}/environ", "rb").read()
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"hull-vmm") and f"HULL_ROOT={root}".encode() in env:
            out.append(int(d.rsplit("/", 1)[1]))
    return out
