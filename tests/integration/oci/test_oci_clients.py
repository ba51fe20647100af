"""Real clients driving the runtime (issue 2 item 9): podman (`--runtime`) and containerd 1.6
(`ctr run --runc-binary`), both with their state in tmp dirs, both torn down whatever happens.

podman: an image from `podman import` of the busybox rootfs, storage under --root/--runroot
in a tmp dir, CONTAINERS_CONF pointing at a file written here (this host needs
default_ulimits, and cgroupfs), a unique --cgroup-parent removed afterwards.
containerd: started on a private socket, root, state and config; image imported from an OCI
archive built here; a unique namespace whose cgroups are removed afterwards."""
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid

import pytest

from ocilib import host_mountpoints, make_rootfs, wait_cmdline

pytestmark = pytest.mark.slow

CGROUP_ROOT = "/sys/fs/cgroup"


def remove_cgroups(name):
    """rmdir /sys/fs/cgroup/<ctrl>/<name> and everything below it, leaves first."""
    for ctrl in os.listdir(CGROUP_ROOT):
        top = os.path.join(CGROUP_ROOT, ctrl, name.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda x: -len(x[0])):
            for _ in range(50):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def umount_under(prefix):
    for mp in reversed(host_mountpoints()):
        if mp.startswith(str(prefix) + "/"):
            subprocess.run(["umount", "-l", mp], check=False)


def kill_procs_mentioning(needle: str):
    """SIGKILL processes whose command line contains needle (our private socket or dir)."""
    me = os.getpid()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle.encode() in cmd:
            try:
                os.kill(int(p), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def clientdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="hull-oc-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    umount_under(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def rootfs_tar(clientdir):
    rootfs = clientdir / "rootfs"
    make_rootfs(rootfs)
    tarpath = clientdir / "busybox.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarpath), "."], check=True)
    return tarpath


# --- podman ----------------------------------------------------------------------------

class Podman:
    def __init__(self, base: pathlib.Path, runtime: str):
        self.base = base
        self.runtime = runtime
        self.cgparent = f"hulltest-podman-{uuid.uuid4().hex[:8]}"
        conf = base / "containers.conf"
        conf.write_text(
            '[containers]\n'
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
            'netns = "none"\n'
            '[engine]\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "none"\n')
        (base / "tmp").mkdir()
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf), TMPDIR=str(base / "tmp"))

    def __call__(self, *args, timeout=120, runtime=True):
        glob = ["podman", "--root", str(self.base / "root"), "--runroot",
                str(self.base / "runroot"), "--storage-driver", "vfs",
                "--tmpdir", str(self.base / "tmp"), "--cgroup-manager", "cgroupfs"]
        if runtime:
            glob += ["--runtime", self.runtime]
        return subprocess.run(glob + list(args), capture_output=True, text=True,
                              timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)

    def run_args(self, *args):
        return ["run", "--network", "none", "--cgroup-parent", "/" + self.cgparent, *args]


@pytest.fixture(scope="module")
def podman(clientdir, rootfs_tar, runtime_bin):
    if not shutil.which("podman"):
        pytest.skip("podman not installed")
    base = clientdir / "podman"
    base.mkdir()
    p = Podman(base, runtime_bin)
    try:
        r = p("import", str(rootfs_tar), "localhost/hullbb:latest", runtime=False)
        assert r.returncode == 0, r.stderr
        yield p
    finally:
        p("rm", "--force", "--all", "--time", "0", timeout=60)
        p("rmi", "--all", "--force", timeout=60, runtime=False)
        kill_procs_mentioning(str(base))
        # no `podman system reset`: it also wipes the host-wide /run/libpod other users share
        umount_under(base)
        remove_cgroups(p.cgparent)


