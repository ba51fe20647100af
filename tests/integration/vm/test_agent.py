"""hull's guest agent (guest/agent, docs/vm-agent.md) and `hull vm agent`, its client.

In the sandbox (nested KVM, vhost-vsock): Debian's kernel boots an initramfs whose /init is
the agent, with a busybox root image made here with mkfs.erofs and attached as a read-only
disk (hull.root=/dev/vda under a tmpfs overlay). Through `hull vm agent --cid` the processes
see their output, exit status (3; 137 when killed by SIGKILL; 127 for a missing command and
126 for one that is not executable, with docker's message), 1 MiB of stdin (md5 compared),
their environment, working directory, user and groups, a pty with its window size; the root
is writable (the overlay) but the image is not changed; a RUN gets the hostname and
/etc/hosts, a second RUN is refused while it lives, a lone SIGNAL reaches it, and when it
ends the guest powers off (`hull vm run` exits 0), nothing left running.

On any host, without a VM: the same agent listening on a unix socket (hull-agent --unix, its
test mode) runs the same client checks, and a hostile client (seeded random frames, absurd
lengths, unknown types) gets its connection dropped while the agent keeps serving.
"""
import hashlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from vmhelpers import Lines, agent_proc_payload, vm_api
from vmhelpers import agent_frame as frame, agent_read_frame as read_frame

BOOT_TIMEOUT = 600
WAIT = 300  # bound on waits for what must happen (nested KVM under TCG is slow)
MIB = 1 << 20


def agent_bin(build):
    return str(build / "guest/agent/hull-agent")


def run_agent(hull, where, *args, input=None, timeout=WAIT):
    """`hull vm agent` with where (["--cid", N] or ["--socket", P]); the CompletedProcess."""
    return subprocess.run([hull, "vm", "agent", *where, *args], input=input,
                          capture_output=True, timeout=timeout)


