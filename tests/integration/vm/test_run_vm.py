"""`hull run --vm`: the same busybox image as a container and as a microVM (docs/engine.md
"hull run --vm").

The tests marked `sandbox` boot VMs (Debian's kernel, hull's initramfs with the guest agent as
/init, the image's root.erofs) and run inside tests/sandbox on a host without a usable KVM.
The others need no KVM: the refused flags, a missing kernel, the root image's cache."""
import fcntl
import glob
import hashlib
import json
import os
import pathlib
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time

import pytest

from vmhelpers import BusyboxStore, find_kernel

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "env", "id", "pwd", "cat", "true", "sleep", "md5sum", "kill", "head",
           "sort", "wc", "ls")
RUN_TIMEOUT = 600  # a VM's boot in the sandbox (nested KVM under TCG) is slow


class Store(BusyboxStore):
    """A private store with the busybox image "bb" (a user app:1000, a group app)."""

    def __init__(self, hull, tmp_path):
        super().__init__(hull, tmp_path, APPLETS, dirs=("bin", "etc", "tmp", "home/app"),
                         passwd="root:x:0:0:root:/root:/bin/sh\n"
                                "app:x:1000:1000::/home/app:/bin/sh\n",
                         group="root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
                         timeout=RUN_TIMEOUT, busybox=BUSYBOX)


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


