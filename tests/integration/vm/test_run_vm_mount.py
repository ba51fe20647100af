"""`hull run --vm -v HOST:GUEST[:ro]`, `--mount type=bind` and named volumes: each one a
virtio-fs share served by a virtiofsd of its own (docs/engine.md "Bind mounts in a VM").

In the sandbox (nested KVM), two boots:
- one `run --rm --vm` with a bind mount (reads a file of seeded random bytes, writes one the
  host then sees), a `--mount type=bind` whose target's parents do not exist in the image, a
  named volume, and a `:ro` bind: the write there fails with the container's message and exit
  code (the same script run as a container gives the same stdout, stderr and status), and
  stays refused after the guest remounts it read-write (the host's virtiofsd serves a
  read-only bind mount); a symlink in the image pointing out of the root does not lead a
  mount outside it;
- one detached VM with a bind mount whose shim is SIGKILLed (virtiofsd goes with it), then
  `rm -f`.
After each: no virtiofsd of the test, no socket or /tmp/hull-vm-* directory, no mount.

On any host: a single file given to -v is refused with one line (a VM shares directories)."""
import glob
import hashlib
import os
import pathlib
import random
import shutil
import signal
import subprocess

import pytest

from vmhelpers import BusyboxStore, find_kernel

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "cat", "md5sum", "cut", "mount", "sleep", "ls", "test", "true")
RUN_TIMEOUT = 600
WAIT = 120


class Store(BusyboxStore):
    """A private store with a busybox image "bb" whose /escape links out of the root."""

    def __init__(self, hull, tmp_path):
        def escape(rootfs):
            (rootfs / "escape").symlink_to("../../../../tmp/hull-fs-escape")

        super().__init__(hull, tmp_path, APPLETS, extra=escape, timeout=RUN_TIMEOUT,
                         busybox=BUSYBOX)


@pytest.fixture
def store(hull, tmp_path):
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static not installed")
    if not find_kernel():
        pytest.skip("no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)")
    s = Store(hull, tmp_path)
    yield s
    s.cleanup()
    assert s.run("ps", "-a", "-q").stdout == ""


SHMEM_THP = pathlib.Path("/sys/kernel/mm/transparent_hugepage/shmem_enabled")


@pytest.fixture
def shmem_thp():
    """Inside the sandbox only (its own kernel, thrown away after): shmem transparent huge
    pages on `advise`. A VM with shares runs on a shared memfd (docs/vmm.md "virtio-fs"); with
    Debian's default (`never`) that is 4 KiB pages, and a nested guest under the sandbox's TCG
    then boots more than twice as slowly (measured: over the engine's 90 s agent wait, against
    56 s with `advise`). Put back as it was afterwards."""
    if os.environ.get("HULL_SANDBOX") != "1" or not SHMEM_THP.exists():
        yield
        return
    old = SHMEM_THP.read_text().split("[", 1)[1].split("]", 1)[0]
    SHMEM_THP.write_text("advise")
    try:
        yield
    finally:
        SHMEM_THP.write_text(old)
    assert f"[{old}]" in SHMEM_THP.read_text()


def daemons(tmp_path):
    """virtiofsd processes serving a directory of this test."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            cmd = pathlib.Path(d, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "virtiofsd" in cmd and str(tmp_path) in cmd:
            found.append((int(d.split("/")[-1]), cmd))
    return found


def nothing_left(store, tmp_path):
    assert daemons(tmp_path) == []
    assert sorted(set(glob.glob("/tmp/hull-vm-*")) - store.api_dirs) == []
    assert str(tmp_path) not in pathlib.Path("/proc/mounts").read_text()


SCRIPT = (
    "md5sum < /data/in | cut -d' ' -f1; echo from-guest > /data/out; "
    "cat /deep/er/m/f; echo vol > /vol/f; ls /escape/m; "
    "mount -o remount,rw /ro 2>/dev/null; "
    "if echo z 2>/dev/null > /ro/w2; then echo w2-passed; else echo w2-refused; fi; "
    "echo y > /ro/w"
)


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_bind_mounts(store, tmp_path, shmem_thp):
    data, ro, other = tmp_path / "data", tmp_path / "ro", tmp_path / "other"
    for d in (data, ro, other):
        d.mkdir()
    payload = random.Random(6).randbytes(1 << 20)
    (data / "in").write_bytes(payload)
    (other / "f").write_text("through --mount\n")
    outside = pathlib.Path("/tmp/hull-fs-escape")
    shutil.rmtree(outside, ignore_errors=True)
    opts = ["-v", f"{data}:/data", "-v", f"{ro}:/ro:ro",
            "--mount", f"type=bind,source={other},target=/deep/er/m",
            "-v", "fsvol:/vol", "-v", f"{other}:/escape/m"]
    results = {}
    for kind in ("ctr", "vm"):
        (data / "out").unlink(missing_ok=True)
        results[kind] = store.run("run", "--rm", *(["--vm"] if kind == "vm" else []), *opts,
                                  "bb", "sh", "-c", SCRIPT, check=False)
        vm = results[kind]
        assert vm.stdout.splitlines()[:1] == [hashlib.md5(payload).hexdigest()], (kind, vm)
        assert (data / "out").read_text() == "from-guest\n", kind
        assert not (ro / "w").exists() and not (ro / "w2").exists(), kind
        assert not outside.exists(), kind
    ctr, vm = results["ctr"], results["vm"]
    assert (vm.returncode, vm.stdout, vm.stderr) == (ctr.returncode, ctr.stdout, ctr.stderr)
    assert vm.returncode == 1 and "Read-only file system" in vm.stderr, vm
    assert "through --mount" in vm.stdout and "w2-refused" in vm.stdout, vm
    vol = store.root / "volumes" / "fsvol" / "_data" / "f"
    assert vol.read_text() == "vol\n"
    store.run("volume", "rm", "fsvol")
    nothing_left(store, tmp_path)


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_mount_killed_shim(store, tmp_path, shmem_thp):
    data = tmp_path / "data"
    data.mkdir()
    store.run("run", "-d", "--vm", "--name", "k1", "-v", f"{data}:/data", "bb", "sh", "-c",
              "echo up > /data/up; sleep 1000")
    for _ in range(3000):  # bounded: the guest's process writes through the share
        if (data / "up").exists():
            break
        subprocess.run(["sleep", "0.1"])
    assert (data / "up").read_text() == "up\n"
    assert len(daemons(tmp_path)) == 1
    shim = int(store.run("inspect", "--format", "{{.State.Pid}}", "k1").stdout)
    os.kill(shim, signal.SIGKILL)
    for _ in range(600):  # the shim's death takes its virtiofsd along (PR_SET_PDEATHSIG)
        if not daemons(tmp_path):
            break
        subprocess.run(["sleep", "0.1"])
    assert daemons(tmp_path) == []
    store.run("rm", "-f", "k1")
    nothing_left(store, tmp_path)


def test_run_vm_file_bind_refused(store, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = store.run("run", "--rm", "--vm", "-v", f"{f}:/x", "bb", "true", check=False)
    assert r.returncode == 125, r
    assert r.stderr.count("\n") == 1 and "directories only" in r.stderr, r.stderr
    assert f"-v {f}:/x" in r.stderr, r.stderr
    assert store.run("ps", "-a", "-q").stdout == ""
    nothing_left(store, tmp_path)