def check_processes(hull, where, exec_flag):
    """What a process sees and what comes back: the checks shared by the host and the VM."""
    e = [exec_flag] if exec_flag else []
    r = run_agent(hull, where, *e, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n"), r
    r = run_agent(hull, where, *e, "--", "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r
    r = run_agent(hull, where, *e, "--", "no-such-command", "x")
    assert r.returncode == 127, r
    assert b"exec no-such-command: no such file or directory" in r.stderr, r
    data = random.Random(18).randbytes(MIB)
    r = run_agent(hull, where, *e, "-i", "--", "cat", input=data)
    assert r.returncode == 0, r.stderr
    assert hashlib.md5(r.stdout).hexdigest() == hashlib.md5(data).hexdigest(), len(r.stdout)
    r = run_agent(hull, where, *e, "-e", "FOO=bar baz", "-w", "/tmp/agent-wd/sub", "-u",
                  "1000:1001", "--group-add", "20", "--group-add", "30", "--", "sh", "-c",
                  'echo "$FOO"; pwd; id -u; id -g; id -G')
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split("\n")[:5] == ["bar baz", "/tmp/agent-wd/sub", "1000",
                                                  "1001", "1001 20 30"], r.stdout
    r = run_agent(hull, where, *e, "-t", "--", "sh", "-c", "test -t 0 && test -t 1 && echo tty")
    assert r.returncode == 0 and r.stdout.replace(b"\r", b"") == b"tty\n", r


# ---- on any host: the agent on a unix socket -------------------------------------------

@pytest.fixture
def host_agent(build, tmp_path):
    path = str(tmp_path / "agent.sock")
    p = subprocess.Popen([agent_bin(build), "--unix", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(500):
        if os.path.exists(path):
            break
        time.sleep(0.01)
    yield p, path
    if p.poll() is None:
        p.kill()
    p.wait(timeout=WAIT)
    p.stderr.close()
    shutil.rmtree("/tmp/agent-wd", ignore_errors=True)


def test_agent_host_exec_processes(hull, host_agent):
    check_processes(hull, ["--socket", host_agent[1]], "--exec")
    assert host_agent[0].poll() is None  # EXECs never end the agent


def test_agent_host_run_ends_agent(hull, host_agent):
    p, path = host_agent
    r = run_agent(hull, ["--socket", path], "--", "sh", "-c", "echo run; exit 5")
    assert (r.returncode, r.stdout) == (5, b"run\n"), r
    assert p.wait(timeout=WAIT) == 0  # in the guest: the power-off


def test_agent_host_hostile_frames(hull, host_agent):
    """Seeded random frames: each connection is dropped or answered, never crashes the
    agent; afterwards a normal session still works."""
    p, path = host_agent
    rng = random.Random(1818)
    for i in range(300):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(WAIT)
        s.connect(path)
        hello = read_frame(s)
        assert hello and hello[0] == 1 and struct.unpack("<II", hello[1]) == (1, 0), hello
        kind = i % 6
        if kind == 0:  # absurd length
            data = frame(rng.randrange(2, 8), length=rng.choice([65537, 1 << 31, 0xffffffff]))
        elif kind == 1:  # unknown or agent-only type
            data = frame(rng.choice([0, 1, 8, 9, 10, 11, 12, 13, 200, 0xffff]), b"x" * 4)
        elif kind == 2:  # nonzero flags
            data = frame(4, b"abc", flags=rng.randrange(1, 0x10000))
        elif kind == 3:  # a RUN/EXEC of random bytes
            body = rng.randbytes(rng.randrange(0, 200))
            data = frame(3, body)  # EXEC: a RUN that decoded would end the test agent
        elif kind == 4:  # an EXEC header with random counts and strings
            body = struct.pack("<IIIHHHHHH", 0, 0, rng.randrange(0, 32), 0, 0,
                               rng.randrange(0, 3000), rng.randrange(0, 3000),
                               rng.randrange(0, 400), rng.randrange(0, 2))
            body += rng.randbytes(rng.randrange(0, 100))
            data = frame(3, body)
        else:  # random bytes, truncated anywhere
            data = rng.randbytes(rng.randrange(1, 64))
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while True:
                f = read_frame(s)
                if f is None:
                    break
                assert f[0] in (8, 9, 10, 11, 12, 13), f  # output, EXIT, ERROR, ACKs
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            s.close()
        assert p.poll() is None, p.stderr.read()
    r = run_agent(hull, ["--socket", path], "--exec", "--", "echo", "still")
    assert (r.returncode, r.stdout) == (0, b"still\n"), r


def test_agent_host_pty_winsize(host_agent):
    """EXEC with a tty: the first window size from the payload, a WINSIZE later; the output
    comes back as STDOUT only."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(host_agent[1])
    try:
        assert read_frame(s)[0] == 1
        s.sendall(frame(3, agent_proc_payload(["sh", "-c", "stty size; read x; stty size"],
                                        tty=True, rows=30, cols=100)))
        out = b""
        while b"30 100" not in out:
            f = read_frame(s)
            assert f and f[0] == 8, (f, out)
            out += f[1]
        s.sendall(frame(6, struct.pack("<HH", 40, 120)))
        s.sendall(frame(4, b"go\n"))
        code = None
        while code is None:
            f = read_frame(s)
            assert f, out
            if f[0] == 10:
                code = struct.unpack("<i", f[1])[0]
            elif f[0] == 13:  # STDIN_ACK: the "go" was taken
                assert struct.unpack("<I", f[1])[0] == 3, f
            else:
                assert f[0] == 8, f
                out += f[1]
        assert code == 0 and b"40 120" in out, (code, out)
    finally:
        s.close()


def test_agent_host_signal_forwarded(hull, host_agent):
    """SIGTERM to `hull vm agent` reaches the process as SIGNAL (docker's sig-proxy)."""
    p = subprocess.Popen([hull, "vm", "agent", "--socket", host_agent[1], "--exec", "--",
                          "sh", "-c", 'trap "echo got TERM; exit 9" TERM; echo ready; '
                          "while :; do sleep 0.1; done"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=WAIT)
        assert (p.returncode, out) == (9, b"got TERM\n"), (p.returncode, out, err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=WAIT)


def test_agent_host_signal_past_unread_stdin(hull, host_agent, tmp_path):
    """A process that never reads its stdin, with 8 MiB of it waiting: a SIGTERM to
    `hull vm agent` still reaches it (the client sends SIGNAL ahead of stdin data, and the
    agent keeps reading frames past what the process has not taken)."""
    data = tmp_path / "stdin"
    data.write_bytes(random.Random(7).randbytes(8 * MIB))
    with open(data, "rb") as f:
        p = subprocess.Popen([hull, "vm", "agent", "--socket", host_agent[1], "--exec", "-i",
                              "--", "sh", "-c", 'trap "echo got TERM; exit 9" TERM; '
                              "echo ready; while :; do sleep 0.1; done"],
                             stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        time.sleep(0.5)  # not an assertion on time: lets the stdin pile up first
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
        assert (p.returncode, out) == (9, b"got TERM\n"), (p.returncode, out, err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=WAIT)


def test_initramfs_agent(hull, build, tmp_path):
    """`hull vm initramfs --agent` packs the hull-agent beside hull as /init."""
    out = tmp_path / "initrd.cpio"
    r = subprocess.run([hull, "vm", "initramfs", "--output", str(out), "--agent"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    x = tmp_path / "x"
    x.mkdir()
    subprocess.run(["cpio", "-id", "--quiet"], cwd=x, stdin=open(out, "rb"), check=True,
                   timeout=60)
    with open(agent_bin(build), "rb") as f:
        assert (x / "init").read_bytes() == f.read()
    assert os.access(x / "init", os.X_OK)


def test_agent_cli_errors(hull, tmp_path):
    for args, word in ((["--", "true"], "--cid"), (["--cid", "2", "--", "true"], "--cid 2"),
                       (["--cid", "3", "-u", "bob", "--", "true"], "--user bob"),
                       (["--cid", "3", "-w", "rel", "--", "true"], "--workdir rel"),
                       (["--cid", "3"], "COMMAND"),
                       (["--cid", "3", "--signal", "NOPE"], "--signal NOPE")):
        r = run_agent(hull, [], *args, timeout=60)
        assert r.returncode == 125, (args, r)
        assert r.stderr.decode().count("\n") == 1 and word in r.stderr.decode(), (args, r)
    # nobody listening: a clear timeout naming the agent, 125
    r = run_agent(hull, ["--socket", str(tmp_path / "none.sock")], "--timeout", "1", "--",
                  "true", timeout=60)
    assert r.returncode == 125 and b"did not answer" in r.stderr, r


# ---- in the sandbox: a real guest ------------------------------------------------------

BUSYBOX_APPLETS = ("sh", "cat", "echo", "id", "pwd", "kill", "sleep", "hostname", "test",
                   "true", "ls", "touch", "stty", "tty")


def make_root(tmp_path):
    """A busybox root image (erofs): /bin/busybox and its links, /etc, a file that is not
    executable, and the mount points."""
    root = tmp_path / "root"
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "home"):
        (root / d).mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    for a in BUSYBOX_APPLETS:
        os.symlink("busybox", root / "bin" / a)
    (root / "etc/hostname-not-exec").write_text("x\n")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/image-file").write_text("from the image\n")
    os.chmod(root / "tmp", 0o1777)
    img = tmp_path / "root.erofs"
    subprocess.run(["mkfs.erofs", "--quiet", "--all-root", str(img), str(root)], check=True,
                   timeout=120)
    return img


def boot_guest(hull, kernel, tmp_path, img, upper=None):
    """`hull vm run` of the agent's initramfs on img (and an ext4 upper layer): the process,
    its console's Lines, the API socket."""
    initrd = tmp_path / "initrd.cpio"
    subprocess.run([hull, "vm", "initramfs", "--output", str(initrd), "--agent",
                    "--module-dir", kernel[1], "--module", "vmw_vsock_virtio_transport",
                    # libcrc32c (erofs's dependency) fails to load without a crc32c: a
                    # softdep, which modules.dep does not list
                    "--module", "crc32c_generic", "--module", "erofs", "--module", "overlay",
                    *(["--module", "ext4"] if upper else [])],
                   check=True, timeout=120)
    sock = str(tmp_path / "api.sock")
    cmdline = "console=ttyS0 quiet hull.root=/dev/vda" + (" hull.upper=/dev/vdb" if upper else "")
    p = subprocess.Popen([hull, "vm", "run", "--kernel", kernel[0], "--initrd", str(initrd),
                          "--memory", "256M", "--vsock", "auto", "--api-sock", sock,
                          "--disk", f"{img},ro", *(["--disk", str(upper)] if upper else []),
                          "--cmdline", cmdline],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p, Lines(p.stdout), sock


@pytest.mark.sandbox
@pytest.mark.slow
def test_agent_guest(hull, build, kernel, tmp_path):
    if not shutil.which("mkfs.erofs"):
        pytest.fail("mkfs.erofs missing (erofs-utils, scripts/debian-packages.txt)")
    img = make_root(tmp_path)
    img_sum = hashlib.md5(img.read_bytes()).hexdigest()
    p, lines, sock = boot_guest(hull, kernel, tmp_path, img)
    run = None
    try:
        assert lines.until("hull-agent: ready", BOOT_TIMEOUT), lines.text()
        cid = str(vm_api(sock, timeout=WAIT)["vsock_cid"])
        where = ["--cid", cid, "--timeout", str(WAIT)]
        check_processes(hull, where, "--exec")
        r = run_agent(hull, where, "--exec", "--", "/etc/hostname-not-exec")
        assert r.returncode == 126 and b"permission denied" in r.stderr, r
        r = run_agent(hull, where, "--exec", "-t", "--", "stty", "size")
        assert r.returncode == 0, r  # no terminal here: the default size, but a pty
        # the root is the image under a writable layer
        r = run_agent(hull, where, "--exec", "--", "sh", "-c",
                      "cat /etc/image-file && echo new > /etc/image-file && cat /etc/image-file")
        assert (r.returncode, r.stdout) == (0, b"from the image\nnew\n"), r
        # nothing runs yet: a lone signal finds no process
        r = run_agent(hull, where, "--signal", "TERM")
        assert r.returncode == 125 and b"no running container process" in r.stderr, r

        # RUN: hostname, /etc/hosts; a second RUN refused; a signal reaches it; power-off
        run = subprocess.Popen(
            [hull, "vm", "agent", *where, "--hostname", "agentbox", "--", "sh", "-c",
             'trap "echo got TERM; exit 7" TERM; hostname; echo started; '
             "while :; do sleep 1; done"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert run.stdout.readline() == b"agentbox\n"
        assert run.stdout.readline() == b"started\n"
        r = run_agent(hull, where, "--", "true")
        assert r.returncode == 125 and b"already started" in r.stderr, r
        r = run_agent(hull, where, "--exec", "--", "hostname")
        assert r.stdout == b"agentbox\n", r
        r = run_agent(hull, where, "--signal", "TERM")
        assert r.returncode == 0, r
        out, err = run.communicate(timeout=WAIT)
        assert (run.returncode, out) == (7, b"got TERM\n"), (run.returncode, out, err)
        assert p.wait(timeout=WAIT) == 0, lines.text()  # the guest powered off
        assert lines.until("powering off", 30) or "powering off" in lines.text()
    finally:
        for proc in (run, p):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    assert not os.path.exists(sock) or p.returncode is not None
    assert hashlib.md5(img.read_bytes()).hexdigest() == img_sum  # ro: the image untouched


@pytest.mark.sandbox
@pytest.mark.slow
def test_agent_guest_ext4_upper(hull, kernel, tmp_path):
    """hull.upper= an ext4 disk: what the RUN process writes is on that disk after the
    power-off (the agent syncs first), in the overlay's upper/ directory."""
    img = make_root(tmp_path)
    upper = tmp_path / "upper.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", str(upper), "32M"], check=True, timeout=120)
    p, lines, sock = boot_guest(hull, kernel, tmp_path, img, upper)
    try:
        assert lines.until("hull-agent: ready", BOOT_TIMEOUT), lines.text()
        cid = str(vm_api(sock, timeout=WAIT)["vsock_cid"])
        r = run_agent(hull, ["--cid", cid, "--timeout", str(WAIT)], "--", "sh", "-c",
                      "echo kept > /root/written && cat /etc/image-file")
        assert (r.returncode, r.stdout) == (0, b"from the image\n"), r
        assert p.wait(timeout=WAIT) == 0, lines.text()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=60)
    r = subprocess.run(["debugfs", "-R", "cat /upper/root/written", str(upper)],
                       capture_output=True, timeout=60)
    assert r.stdout == b"kept\n", r