def vmm_procs(store):
    """hull-vmm processes of this store (their command line names its state dir)."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            cmd = pathlib.Path(d, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(store.root) in cmd and "--api-sock" in cmd:
            found.append(cmd)
    return found


def container_dirs(store):
    return [p for p in (store.root / "containers").iterdir() if not p.name.startswith(".")]


def leftovers(store):
    """What a finished VM must not leave: state dirs, build or temporary files."""
    vm = store.vm_dir()
    left = [str(p) for p in vm.glob("run/*")]
    left += [str(p) for p in vm.rglob("*") if ".tmp." in p.name or p.name.startswith("build.")]
    return left + sorted(set(glob.glob("/tmp/hull-vm-*")) - store.api_dirs)


# ---- host side: no KVM needed -------------------------------------------------------------

@pytest.mark.parametrize("flags,named", [
    (["--tmpfs", "/x"], "--tmpfs"),
    (["--network", "host"], "--network host"),
    (["--network", "container:other"], "--network container:other"),
    (["--device", "/dev/null"], "--device"),
    (["--privileged"], "--privileged"),
    (["--cap-add", "NET_ADMIN"], "--cap-add"),
    (["--read-only"], "--read-only"),
    (["--pids-limit", "10"], "--pids-limit"),
])
@pytest.mark.parametrize("cmd", ["run", "create"])
def test_vm_refuses_flags(store, flags, named, cmd):
    r = store.run(cmd, "--vm", *flags, "bb", "true", check=False)
    assert r.returncode == 125, r
    assert r.stderr.count("\n") == 1 and named in r.stderr and "--vm" in r.stderr, r.stderr
    assert r.stdout == ""
    assert store.run("ps", "-a", "-q").stdout == ""
    assert container_dirs(store) == []


def test_vm_kernel_errors(store, tmp_path):
    notbz = tmp_path / "vmlinuz-junk"
    notbz.write_bytes(os.urandom(8192))
    for kernel, want in ((tmp_path / "missing", "No such file"), (notbz, "not a bzImage")):
        r = store.run("run", "--rm", "--vm", "--kernel", str(kernel), "bb", "true",
                      check=False)
        assert r.returncode == 125, r
        assert r.stderr.count("\n") == 1 and str(kernel) in r.stderr and want in r.stderr, \
            r.stderr
        assert store.run("ps", "-a", "-q").stdout == ""
        assert container_dirs(store) == []
    r = store.run("create", "--kernel", str(notbz), "bb", "true", check=False)
    assert r.returncode == 125 and "only with --vm" in r.stderr, r
    assert leftovers(store) == []


def test_vm_on_a_host_without_hw_virt(store):
    """A host whose CPU has no vmx/svm (PVM) gets one line naming the cause and the sandbox
    before anything starts, not the VMM's first complaint (e.g. /dev/vhost-vsock); a host
    with them goes past that check."""
    flags = re.findall(r"^flags\s*:(.*)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
    lacks = bool(flags) and not re.search(r"\b(vmx|svm)\b", flags[0])
    r = store.run("run", "--rm", "--vm", "bb", "true", check=False)
    if lacks:
        assert r.returncode == 125, r
        assert r.stderr.count("\n") == 1 and "no vmx/svm" in r.stderr and \
            "tests/sandbox/run" in r.stderr, r.stderr
    else:
        assert "no vmx/svm" not in r.stderr, r.stderr
    assert store.run("ps", "-a", "-q").stdout == ""
    assert container_dirs(store) == []
    assert leftovers(store) == []
    assert subprocess.run(["pgrep", "-f", f"hull-vmm.*{store.root}"],
                          capture_output=True).returncode != 0


def foreign_copy(store, tmp_path, arch, name):
    """The image bb, with its config saying another architecture, loaded as name."""
    out = tmp_path / "bb.tar"
    store.run("save", "--format", "oci-archive", "-o", str(out), "bb")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-C", layout, "-xf", out], check=True)
    blobs = layout / "blobs/sha256"

    def put(obj):
        data = json.dumps(obj).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": "sha256:" + digest, "size": len(data)}
    top = json.loads((layout / "index.json").read_text())
    mdesc = top["manifests"][0]
    manifest = json.loads((blobs / mdesc["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    config["architecture"] = arch
    manifest["config"].update(put(config))
    mdesc.update(put(manifest))
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": f"localhost/{name}:latest"}
    (layout / "index.json").write_text(json.dumps(top))
    tar = tmp_path / f"{name}.tar"
    subprocess.run(["tar", "-C", layout, "-cf", tar, "."], check=True)
    r = store.run("load", "-i", str(tar))
    assert r.stdout.strip() == f"Loaded image: localhost/{name}:latest", r.stdout
    assert store.run("inspect", "--format", "{{.Architecture}}", name).stdout.strip() == arch
    return name


@pytest.mark.parametrize("value", ["abc", "0", "-5", "12x", "", "86401"])
def test_vm_agent_timeout_knob_checked(store, value):
    """HULL_VM_AGENT_TIMEOUT (the wait for the guest's agent) is checked where it enters: a
    bad value is one line naming it, exit 125, for any command."""
    env = dict(store.env, HULL_VM_AGENT_TIMEOUT=value)
    r = subprocess.run([store.hull, "ps"], capture_output=True, text=True, env=env)
    assert r.returncode == 125, r
    assert r.stderr == f"hull: HULL_VM_AGENT_TIMEOUT={value}: not a number of seconds " \
        "(1 to 86400)\n", r.stderr
    env["HULL_VM_AGENT_TIMEOUT"] = "30"
    assert subprocess.run([store.hull, "ps"], capture_output=True, env=env).returncode == 0


def test_vm_foreign_architecture_refused(store, tmp_path):
    """An arm64 image with --vm: one line naming its platform and the host's (the guest boots
    the host's kernel; qemu-user's remedy for containers does not apply), exit 125, nothing
    created."""
    ref = foreign_copy(store, tmp_path, "arm64", "bbarm")
    for cmd in ("run", "create"):
        r = store.run(cmd, "--rm", "--vm", ref, "true", check=False) if cmd == "run" else \
            store.run(cmd, "--vm", ref, "true", check=False)
        assert r.returncode == 125, r
        assert r.stderr.count("\n") == 1 and "is linux/arm64 and --vm boots" in r.stderr and \
            "linux/amd64" in r.stderr and "qemu-user-static serves containers only" in \
            r.stderr, r.stderr
        assert store.run("ps", "-a", "-q").stdout == ""
        assert container_dirs(store) == []
    assert not store.vm_dir().exists() or not list(store.vm_dir().glob("*/root.erofs"))


def test_vm_root_built_once(store):
    """One root.erofs per image, built by the first create; later ones use it as it is;
    concurrent creates build it once under the lock; rmi takes it along."""
    c1 = store.run("create", "--vm", "bb", "true").stdout.strip()
    roots = list(store.vm_dir().glob("*/root.erofs"))
    assert len(roots) == 1, roots
    st = roots[0].stat()
    initrds = list(store.vm_dir().glob("initrd-*.img"))
    assert len(initrds) == 1, initrds
    ist = initrds[0].stat()
    store.run("create", "--vm", "bb", "echo", "again")
    again = roots[0].stat()
    assert (again.st_ino, again.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    assert initrds[0].stat().st_ino == ist.st_ino
    inspect = store.run("inspect", "--format", "{{.Backend}}", c1).stdout.strip()
    assert inspect == "vm"

    # concurrent builders: the cache emptied first
    shutil.rmtree(roots[0].parent)
    results = [None] * 4

    def create(i):
        results[i] = store.run("create", "--vm", "bb", "true", check=False)
    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    roots = list(store.vm_dir().glob("*/root.erofs"))
    assert len(roots) == 1, roots
    built = roots[0].stat()
    store.run("create", "--vm", "bb", "true")
    assert roots[0].stat().st_ino == built.st_ino
    assert leftovers(store) == []

    # the layers merged: what the image holds, readable by fsck.erofs
    if shutil.which("fsck.erofs"):
        out = store.root.parent / "extract"
        subprocess.run(["fsck.erofs", f"--extract={out}", str(roots[0])], check=True,
                       capture_output=True)
        assert (out / "etc/passwd").read_text().startswith("root:x:0:0")
        assert os.readlink(out / "bin/sh") == "busybox"

    store.cleanup()
    store.run("rmi", "bb")
    assert list(store.vm_dir().glob("*/root.erofs")) == []


# ---- in the sandbox: VMs ------------------------------------------------------------------

CASES = [
    # (run options, command, stdin): each boots a VM (about a minute in the sandbox)
    (["-e", "FOO=bar baz", "-h", "same"], ["sh", "-c", "echo hello; echo \"$FOO|$PATH|$HOME\"; env | sort"],
     None),
    (["-w", "/etc", "-h", "guest1"], ["sh", "-c", "pwd; hostname"], None),
    (["-u", "app"], ["sh", "-c", "id; echo $HOME; id -u"], None),
    ([], ["sh", "-c", "echo out; echo err >&2; exit 3"], None),
    # a process killed by a signal: 128+N (the command itself is not PID 1 here: a
    # container's PID 1 survives its own SIGKILL, the guest's agent is PID 1 in a VM)
    ([], ["sh", "-c", "sh -c 'kill -9 $$'; echo $?"], None),
    ([], ["no-such-command"], None),
    (["-i"], ["sh", "-c", "md5sum; exit 7"], "x" * 300000),
]


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_same_as_container(store):
    for opts, cmd, stdin in CASES:
        ctr = store.run("run", "--rm", *opts, "bb", *cmd, check=False, input=stdin)
        vm = store.run("run", "--rm", "--vm", *opts, "bb", *cmd, check=False, input=stdin)
        assert (vm.returncode, vm.stdout) == (ctr.returncode, ctr.stdout), \
            (opts, cmd, ctr, vm)
        if cmd == ["no-such-command"]:
            assert vm.returncode == 127 and vm.stderr == ctr.stderr, vm
        if "err" in " ".join(cmd):
            assert "err" in vm.stderr, vm
    # in a VM the command is not PID 1: its own SIGKILL kills it, 137 as docker says
    vm = store.run("run", "--rm", "--vm", "bb", "sh", "-c", "kill -9 $$", check=False)
    assert (vm.returncode, vm.stdout, vm.stderr) == (137, "", ""), vm
    assert store.run("ps", "-a", "-q").stdout == ""
    assert vmm_procs(store) == []
    assert leftovers(store) == []


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_detached_lifecycle(store):
    cid = store.run("run", "-d", "--vm", "--name", "v1", "-m", "200m", "--cpus", "1.5", "bb",
                    "sh", "-c", "echo started; trap 'echo got-term; exit 9' TERM; "
                    "while :; do sleep 1; done").stdout.strip()
    ps = store.run("ps").stdout
    assert "v1" in ps and "(vm)" in ps, ps
    assert len(vmm_procs(store)) == 1
    cmd = vmm_procs(store)[0]
    assert "--memory 200M" in cmd and "--cpus 2" in cmd, cmd
    # the agent relays the output into the log: poll it (bounded) until it is there
    for _ in range(600):
        if "started" in store.run("logs", "v1").stdout:
            break
        subprocess.run(["sleep", "0.1"])
    assert "started" in store.run("logs", "v1").stdout
    ex = store.run("exec", "v1", "sh", "-c", "echo in-exec; id -u; exit 4", check=False)
    assert (ex.returncode, ex.stdout) == (4, "in-exec\n0\n"), ex
    ex = store.run("exec", "-u", "app", "v1", "id", "-u")
    assert ex.stdout == "1000\n"
    store.run("stop", "-t", "60", "v1")
    st = store.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "v1")
    assert st.stdout.split() == ["exited", "9"], st.stdout
    assert "got-term" in store.run("logs", "v1").stdout
    assert vmm_procs(store) == []
    store.run("rm", "v1")

    store.run("run", "-d", "--vm", "--name", "v2", "bb", "sleep", "1000")
    store.run("kill", "v2")
    for _ in range(600):
        st = store.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "v2")
        if st.stdout.split()[0] == "exited":
            break
        subprocess.run(["sleep", "0.1"])
    assert st.stdout.split() == ["exited", "137"], st.stdout
    store.run("run", "-d", "--vm", "--name", "v3", "bb", "sleep", "1000")
    store.run("rm", "-f", "v2", "v3")
    assert store.run("ps", "-a", "-q").stdout == ""
    assert vmm_procs(store) == []
    assert leftovers(store) == []


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_tty(store):
    """-it: a pty in the guest whose size follows the user's terminal."""
    pid, fd = pty.fork()
    if pid == 0:
        set_size(0, 30, 100)
        os.execve(store.hull, [store.hull, "run", "--rm", "-it", "--vm", "bb", "sh"], store.env)
    buf = b""

    def expect(pattern, timeout):
        nonlocal buf
        end = time.monotonic() + timeout
        rx = re.compile(pattern.encode())
        while not rx.search(buf):
            left = end - time.monotonic()
            assert left > 0, f"no {pattern!r} in {buf!r}"
            if select.select([fd], [], [], left)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"hull run ended; no {pattern!r} in {buf!r}"
                buf += chunk
        m = rx.search(buf)
        buf = buf[m.end():]
    try:
        os.write(fd, b"echo READY; tty; stty size\n")
        expect(r"READY\r?\n/dev/pts/\d+\r?\n30 100", RUN_TIMEOUT)
        set_size(fd, 40, 120)
        os.write(fd, b"stty size\n")
        expect(r"40 120", 60)
        os.write(fd, b"exit 5\n")
        end = time.monotonic() + 120
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                break
            assert time.monotonic() < end, buf
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    buf += os.read(fd, 4096)
                except OSError:
                    pass
        assert os.waitstatus_to_exitcode(status) == 5, buf
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert store.run("ps", "-a", "-q").stdout == ""
    assert vmm_procs(store) == []


