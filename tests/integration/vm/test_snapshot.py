"""Snapshot and restore (src/vmm/snapshot.c, x86/cpu-state.c): the tiny guest's COUNT variant
prints a counter kept in its RAM, one line per step; a snapshot taken while it counts, the VM
killed, and a restore in a fresh process must go on from the very step where it was (the
lines before the snapshot and after the restore make one unbroken sequence). Marked `kvm`:
this host's KVM (PVM is fine for the tiny guest), else the sandbox's (conftest.py)."""
import os
import random
import shutil
import subprocess
import time

import pytest

from vmhelpers import vm_api

pytestmark = pytest.mark.kvm
RUN = ["vm", "run", "--raw", "--allow-pvm", "--memory", "2M"]


def _wait_lines(path, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, "rb") as f:
            data = f.read()
        steps = [ln for ln in data.split(b"\n")[:-1] if len(ln) == 4]
        if len(steps) >= n:
            return data
        time.sleep(0.2)
    raise AssertionError(f"{path}: fewer than {n} steps: {data[-200:]!r}")


def _steps(data):
    """The counter's values in the console output, the first (maybe partial) line aside."""
    text = data.decode()
    body = text[text.index("counting\n") + len("counting\n"):] if "counting\n" in text else text
    return body


def _start(hull, kernel, sock, out):
    with open(out, "wb") as f:
        return subprocess.Popen([hull, *RUN, "--api-sock", sock, "--kernel", kernel],
                                stdout=f, stderr=subprocess.PIPE)


def _kill(p):
    p.kill()
    p.wait(timeout=30)


def _snapshot_paused(hull, tiny_guest, tmp_path):
    """A counting VM snapshotted paused into tmp_path/snap, then SIGKILLed: (dir, output)."""
    sock, out, snap = str(tmp_path / "a.sock"), tmp_path / "out1", tmp_path / "snap"
    p = _start(hull, tiny_guest["count"], sock, out)
    try:
        _wait_lines(out, 5)
        r = subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out", str(snap),
                            "--paused"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert vm_api(sock)["state"] == "paused"
        before = out.read_bytes()
        time.sleep(0.5)
        assert out.read_bytes() == before  # paused: not one more byte
    finally:
        _kill(p)
    return snap, before


def _restore(hull, snap, out, *extra):
    with open(out, "wb") as f:
        return subprocess.Popen([hull, "vm", "restore", str(snap), "--allow-pvm", *extra],
                                stdout=f, stderr=subprocess.PIPE)


def _check_continues(before, after):
    """before + after: hello lines, then 0001, 0002, ... with no step lost or repeated."""
    text = _steps(before + after)
    lines = text.split("\n")[:-1]
    assert len(lines) >= 8, text
    assert [int(x, 16) for x in lines] == list(range(1, len(lines) + 1)), text


def test_restore_continues_counting(hull, tiny_guest, tmp_path):
    snap, before = _snapshot_paused(hull, tiny_guest, tmp_path)
    names = sorted(os.listdir(snap))
    assert names == ["config.json", "memory", "state"]
    st = os.stat(snap / "memory")
    assert st.st_size == 2 << 20
    assert st.st_blocks * 512 < 1 << 20  # sparse: the guest touched little of its 2 MiB
    out2 = tmp_path / "out2"
    p = _restore(hull, snap, out2)
    try:
        after = _wait_lines(out2, 5)
    finally:
        _kill(p)
    _check_continues(before, after)
    assert not after.startswith(b"hull tiny guest")  # no kernel loaded, no boot


def test_two_clones_at_once(hull, tiny_guest, tmp_path):
    snap, before = _snapshot_paused(hull, tiny_guest, tmp_path)
    procs, outs = [], []
    try:
        for i in range(2):
            outs.append(tmp_path / f"clone{i}")
            procs.append(_restore(hull, snap, outs[-1]))
        data = [_wait_lines(o, 5) for o in outs]
        for p in procs:
            assert p.poll() is None  # both still run
    finally:
        for p in procs:
            _kill(p)
    for d in data:
        _check_continues(before, d)
    # the snapshot's memory file is mapped copy-on-write: the clones never wrote it
    assert (snap / "memory").stat().st_blocks * 512 < 1 << 20


