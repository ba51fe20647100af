"""Helpers for the OCI runtime integration suite (tests/integration/oci): bundles, the
runtime wrapper, mountinfo parsing. Fixtures are in conftest.py.

The suite is runtime-agnostic: it drives whatever binary the `runtime` fixture names, so the
same tests pin down runc-compatible behaviour for hull-oci, runc and crun.

    HULL_OCI_UNDER_TEST=/usr/sbin/runc /usr/bin/python3 -m pytest tests/integration/oci

Without HULL_OCI_UNDER_TEST the runtime is build*/src/cli/hull-oci (the `hull_oci` fixture).
Checks that depend on hull's own wording (the error line names config.json and the field) are
guarded by `rt.is_hull`; everything else is asserted for every runtime.

Every test gets its own --root (a tmp dir) and its own busybox-static bundle; teardown force-
deletes whatever containers are left under that root and kills any process still running in
the bundle, so a failing test leaves nothing on the host.
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid


BUSYBOX = "/bin/busybox"

# Mounts every engine asks for (podman, containerd), minus the cgroup mount, which has its
# own test: the default bundle stays close to what a real client sends.
DEFAULT_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
]

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def default_config(args=None):
    """A config.json (as a dict) for a busybox rootfs; tests mutate it before writing."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args or ["/bin/true"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in
                             ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "hulltest",
        "mounts": json.loads(json.dumps(DEFAULT_MOUNTS)),
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        },
    }