@pytest.mark.sandbox
@pytest.mark.slow
def test_bench_compare_both_kinds(store, tmp_path):
    """`hull bench compare` with a booting microVM: every row has both numbers, the chart is
    written, and neither kind leaves anything behind (docs/engine.md "hull bench compare")."""
    svg = tmp_path / "compare.svg"
    r = store.run("bench", "compare", "--runs", "1", "--cpu-loops", "20000", "--io-mib", "4",
                  "--budget", "2g", "--svg", str(svg), "bb", "echo", "ready",
                  timeout=4 * RUN_TIMEOUT)
    print(r.stdout)  # the table, for docs/performance.md (with -s)
    rows = {}
    for line in r.stdout.splitlines():
        cells = line[36:].split()
        if len(cells) >= 2 and re.fullmatch(r"\d+(\.\d)?", cells[0]):
            rows[line[:36].strip()] = cells
    assert len(rows) == 7, r.stdout
    for name, cells in rows.items():
        # container, microVM cold, microVM restored (from the warm snapshot)
        assert all(re.fullmatch(r"\d+(\.\d)?", c) for c in cells[1:3]), (name, r.stdout)
    mem = next(c for n, c in rows.items() if n.startswith("memory per instance"))
    # a VM carries its own kernel: more memory per instance than a container, by far
    assert float(mem[1]) > float(mem[0]) > 0, r.stdout
    disk = next(c for n, c in rows.items() if n.startswith("disk needed"))
    assert float(disk[1]) > float(disk[0]) > 0, r.stdout  # + kernel, initramfs, root image
    assert float(disk[2]) > float(disk[1]), r.stdout  # + the warm snapshot
    assert svg.read_text().startswith("<svg")
    assert store.run("ps", "-a", "-q").stdout == ""
    assert vmm_procs(store) == [] and leftovers(store) == []