def test_snapshot_resumes_by_default(hull, tiny_guest, tmp_path):
    sock, out = str(tmp_path / "a.sock"), tmp_path / "out1"
    p = _start(hull, tiny_guest["count"], sock, out)
    try:
        _wait_lines(out, 3)
        r = subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out",
                            str(tmp_path / "s")], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert vm_api(sock)["state"] == "running"
        n = len(_steps(out.read_bytes()).split("\n"))
        _wait_lines(out, n + 2)
        # a second snapshot into the same directory replaces the first
        r = subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out",
                            str(tmp_path / "s")], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert not [n for n in os.listdir(tmp_path / "s") if ".tmp." in n]
    finally:
        _kill(p)


def test_restore_paused_then_resume(hull, tiny_guest, tmp_path):
    snap, before = _snapshot_paused(hull, tiny_guest, tmp_path)
    sock, out2 = str(tmp_path / "b.sock"), tmp_path / "out2"
    p = _restore(hull, snap, out2, "--api-sock", sock, "--paused")
    try:
        deadline = time.time() + 60
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.1)
        assert vm_api(sock)["state"] == "paused"
        time.sleep(0.5)
        assert out2.read_bytes() == b""
        assert vm_api(sock, {"op": "resume"})["state"] == "running"
        after = _wait_lines(out2, 4)
    finally:
        _kill(p)
    _check_continues(before, after)


def _restore_err(hull, snap):
    r = subprocess.run([hull, "vm", "restore", str(snap), "--allow-pvm"], capture_output=True,
                       text=True, timeout=120)
    return r


def test_bad_snapshots_refused(hull, tiny_guest, tmp_path):
    snap, _ = _snapshot_paused(hull, tiny_guest, tmp_path)
    good = {n: (snap / n).read_bytes() for n in os.listdir(snap)}
    rng = random.Random(1717)

    def check(r, name, what):
        assert r.returncode == 125, (r.returncode, r.stderr)  # never a crash (signal)
        assert r.stderr.count("\n") == 1, r.stderr
        assert name in r.stderr and what in r.stderr, r.stderr
        assert r.stdout == ""

    # seeded byte flips and truncations of the state file
    for i in range(40):
        data = bytearray(good["state"])
        if i % 2:
            data = data[:rng.randrange(len(data))]
        else:
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        (snap / "state").write_bytes(bytes(data))
        check(_restore_err(hull, snap), str(snap / "state"), "")
    (snap / "state").write_bytes(good["state"])
    # a missing file, a truncated memory file, a config whose devices differ
    for name in ("state", "memory", "config.json"):
        (snap / name).unlink()
        check(_restore_err(hull, snap), name, "No such file")
        (snap / name).write_bytes(good[name])
    with open(snap / "memory", "r+b") as f:
        f.truncate((2 << 20) - 4096)
    check(_restore_err(hull, snap), "memory", "truncated")
    (snap / "memory").write_bytes(good["memory"])
    conf = good["config.json"].decode()
    (snap / "config.json").write_text(conf.replace('"cpus":1', '"cpus":2'))
    check(_restore_err(hull, snap), "state", "do not match")
    (snap / "config.json").write_text(conf.replace('"version":1', '"version":9'))
    check(_restore_err(hull, snap), "config.json", "newer hull")
    shutil.rmtree(snap)


COUNT_INIT = r"""
echo "HULL-TEST: counting"
i=0
while true; do
  i=$((i + 1))
  echo "HULL-COUNT $i"
  echo "step $i" | dd of=/dev/vda bs=512 count=1 conv=sync,notrunc,fsync 2>/dev/null
  usleep 100000
done
"""


