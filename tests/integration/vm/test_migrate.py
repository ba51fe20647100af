"""Live migration (src/vmm/migrate.c, migrate-stream.c, dirty.c): two hull processes on this
host stand for two hosts. The tiny guest's COUNT variant prints a counter kept in its RAM, a
line per step; migrated while it counts, the lines of the source and then those of the
destination make one unbroken sequence (no step lost or repeated). Its DIRTY variant also
writes 128 pages per step. Failures (a destination that drops the connection, refuses the
CPU, never answers; a timeout) leave the source running. Marked `kvm`: this host's KVM (PVM
is fine for the tiny guest), else the sandbox's (conftest.py)."""
import json
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time
import zlib

import pytest

from vmhelpers import vm_api

pytestmark = pytest.mark.kvm
VM = ["vm", "run", "--raw", "--allow-pvm", "--memory", "2M"]
TINY = os.path.join(os.path.dirname(__file__), "../../data/vm/tiny.S")


@pytest.fixture(scope="module")
def guests(tmp_path_factory):
    """The tiny guest counting ('count') and counting while it dirties 128 pages a step
    ('dirty')."""
    out = tmp_path_factory.mktemp("tiny-mig")
    built = {}
    for name, defs in (("count", ["--defsym", "COUNT=1"]),
                       ("dirty", ["--defsym", "COUNT=1", "--defsym", "DIRTY=1"])):
        obj, binary = out / f"{name}.o", out / f"{name}.bin"
        subprocess.run(["as", "--32", *defs, "-o", str(obj), TINY], check=True)
        subprocess.run(["ld", "-m", "elf_i386", "-Ttext=0", "--oformat", "binary", "-o",
                        str(binary), str(obj)], check=True)
        built[name] = str(binary)
    return built


def _steps(data):
    """The counter's lines: after "counting", the last (maybe partial) line dropped."""
    text = data.decode(errors="replace")
    if "counting\n" in text:
        text = text[text.index("counting\n") + len("counting\n"):]
    return text.split("\n")[:-1]