def make_rootfs(rootfs: pathlib.Path):
    """busybox-static at /bin/busybox plus one symlink per applet, and the usual dirs."""
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        if a != "busybox" and "/" not in a:
            os.symlink("busybox", rootfs / "bin" / a)
    for d in ("proc", "sys", "dev", "tmp", "etc", "root", "mnt"):
        (rootfs / d).mkdir(exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc/group").write_text("root:x:0:\n")


class Bundle:
    def __init__(self, path: pathlib.Path):
        self.path = path
        self.rootfs = path / "rootfs"
        self.config = default_config()

    @property
    def config_path(self):
        return self.path / "config.json"

    def write(self, config=None):
        if config is not None:
            self.config = config
        self.config_path.write_text(json.dumps(self.config, indent=1))
        return self

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self.write()


class Runtime:
    """One runtime binary with a private --root; remembers what it created for teardown."""

    def __init__(self, binary: str, root: pathlib.Path):
        self.binary = binary
        self.root = root
        self.is_hull = os.path.basename(binary).startswith("hull-oci")
        self.name = os.path.basename(binary)
        self.ids = set()

    def cmd(self, *args, glob=()):
        return [self.binary, "--root", str(self.root), *glob, *args]

    def __call__(self, *args, glob=(), timeout=60, **kw):
        """Run the runtime with the args; output captured as text (stdout/stderr)."""
        kw.setdefault("capture_output", "stdout" not in kw and "stderr" not in kw)
        kw.setdefault("text", True)
        return subprocess.run(self.cmd(*args, glob=glob), timeout=timeout, **kw)

    def new_id(self, prefix="ht"):
        cid = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.ids.add(cid)
        return cid

    def create(self, cid, bundle, *extra, out=None, check=True):
        """create with the container's stdio on files (out dir), not on our pipes: a pipe
        would stay open in the container and make subprocess wait for it."""
        out = pathlib.Path(out or bundle.path)
        with open(out / "stdout", "wb") as so, open(out / "stderr", "wb") as se:
            r = subprocess.run(self.cmd("create", "--bundle", str(bundle.path), *extra, cid),
                               stdin=subprocess.DEVNULL, stdout=so, stderr=se, timeout=60)
        r.stdout = (out / "stdout").read_text(errors="replace")
        r.stderr = (out / "stderr").read_text(errors="replace")
        if check:
            assert r.returncode == 0, f"create failed: {r.stderr}"
        return r

    def run_detached(self, cid, bundle, *extra, check=True):
        with open(bundle.path / "stdout", "wb") as so, open(bundle.path / "stderr", "wb") as se:
            r = subprocess.run(self.cmd("run", "--detach", "--bundle", str(bundle.path),
                                        *extra, cid),
                               stdin=subprocess.DEVNULL, stdout=so, stderr=se, timeout=60)
        r.stderr = (bundle.path / "stderr").read_text(errors="replace")
        if check:
            assert r.returncode == 0, f"run --detach failed: {r.stderr}"
        return r

    def run(self, cid, bundle, *extra, timeout=60, input=None):
        """run (create+start+wait) in the foreground: output of the container captured."""
        return self("run", "--bundle", str(bundle.path), *extra, cid, timeout=timeout,
                    input=input if input is not None else "")

    def state(self, cid):
        r = self("state", cid)
        assert r.returncode == 0, f"state {cid} failed: {r.stderr}"
        return json.loads(r.stdout)

    def status(self, cid):
        r = self("state", cid)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout).get("status")

    def wait_status(self, cid, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.status(cid)
            if st == want:
                return st
            time.sleep(0.05)
        raise AssertionError(f"{cid}: status {st!r}, wanted {want!r} within {timeout}s")

    def cleanup(self):
        ids = set(self.ids)
        if self.root.is_dir():
            ids.update(os.listdir(self.root))
        for cid in ids:
            try:
                r = self("state", cid, timeout=10)
                pid = json.loads(r.stdout).get("pid", 0) if r.returncode == 0 else 0
            except (subprocess.TimeoutExpired, ValueError):
                pid = 0
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self("delete", "--force", cid, timeout=20)
            except subprocess.TimeoutExpired:
                pass


def sh(script):
    """process.args running a busybox shell script."""
    return ["/bin/sh", "-c", script]


def mountinfo(text):
    """Parse mountinfo lines to dicts: mountpoint, opts (set), optional (list), fstype,
    source, super (set)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts:
            continue
        sep = parts.index("-")
        out.append({
            "root": parts[3], "mountpoint": parts[4], "opts": set(parts[5].split(",")),
            "optional": parts[6:sep], "fstype": parts[sep + 1], "source": parts[sep + 2],
            "super": set(parts[sep + 3].split(",")) if len(parts) > sep + 3 else set(),
        })
    return out


def find_mount(mounts, point):
    """The last (topmost) mount at point."""
    hits = [m for m in mounts if m["mountpoint"] == point]
    assert hits, f"no mount at {point}: {[m['mountpoint'] for m in mounts]}"
    return hits[-1]


def procs_in(path: pathlib.Path, needles=()):
    """Live pids that belong to a test under path: root or cwd inside it (before pivot_root),
    or the path or one of needles (container ids) on the command line. A process that has
    pivoted shows root "/" from here, so the runtime's --root on the command line of whatever
    it left running, and the container id, are what catch those."""
    found = []
    prefix = str(path)
    words = [prefix.encode()] + [n.encode() for n in needles if n]
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        hit = False
        for link in ("root", "cwd"):
            try:
                t = os.readlink(f"/proc/{p}/{link}")
            except OSError:
                continue
            if t == prefix or t.startswith(prefix + "/"):
                hit = True
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{p}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if zombie:
            continue
        if hit or any(w in cmd for w in words):
            found.append(int(p))
    return found


def host_mountpoints():
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f)


def wait_cmdline(pid, prefix: bytes, timeout=5.0):
    """Wait until pid has exec'd a command line starting with prefix (start may return just
    before the container's process reaches execve)."""
    deadline = time.monotonic() + timeout
    cmd = b""
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            cmd = b""
        if cmd.startswith(prefix):
            return cmd
        time.sleep(0.02)
    raise AssertionError(f"pid {pid}: cmdline {cmd!r}, wanted {prefix!r}...")


def console_server(path):
    """A --console-socket listener: returns (server socket, thread, dict that gets "fds",
    the fds sent with the first message: the pty master)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def accept():
        conn, _ = srv.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
            got["fds"] = fds

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return srv, t, got


def read_pty(fd):
    """Everything a pty master gives until the slave side is closed, as text ("\r\n" -> "\n")."""
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace").replace("\r\n", "\n")