def _wait_for(path, needle, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        data = path.read_bytes().replace(b"\r", b"")  # the guest's tty writes \r\n
        if needle in data:
            return data
        time.sleep(0.5)
    raise AssertionError(f"no {needle!r} in {path}: {path.read_bytes()[-3000:]!r}")


@pytest.mark.sandbox
@pytest.mark.slow
def test_linux_guest_counts_across_restore(hull, kernel, vmlinux, make_initramfs, tmp_path):
    """A Linux guest (Debian's kernel, in the sandbox's KVM) counting on the serial console
    and writing each step to its disk: snapshot paused, SIGKILL, two restores in turn; each
    goes on counting from the step it was at, and the disk takes the steps after them."""
    from vmhelpers import INIT_PROLOGUE
    initrd = make_initramfs(INIT_PROLOGUE + COUNT_INIT, modules=())
    vda = tmp_path / "vda.raw"
    vda.write_bytes(b"\0" * (1 << 20))
    sock, out1, snap = str(tmp_path / "a.sock"), tmp_path / "out1", tmp_path / "snap"
    with open(out1, "wb") as f:
        p = subprocess.Popen([hull, "vm", "run", "--kernel", vmlinux, "--initrd", initrd,
                              "--memory", "256M", "--disk", str(vda), "--api-sock", sock,
                              "--cmdline", "console=ttyS0 quiet"],
                             stdout=f, stderr=subprocess.PIPE)
    try:
        _wait_for(out1, b"HULL-COUNT 5\n", 600)
        r = subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out", str(snap),
                            "--paused"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        before = out1.read_bytes().replace(b"\r", b"")
    finally:
        _kill(p)
    complete = before[:before.rfind(b"\n") + 1]  # the last line may be cut short
    last = int(complete.rsplit(b"HULL-COUNT ", 1)[1].split(b"\n")[0])
    mem = os.stat(snap / "memory")
    assert mem.st_size == 256 << 20 and mem.st_blocks * 512 < 200 << 20  # holes
    # two restores of the snapshot, one after the other (at once, the second would be
    # refused: the first holds the write lock of the disk both name)
    afters = []
    for i in range(2):
        out = tmp_path / f"restore{i}"
        p = _restore(hull, snap, out)
        try:
            afters.append(_wait_for(out, b"HULL-COUNT %d\n" % (last + 5), 600))
        finally:
            _kill(p)
    for after in afters:
        text = (before + after).decode(errors="replace")
        counts = [int(ln.split()[1]) for ln in text.splitlines()
                  if ln.startswith("HULL-COUNT ")]
        assert counts == list(range(1, len(counts) + 1)), text[-2000:]
        assert b"Linux version" not in after  # no boot: the guest went on
    step = int(vda.read_bytes()[:40].split(b"\n")[0].split()[1])
    assert step > last, (step, last)


# The guest tells what its vmgenid driver (drivers/virt/vmgenid.c) did: bound to hull's VGEN
# device at boot, and, once the CRNG is ready (a read of /dev/random waits for it), whether
# the kernel logged the reseed that the generation ID's ACPI notify causes.
VMGENID_INIT = r"""
ls /sys/bus/acpi/drivers/vmgenid/ | grep -q HULLVGID && echo "HULL-TEST: vmgenid bound"
dd if=/dev/random of=/dev/null bs=1 count=1 2>/dev/null
echo "HULL-TEST: crng ready"
i=0
while true; do
  i=$((i + 1))
  if dmesg | grep -q "crng reseeded due to virtual machine fork"; then
    echo "HULL-FORKED $i"
  else
    echo "HULL-SAME $i"
  fi
  usleep 200000
done
"""


@pytest.mark.sandbox
@pytest.mark.slow
def test_linux_guest_reseeds_on_restore(hull, kernel, vmlinux, make_initramfs, tmp_path):
    """The VM generation ID: Linux's vmgenid driver binds to hull's device at boot; a guest
    snapshotted and killed never saw a VM fork; each of two clones restored from it (one
    after the other) gets a new generation ID and its ACPI notify: the guest's kernel logs
    that it reseeded its CRNG."""
    from vmhelpers import INIT_PROLOGUE
    initrd = make_initramfs(INIT_PROLOGUE + VMGENID_INIT, modules=())
    sock, out1, snap = str(tmp_path / "a.sock"), tmp_path / "out1", tmp_path / "snap"
    with open(out1, "wb") as f:
        p = subprocess.Popen([hull, "vm", "run", "--kernel", vmlinux, "--initrd", initrd,
                              "--memory", "256M", "--api-sock", sock,
                              "--cmdline", "console=ttyS0 quiet"],
                             stdout=f, stderr=subprocess.PIPE)
    try:
        before = _wait_for(out1, b"HULL-SAME 3\n", 600)
        r = subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out", str(snap),
                            "--paused"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    finally:
        _kill(p)
    assert b"HULL-TEST: vmgenid bound" in before, before[-3000:]
    assert b"HULL-FORKED" not in out1.read_bytes()
    for i in range(2):
        out = tmp_path / f"restore{i}"
        p = _restore(hull, snap, out)
        try:
            after = _wait_for(out, b"HULL-FORKED", 600)
        finally:
            _kill(p)
        assert b"Linux version" not in after  # a restore, not a boot
    shutil.rmtree(snap)


# A guest with a NIC, vsock and a balloon: its address set, an echo server on vsock port
# 5201 that serves one connection after another, then a tick per second on the console.
CLONE_INIT = r"""
ip link set lo up
ip link set eth0 up
ip addr add 10.77.17.2/24 dev eth0
echo "HULL-TEST: mac=$(cat /sys/class/net/eth0/address)"
(while true; do /vsock-echo 5201 1 >/dev/null; done) &
echo "HULL-TEST: ready"
i=0
while true; do
  i=$((i + 1))
  echo "HULL-TICK $i"
  sleep 1
done
"""
CLONE_MODULES = ("virtio_pci", "virtio_net", "vmw_vsock_virtio_transport", "virtio_balloon")


def _sh(*cmd):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True)