def _wait_steps(path, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        data = path.read_bytes()
        if "counting\n" in data.decode(errors="replace") and len(_steps(data)) >= n:
            return data
        time.sleep(0.2)
    raise AssertionError(f"{path}: fewer than {n} steps: {path.read_bytes()[-200:]!r}")


def _wait_more(path, n, timeout=120):
    """Until path holds at least n complete lines."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        data = path.read_bytes()
        if data.count(b"\n") >= n:
            return data
        time.sleep(0.2)
    raise AssertionError(f"{path}: fewer than {n} lines: {path.read_bytes()[-200:]!r}")


class Procs:
    """The VMs a test starts, killed and reaped at the end whatever happened."""

    def __init__(self, hull, tmp_path):
        self.hull, self.tmp, self.procs = hull, tmp_path, []

    def start(self, name, *args):
        out = self.tmp / f"{name}.out"
        f = open(out, "wb")
        p = subprocess.Popen([self.hull, *VM, *args], stdout=f, stderr=subprocess.PIPE)
        f.close()
        self.procs.append(p)
        return p, out

    def source(self, kernel):
        sock = str(self.tmp / "src.sock")
        p, out = self.start("src", "--api-sock", sock, "--kernel", kernel)
        return p, out, sock

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
            p.stderr.close()


@pytest.fixture
def procs(hull, tmp_path):
    ps = Procs(hull, tmp_path)
    yield ps
    ps.kill_all()
    for n in os.listdir(tmp_path):  # a SIGKILLed VMM leaves its control socket
        if n.endswith(".sock"):
            os.unlink(tmp_path / n)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(spec, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if spec.startswith("unix:"):
            if os.path.exists(spec[5:]):
                return
        else:
            host, port = spec[4:].rsplit(":", 1)
            with socket.socket() as s:
                # a probe connection would be taken as the migration: look at /proc instead
                if _tcp_listening(int(port)):
                    return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {spec}")


def _tcp_listening(port):
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return True
    return False


def _migrate(hull, sock, to, *extra, timeout=300):
    return subprocess.run([hull, "vm", "migrate", "--api-sock", sock, "--to", to, *extra],
                          capture_output=True, text=True, timeout=timeout)


def _check_unbroken(before, after):
    lines = _steps(before + after)
    assert len(lines) >= 8, lines
    assert [int(x, 16) for x in lines] == list(range(1, len(lines) + 1)), lines


def _dest_spec(kind, tmp_path):
    return f"unix:{tmp_path}/dst.sock" if kind == "unix" else f"tcp:127.0.0.1:{_free_port()}"


def _check_downtime_steps(out):
    """The summary's second line: the downtime's steps tile it, in order, from the pause to
    the ack (each lap starts where the one before ended, so these are identities, not
    timings): the steps up to "send" make "to the last byte sent" (QEMU's measure), and
    with "ack" the downtime, each figure rounded to 0.1 ms."""
    down = float(re.search(r"downtime ([\d.]+) ms, total", out)[1])
    m = re.search(r"^downtime steps \(ms\): pause ([\d.]+) disks ([\d.]+) sync ([\d.]+) "
                  r"pages ([\d.]+) state ([\d.]+) send ([\d.]+) ack ([\d.]+); to the last "
                  r"byte sent ([\d.]+) ms, estimated ([\d.]+) ms$", out, re.M)
    assert m, out
    steps = [float(x) for x in m.groups()[:7]]
    sent = float(m[8])
    assert abs(sum(steps[:6]) - sent) <= 0.35, out
    assert sent + steps[6] - 0.2 <= down, out
    assert sent <= down + 0.1, out


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_counter_goes_on_at_the_destination(hull, guests, procs, tmp_path, kind):
    src, out1, sock = procs.source(guests["count"])
    to = _dest_spec(kind, tmp_path)
    dst, out2 = procs.start("dst", "--incoming", to)
    _wait_steps(out1, 5)
    _wait_listening(to)
    r = _migrate(hull, sock, to)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"migrated to {to}: "), r.stdout
    _check_downtime_steps(r.stdout)
    assert src.wait(timeout=60) == 0  # the source stops once the destination has it
    assert "migrated" in src.stderr.read().decode()
    before = out1.read_bytes()
    after = _wait_more(out2, 5)
    assert dst.poll() is None
    _check_unbroken(before, after)
    assert not os.path.exists(tmp_path / "dst.sock")  # the listener went with its connection


def test_dirtying_guest_converges(hull, guests, procs, tmp_path):
    """Round 1 at 1 MiB/s takes about half a second, during which the guest rewrites its 128
    pages: only the dirty log brings their new values over. The destination, snapshotted
    paused afterwards, must hold in every page the step count its console shows (or one
    less, for the pages the step being run has not reached): a page the log missed would
    hold an older count."""
    src, out1, sock = procs.source(guests["dirty"])
    to = _dest_spec("unix", tmp_path)
    dsock = str(tmp_path / "dapi.sock")
    dst, out2 = procs.start("dst", "--incoming", to, "--api-sock", dsock)
    _wait_steps(out1, 5)
    _wait_listening(to)
    r = _migrate(hull, sock, to, "--max-bandwidth", "1", "--downtime-ms", "2000",
                 "--timeout", "120")
    assert r.returncode == 0, r.stderr
    rounds = int(r.stdout.split(": ")[1].split()[0])
    assert rounds >= 2 or "(0 while paused)" not in r.stdout, r.stdout
    assert src.wait(timeout=60) == 0
    after = _wait_more(out2, 5)
    _check_unbroken(out1.read_bytes(), after)
    snap = tmp_path / "snap"
    r = subprocess.run([hull, "vm", "snapshot", "--api-sock", dsock, "--out", str(snap),
                        "--paused"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    last = int(_steps(out1.read_bytes() + out2.read_bytes())[-1], 16)
    mem = (snap / "memory").read_bytes()
    words = [struct.unpack_from("<H", mem, a)[0] for a in range(0x20000, 0xa0000, 4096)]
    assert all(last - 1 <= w <= last for w in words), (last, words)
    assert words == sorted(words, reverse=True), words  # the loop goes up through the pages


def test_dirtying_guest_converges_or_times_out_cleanly(hull, guests, procs, tmp_path):
    """1 MiB/s and a 1 ms downtime against a guest that dirties 512 KiB a step: how fast
    this host's KVM runs the guest decides whether a round ends with nothing dirty (then it
    converges) or it never fits and --timeout 3 ends it. Either way it ends within the
    timeout's order: migrated with an unbroken count, or failed with one line, the source
    counting on and the destination gone with one line."""
    src, out1, sock = procs.source(guests["dirty"])
    to = _dest_spec("tcp", tmp_path)
    dst, out2 = procs.start("dst", "--incoming", to)
    _wait_steps(out1, 5)
    _wait_listening(to)
    t = time.time()
    r = _migrate(hull, sock, to, "--max-bandwidth", "1", "--downtime-ms", "1",
                 "--timeout", "3")
    assert time.time() - t < 60
    if r.returncode == 0:
        assert src.wait(timeout=60) == 0
        _check_unbroken(out1.read_bytes(), _wait_more(out2, 5))
        return
    assert r.returncode == 125, r.stdout
    assert "timed out" in r.stderr and "goes on here" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    _source_keeps_running(src, out1, sock)
    assert dst.wait(timeout=60) == 125
    err = dst.stderr.read().decode()
    assert err.count("\n") == 1 and "incoming migration" in err, err


def test_silent_destination_times_out(hull, guests, procs, tmp_path):
    """A destination that takes the header and then never reads nor answers: --timeout 3
    ends the migration (a send or the wait for the answer times out), the source goes on."""
    src, out1, sock = procs.source(guests["count"])
    path = str(tmp_path / "silent.sock")
    lst = socket.socket(socket.AF_UNIX)
    lst.bind(path)
    lst.listen(1)
    held = []

    def serve():
        c, _ = lst.accept()
        held.append(c)
        c.recv(16)  # some of the header
        c.sendall(b"OK\n")

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        _wait_steps(out1, 3)
        t = time.time()
        r = _migrate(hull, sock, "unix:" + path, "--timeout", "3")
        assert time.time() - t < 60
        assert r.returncode == 125 and "goes on here" in r.stderr, r.stderr
        assert "timed out" in r.stderr or "Resource temporarily" in r.stderr, r.stderr
        _source_keeps_running(src, out1, sock)
    finally:
        th.join(timeout=30)
        for c in held:
            c.close()
        lst.close()
        os.unlink(path)


def _source_keeps_running(src, out, sock):
    assert src.poll() is None
    assert vm_api(sock)["state"] == "running"
    n = out.read_bytes().count(b"\n")
    _wait_more(out, n + 3)
    lines = _steps(out.read_bytes())
    assert [int(x, 16) for x in lines] == list(range(1, len(lines) + 1)), lines


def test_killed_destination_leaves_the_source_running(hull, guests, procs, tmp_path):
    """The destination SIGKILLed while rounds go on (1 MiB/s of a guest that dirties 512 KiB
    a step): the source's send fails, it resumes and keeps counting."""
    src, out1, sock = procs.source(guests["dirty"])
    to = _dest_spec("tcp", tmp_path)
    dst, _ = procs.start("dst", "--incoming", to)
    _wait_steps(out1, 5)
    _wait_listening(to)
    mig = subprocess.Popen([hull, "vm", "migrate", "--api-sock", sock, "--to", to,
                            "--max-bandwidth", "1", "--downtime-ms", "1", "--timeout", "120"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not _established(to) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(17).uniform(0.2, 1.5))  # some rounds in
        dst.kill()
        out, err = mig.communicate(timeout=180)
    finally:
        if mig.poll() is None:
            mig.kill()
            mig.wait()
    assert mig.returncode == 125, out
    assert "goes on here" in err and err.count("\n") == 1, err
    _source_keeps_running(src, out1, sock)


def _established(spec):
    port = int(spec.rsplit(":", 1)[1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port:
                return True
    return False


def test_cpu_mismatch_refused(hull, guests, procs, tmp_path):
    src, out1, sock = procs.source(guests["count"])
    to = _dest_spec("unix", tmp_path)
    dst, _ = procs.start("dst", "--incoming", to)
    _wait_steps(out1, 3)
    _wait_listening(to)
    r = _migrate(hull, sock, to, "--test-fake-cpuid")
    assert r.returncode == 125
    assert "destination refused" in r.stderr and "0x80000001.ecx bit 31" in r.stderr, r.stderr
    assert dst.wait(timeout=60) == 125
    err = dst.stderr.read().decode()
    assert err.count("\n") == 1 and "0x80000001.ecx bit 31" in err, err
    _source_keeps_running(src, out1, sock)


def test_memory_size_mismatch_refused(hull, guests, procs, tmp_path):
    src, out1, sock = procs.source(guests["count"])
    to = _dest_spec("unix", tmp_path)
    p = subprocess.Popen([hull, "vm", "run", "--raw", "--allow-pvm", "--memory", "4M",
                          "--incoming", to], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.procs.append(p)
    _wait_steps(out1, 3)
    _wait_listening(to)
    r = _migrate(hull, sock, to)
    assert r.returncode == 125 and "--memory must match" in r.stderr, r.stderr
    assert p.wait(timeout=60) == 125
    _source_keeps_running(src, out1, sock)


def _stream(pages, state=b"", version=1, mem=2 << 20, fix_crc=True):
    s = b"HULLMIGR" + struct.pack("<IQII", version, mem, 1, 0)
    for pg in pages:
        s += struct.pack("<IIQ", 1, 1, pg) + b"\x55" * 4096
    if state is not None:
        s += struct.pack("<II", 3, len(state)) + state
    s += struct.pack("<I", 4)
    return s + struct.pack("<I", zlib.crc32(s) if fix_crc else 0)


def _state_file():
    body = b"HULLVMST" + struct.pack("<I", 1)
    return body + struct.pack("<I", zlib.crc32(body))


HOSTILE = [
    (_stream([512]), "outside guest RAM"),                      # one page past 2 MiB
    (_stream([1 << 60]), "outside guest RAM"),                  # an absurd page number
    (_stream([], version=7), "version 7"),
    (b"HULLMIGR" + struct.pack("<IQII", 1, 2 << 20, 1, 1 << 30), "CPUID entries"),
    (_stream([]) [:20] + struct.pack("<I", 0), ""),             # truncated header
    (_stream([1], state=b"x" * 8), "state record of 8 bytes"),
    (_stream([1], state=_state_file(), fix_crc=False), "checksum mismatch"),
    (_stream([1], state=_state_file()), "sections"),            # no vCPU/platform sections
    (b"HULLMIGR" + struct.pack("<IQII", 1, 2 << 20, 1, 0) + struct.pack("<II", 9, 0),
     "unknown record type 9"),
    (b"HULLMIGR" + struct.pack("<IQII", 1, 2 << 20, 1, 0) + struct.pack("<II", 1, 1 << 31),
     "page record of"),
    (b"GARBAGE!" * 4, "bad magic"),
]


def test_hostile_streams_refused(hull, procs, tmp_path):
    """A hand-made source sends bad streams to a real destination: each is refused with one
    line naming what is wrong, exit 125, never a crash."""
    for i, (data, what) in enumerate(HOSTILE):
        to = f"unix:{tmp_path}/h{i}.sock"
        p, _ = procs.start(f"h{i}", "--incoming", to)
        _wait_listening(to)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(to[5:])
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(60)
                while s.recv(4096):
                    pass
            except OSError:
                pass  # the destination may close first
        assert p.wait(timeout=60) == 125, (i, p.returncode)
        err = p.stderr.read().decode()
        assert err.count("\n") == 1 and what in err, (i, err)


def test_fuzz_seeds_replay(build, tmp_path):
    """The fuzz target's replay build over its seeds and 300 seeded mutations of them."""
    replay = build / "tests/unit/vmm/fuzz-migrate-replay"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    gen = os.path.join(os.path.dirname(__file__), "../../fuzz/migrate-seeds.py")
    subprocess.run(["python3", gen, str(seeds)], check=True)
    rng = random.Random(1717)
    base = [f.read_bytes() for f in sorted(seeds.iterdir())]
    for i in range(300):
        data = bytearray(rng.choice(base))
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data))]
        (seeds / f"m{i}").write_bytes(bytes(data))
    r = subprocess.run([str(replay), *map(str, sorted(seeds.iterdir()))], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def _snap(hull, sock, out, *extra):
    return subprocess.run([hull, "vm", "snapshot", "--api-sock", sock, "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=120)


def _restore(procs, name, snap):
    out = procs.tmp / f"{name}.out"
    f = open(out, "wb")
    p = subprocess.Popen([procs.hull, "vm", "restore", str(snap), "--allow-pvm"], stdout=f,
                         stderr=subprocess.PIPE)
    f.close()
    procs.procs.append(p)
    return p, out


def test_diff_snapshots_restore(hull, guests, procs, tmp_path):
    """A full snapshot, then two diffs while the dirtying guest counts (the last one paused,
    the VM then killed): the diffs hold only the pages written since the snapshot before
    them; a restore of the last diff applies base, diff 1, diff 2 and goes on counting with
    no step lost or repeated (the counter's page was written after each snapshot). A chain
    whose ids do not match, and --diff with nothing to build on, are refused."""
    src, out1, sock = procs.source(guests["dirty"])
    s0, s1, s2 = tmp_path / "s0", tmp_path / "s1", tmp_path / "s2"
    _wait_steps(out1, 3)
    r = _snap(hull, sock, s0, "--diff")  # nothing to build on yet
    assert r.returncode == 125 and "no full snapshot" in r.stderr, r.stderr
    assert _snap(hull, sock, s0).returncode == 0
    r = _snap(hull, sock, s0, "--diff")
    assert r.returncode == 125 and "another directory" in r.stderr, r.stderr
    n = len(_steps(out1.read_bytes()))
    _wait_steps(out1, n + 2)
    r = _snap(hull, sock, s1, "--diff")
    assert r.returncode == 0, r.stderr
    n = len(_steps(out1.read_bytes()))
    _wait_steps(out1, n + 2)
    r = _snap(hull, sock, s2, "--diff", "--paused")
    assert r.returncode == 0, r.stderr
    # a migration attempt (refused here: no destination speaks) ends the chain
    with socket.socket(socket.AF_UNIX) as lst:
        lst.bind(str(tmp_path / "x.sock"))
        lst.listen(1)
        th = threading.Thread(target=lambda: lst.accept()[0].close(), daemon=True)
        th.start()
        r = _migrate(hull, sock, f"unix:{tmp_path}/x.sock", "--timeout", "5")
        th.join(timeout=30)
    assert r.returncode == 125, r.stderr
    r = _snap(hull, sock, tmp_path / "s3", "--diff", "--paused")
    assert r.returncode == 125 and "no full snapshot" in r.stderr, r.stderr
    before = out1.read_bytes()
    src.kill()
    src.wait(timeout=30)
    for d in (s1, s2):
        assert sorted(os.listdir(d)) == ["config.json", "memory", "pages", "state"]
        bits = sum(bin(b).count("1") for b in (d / "pages").read_bytes())
        assert 1 <= bits <= 200, bits  # the 128 pages, the counter's, the stack: not all 512
        assert (d / "memory").stat().st_blocks * 512 <= (bits + 16) * 4096  # sparse
    p, out2 = _restore(procs, "r2", s2)
    after = _wait_more(out2, 5)
    assert p.poll() is None
    _check_unbroken(before, after)
    p.kill()
    p.wait(timeout=30)
    # the chain's ids: s2 names s1 by its id; an s1 with another id is refused
    conf = json.loads((s1 / "config.json").read_text())
    conf["id"] = "0" * 32
    (s1 / "config.json").write_text(json.dumps(conf))
    r = subprocess.run([hull, "vm", "restore", str(s2), "--allow-pvm"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 125 and "not the snapshot it was taken after" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("spec", ["bogus", "tcp:127.0.0.1", "tcp::80", "unix:", "udp:1.2.3.4:5"])
def test_bad_addresses(hull, spec):
    """A malformed --incoming is one line before /dev/kvm is opened; so is a malformed --to."""
    r = subprocess.run([hull, *VM, "--incoming", spec], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert "--incoming" in r.stderr and spec in r.stderr, r.stderr
    r = subprocess.run([hull, "vm", "migrate", "--api-sock", "/nonexistent.sock", "--to", spec],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert "--to" in r.stderr, r.stderr