def test_podman_run_rm(podman):
    r = podman(*podman.run_args("--rm", "localhost/hullbb:latest", "/bin/sh", "-c",
                                "echo hello-from-podman; hostname; ulimit -n"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hello-from-podman"
    assert lines[2] == "20000"
    r = podman("ps", "-a", "--format", "{{.ID}}", runtime=False)
    assert r.stdout.strip() == ""


@pytest.mark.parametrize("code", [0, 3, 42])
def test_podman_exit_code(podman, code):
    r = podman(*podman.run_args("--rm", "localhost/hullbb:latest", "/bin/sh", "-c",
                                f"exit {code}"))
    assert r.returncode == code, r.stderr


def test_podman_tty(podman):
    """-t: conmon hands the runtime a --console-socket and gets the pty master back."""
    r = podman(*podman.run_args("--rm", "-t", "localhost/hullbb:latest", "/bin/sh", "-c",
                                "tty; exit 4"))
    assert r.returncode == 4, r.stderr
    assert r.stdout.replace("\r", "").splitlines()[0].startswith("/dev/pts/")


def test_podman_volume_user_readonly(podman, clientdir):
    """A typical podman config: read-only root, a :ro volume, a user, its masked paths."""
    vol = clientdir / "podman-vol"
    vol.mkdir(exist_ok=True)
    (vol / "data").write_text("vol-data\n")
    r = podman(*podman.run_args("--rm", "--read-only", "-v", f"{vol}:/data:ro",
                                "--user", "1000:1000", "localhost/hullbb:latest", "/bin/sh",
                                "-c", "cat /data/data; id -u; id -g; touch /x 2>/dev/null "
                                "|| echo root-ro; touch /data/y 2>/dev/null || echo vol-ro; "
                                "grep -c . /proc/kcore 2>/dev/null; echo end"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["vol-data", "1000", "1000", "root-ro", "vol-ro"]
    assert not (vol / "y").exists()


def test_podman_detached_kill_rm(podman):
    name = f"hulld-{uuid.uuid4().hex[:8]}"
    r = podman(*podman.run_args("-d", "--name", name, "localhost/hullbb:latest",
                                "/bin/sleep", "1000"))
    assert r.returncode == 0, r.stderr
    r = podman("inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name)
    status, pid = r.stdout.split()
    assert status == "running"
    wait_cmdline(pid, b"/bin/sleep")
    r = podman("kill", name)
    assert r.returncode == 0, r.stderr
    r = podman("wait", name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(128 + 9)
    r = podman("rm", name)
    assert r.returncode == 0, r.stderr
    assert podman("inspect", name).returncode != 0


def test_podman_stdin_and_env(podman):
    r = subprocess.run(["podman", "--root", str(podman.base / "root"), "--runroot",
                        str(podman.base / "runroot"), "--storage-driver", "vfs",
                        "--tmpdir", str(podman.base / "tmp"), "--runtime", podman.runtime,
                        *podman.run_args("--rm", "-i", "-e", "HULLVAR=xyz",
                                         "localhost/hullbb:latest", "/bin/sh", "-c",
                                         "cat; echo $HULLVAR")],
                       input="piped\n", capture_output=True, text=True, timeout=120,
                       env=podman.env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["piped", "xyz"]


# --- containerd --------------------------------------------------------------------------

def oci_archive(rootfs_tar: pathlib.Path, out: pathlib.Path, name: str):
    """An OCI image layout tarball (one gzip layer) that `ctr images import` accepts."""
    blobs = {}

    def add(data: bytes):
        d = hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return {"digest": "sha256:" + d, "size": len(data)}

    raw = rootfs_tar.read_bytes()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    layer = add(gzip.compress(raw, compresslevel=1, mtime=0))
    config = add(json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode())
    manifest = add(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")],
    }).encode())
    index = {"schemaVersion": 2, "manifests": [dict(
        manifest, mediaType="application/vnd.oci.image.manifest.v1+json",
        annotations={"io.containerd.image.name": name,
                     "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]})]}
    with tarfile.open(out, "w") as t:
        def put(path, data):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        put("index.json", json.dumps(index).encode())
        for d, data in blobs.items():
            put(f"blobs/sha256/{d}", data)


class Containerd:
    IMAGE = "docker.io/library/hullbb:latest"

    def __init__(self, base: pathlib.Path, runtime: str):
        self.base = base
        self.runtime = runtime
        self.sock = str(base / "c.sock")
        self.ns = f"hulltest{uuid.uuid4().hex[:8]}"
        self.proc = None
        # the shims keep their sockets and fifos in /run/containerd whatever the config says
        self.made_run_dir = not os.path.exists("/run/containerd")

    def config(self):
        b = self.base
        return f'''version = 2
root = "{b}/root"
state = "{b}/state"
temp = "{b}/tmp"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{b}/opt"
'''

    def start(self):
        (self.base / "tmp").mkdir()
        cfg = self.base / "config.toml"
        cfg.write_text(self.config())
        self.log = open(self.base / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(cfg)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("containerd exited: " +
                                     (self.base / "containerd.log").read_text()[-2000:])
            if os.path.exists(self.sock) and self.ctr("version").returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError("containerd did not come up")

    def ctr(self, *args, timeout=120, input=None):
        return subprocess.run(["ctr", "--address", self.sock, "--namespace", self.ns, *args],
                              capture_output=True, text=True, timeout=timeout,
                              input=input if input is not None else "")

    def stop(self):
        if self.proc is None:
            return
        r = self.ctr("tasks", "ls", "-q", timeout=30)
        for tid in r.stdout.split():
            self.ctr("tasks", "kill", "-s", "SIGKILL", tid, timeout=30)
            self.ctr("tasks", "rm", "-f", tid, timeout=30)
        for cid in self.ctr("containers", "ls", "-q", timeout=30).stdout.split():
            self.ctr("containers", "rm", cid, timeout=30)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        # shims outlive containerd: they carry our socket path on their command line
        kill_procs_mentioning(self.sock)
        umount_under(self.base)
        remove_cgroups(self.ns)
        if self.made_run_dir:
            for d in ("/run/containerd/fifo", "/run/containerd/s", "/run/containerd"):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


@pytest.fixture(scope="module")
def containerd(clientdir, rootfs_tar, runtime_bin):
    if not shutil.which("containerd") or not shutil.which("ctr"):
        pytest.skip("containerd not installed")
    base = clientdir / "containerd"
    base.mkdir()
    c = Containerd(base, runtime_bin)
    try:
        c.start()
        archive = base / "image.tar"
        oci_archive(rootfs_tar, archive, Containerd.IMAGE)
        r = c.ctr("images", "import", "--snapshotter", "native", str(archive))
        assert r.returncode == 0, r.stderr
        assert Containerd.IMAGE in c.ctr("images", "ls", "-q").stdout
        yield c
    finally:
        c.stop()


def ctr_run(c, *args):
    return c.ctr("run", "--snapshotter", "native", "--runc-binary", c.runtime,
                 "--runc-root", str(c.base / "runc-root"), *args)


def test_containerd_run_rm(containerd):
    cid = f"hullc-{uuid.uuid4().hex[:8]}"
    r = ctr_run(containerd, "--rm", Containerd.IMAGE, cid, "/bin/sh", "-c",
                "echo hello-from-containerd; cat /proc/self/status | grep NoNewPrivs")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "hello-from-containerd"
    assert cid not in containerd.ctr("containers", "ls", "-q").stdout


@pytest.mark.parametrize("code", [0, 5, 42])
def test_containerd_exit_code(containerd, code):
    cid = f"hullc-{uuid.uuid4().hex[:8]}"
    r = ctr_run(containerd, "--rm", Containerd.IMAGE, cid, "/bin/sh", "-c", f"exit {code}")
    assert r.returncode == code, r.stderr


def test_containerd_detached_kill_rm(containerd):
    c = containerd
    cid = f"hullc-{uuid.uuid4().hex[:8]}"
    r = ctr_run(c, "-d", Containerd.IMAGE, cid, "/bin/sleep", "1000")
    assert r.returncode == 0, r.stderr
    r = c.ctr("tasks", "ls")
    row = [ln.split() for ln in r.stdout.splitlines() if ln.startswith(cid)]
    assert row and row[0][2] == "RUNNING", r.stdout
    pid = int(row[0][1])
    wait_cmdline(pid, b"/bin/sleep")
    assert c.ctr("tasks", "kill", "-s", "SIGKILL", cid).returncode == 0
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        row = [ln.split() for ln in c.ctr("tasks", "ls").stdout.splitlines()
               if ln.startswith(cid)]
        status = row[0][2] if row else None
        if status == "STOPPED":
            break
        time.sleep(0.1)
    assert status == "STOPPED"
    r = c.ctr("tasks", "rm", cid)
    assert r.returncode == 0, r.stderr
    r = c.ctr("containers", "rm", cid)
    assert r.returncode == 0, r.stderr
    assert cid not in c.ctr("containers", "ls", "-q").stdout
    assert not os.path.exists(f"/proc/{pid}/cmdline") or \
        open(f"/proc/{pid}/cmdline", "rb").read() == b""