def _vsock_echo(cid, seed, size=64 << 10):
    """size seeded bytes to the guest's echo server and back: True when they came back."""
    import socket
    data = random.Random(seed).randbytes(size)
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(120)
    try:
        s.connect((cid, 5201))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got == data


@pytest.fixture
def clone_netns(tmp_path):
    """Two network namespaces, each with a tap `ctap17` at 10.77.17.1/24 (up): the parent
    and each clone on their own, the guest's address the same in all. Removed afterwards."""
    names = [f"hull-clone17-{os.getpid()}-{i}" for i in range(2)]
    try:
        for ns in names:
            _sh("ip", "netns", "add", ns)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "tuntap", "add", "dev", "ctap17", "mode", "tap")
            _sh("ip", "-n", ns, "addr", "add", "10.77.17.1/24", "dev", "ctap17")
            _sh("ip", "-n", ns, "link", "set", "ctap17", "up")
        yield names
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    left = _sh("ip", "netns", "list").stdout
    assert not any(ns in left for ns in names)


def _ping(ns):
    return subprocess.run(["ip", "netns", "exec", ns, "busybox", "ping", "-c", "2", "-W",
                           "10", "10.77.17.2"], capture_output=True, text=True, timeout=120)


@pytest.mark.sandbox
@pytest.mark.slow
def test_linux_clones_own_net_and_vsock(hull, kernel, vmlinux, clone_netns, tmp_path):
    """Snapshot of a guest with virtio-net, vsock and balloon: the parent killed, two clones
    restored from it at once, each on a tap in its own namespace and with its own vsock CID
    (the second also a new MAC): both keep running, answer ping on their tap and echo over
    vsock at their new CID (the guest learnt it from the transport reset event)."""
    from vmhelpers import INIT_PROLOGUE, REPO, vm_api
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    echo = tmp_path / "vsock-echo"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(echo),
                    str(REPO / "tests/integration/vm/vsock_echo.c")], check=True, timeout=120)
    init = tmp_path / "init"
    init.write_text(INIT_PROLOGUE + CLONE_INIT)
    initrd = tmp_path / "initrd.cpio"
    cmd = [hull, "vm", "initramfs", "--output", str(initrd), "--init", str(init),
           "--module-dir", kernel[1], "--file", f"{echo}:/vsock-echo"]
    for m in CLONE_MODULES:
        cmd += ["--module", m]
    subprocess.run(cmd, check=True, timeout=120)
    ns = clone_netns
    sock, out0, snap = str(tmp_path / "a.sock"), tmp_path / "parent", tmp_path / "snap"
    with open(out0, "wb") as f:
        p = subprocess.Popen(["ip", "netns", "exec", ns[0], hull, "vm", "run", "--kernel",
                              vmlinux, "--initrd", str(initrd), "--memory", "256M",
                              "--net", "tap=ctap17,mac=02:17:00:00:00:01", "--vsock", "auto",
                              "--balloon", "on", "--api-sock", sock,
                              "--cmdline", "console=ttyS0 quiet"],
                             stdout=f, stderr=subprocess.PIPE)
    try:
        _wait_for(out0, b"HULL-TICK 2\n", 600)
        cid0 = vm_api(sock, timeout=60)["vsock_cid"]
        assert _vsock_echo(cid0, 1)
        assert _ping(ns[0]).returncode == 0
        r = subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out", str(snap),
                            "--paused"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    finally:
        _kill(p)
    text = out0.read_bytes().decode(errors="replace")
    assert "insmod" not in text and "HULL-TEST: mac=02:17:00:00:00:01" in text, text[-3000:]
    clones = []
    try:
        for i, extra in enumerate((["--net", "tap=ctap17"],
                                   ["--net", "tap=ctap17,mac=02:17:00:00:00:02"])):
            csock, out = str(tmp_path / f"c{i}.sock"), tmp_path / f"clone{i}"
            with open(out, "wb") as f:
                clones.append((subprocess.Popen(
                    ["ip", "netns", "exec", ns[i], hull, "vm", "restore", str(snap),
                     "--api-sock", csock, "--vsock", "auto", *extra],
                    stdout=f, stderr=subprocess.PIPE), csock, out))
        cids = []
        for c, csock, out in clones:
            after = _wait_for(out, b"HULL-TICK", 600)
            assert b"Linux version" not in after
            cids.append(vm_api(csock, timeout=60)["vsock_cid"])
        assert len(set(cids)) == 2, cids
        for i, (c, csock, out) in enumerate(clones):
            assert c.poll() is None, c.stderr.read()
            assert _ping(ns[i]).returncode == 0, (i, out.read_bytes()[-2000:])
            assert _vsock_echo(cids[i], 10 + i), (i, cids, out.read_bytes()[-2000:])
        for c, _, _ in clones:
            assert c.poll() is None  # both still run
    finally:
        for c, _, _ in clones:
            _kill(c)
    shutil.rmtree(snap)


def test_restore_identity_must_match_snapshot(hull, tiny_guest, tmp_path):
    """A clone's --net and --vsock replace the snapshot's devices' host side: a set that does
    not match the snapshot's devices is one line naming the flag, exit 125, nothing run."""
    snap, _ = _snapshot_paused(hull, tiny_guest, tmp_path)
    for extra, words in ((["--net", "tap=nosuch17"], ["--net", "0 NICs, 1 given"]),
                         (["--vsock", "7"], ["--vsock", "no vsock device"]),
                         (["--vsock", "auto"], ["--vsock", "no vsock device"]),
                         (["--vsock", "x"], ["--vsock x", "CID or auto"]),
                         (["--net", "mac=02:00:00:00:00:01"], ["--net", "tap=IFNAME"])):
        r = subprocess.run([hull, "vm", "restore", str(snap), "--allow-pvm", *extra],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 125, (extra, r.returncode, r.stderr)
        assert r.stdout == "" and r.stderr.count("\n") == 1, (extra, r.stderr)
        assert all(w in r.stderr for w in words), (extra, r.stderr)
    shutil.rmtree(snap)
