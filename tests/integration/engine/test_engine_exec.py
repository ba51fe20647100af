"""hull exec through the runtime's exec (oci_runtime_exec, in process): the process has the
container's capability sets, cgroups, namespaces and root; -i/-t/-e/-u/-w; docker's exit
codes (127 not found, 126 cannot execute, 125 hull's own errors, else the process's)."""
import fcntl
import os
import pty
import re
import select
import shutil
import struct
import termios
import signal
import subprocess
import time

import pytest


def wait_for(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def ctr(bb):
    bb.run("run", "-d", "--name", "ex", "--cap-drop", "chown", "--cap-add", "sys_nice",
           "-m", "48m", "--pids-limit", "30", "busybox", "sleep", "300")
    pid = int(bb.out("inspect", "-f", "{{.State.Pid}}", "ex"))
    yield pid
    bb.run("rm", "-f", "ex", check=False)


def status_field(text, key):
    return next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith(key + ":"))


def test_exec_has_the_containers_capabilities(bb, ctr):
    init = open(f"/proc/{ctr}/status").read()
    mine = bb.out("exec", "ex", "cat", "/proc/self/status")
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
        assert status_field(mine, key) == status_field(init, key), key
    # the container's set, not root's full one: CHOWN (bit 0) dropped, SYS_NICE (23) added
    eff = int(status_field(mine, "CapEff"), 16)
    assert not eff & 1 and eff & (1 << 23)
    assert bb.run("exec", "ex", "chown", "1000", "/tmp", check=False).returncode != 0
    # another user gets none, as the container's own non-root processes
    assert status_field(bb.out("exec", "-u", "alice", "ex", "cat", "/proc/self/status"),
                        "CapEff") == "0000000000000000"


def test_exec_is_in_the_containers_cgroups_and_namespaces(bb, ctr):
    assert bb.out("exec", "ex", "cat", "/proc/self/cgroup") == open(f"/proc/{ctr}/cgroup").read()
    for ns in ("pid", "mnt", "net", "ipc", "uts"):
        inside = bb.out("exec", "ex", "readlink", f"/proc/self/ns/{ns}").strip()
        assert inside == os.readlink(f"/proc/{ctr}/ns/{ns}"), ns
    # counted by the container's pids cgroup while it runs
    p = subprocess.Popen([bb.binary, "exec", "ex", "sleep", "30"], env=bb.env)
    try:
        procs = None
        for line in open(f"/proc/{ctr}/cgroup").read().splitlines():
            _, ctls, path = line.split(":", 2)
            if "pids" in ctls.split(","):
                procs = f"/sys/fs/cgroup/pids{path}/cgroup.procs"
        if procs and os.path.exists(procs):
            assert wait_for(lambda: len(open(procs).read().split()) == 2)
    finally:
        p.kill()
        p.wait()


def test_exec_flags_and_exit_codes(bb, ctr):
    r = bb.run("exec", "-e", "EXTRA=1", "-w", "/tmp", "ex", "sh", "-c", "echo $EXTRA; pwd")
    assert r.stdout == "1\n/tmp\n"
    assert bb.out("exec", "-u", "alice", "ex", "id") == \
        "uid=1000(alice) gid=1000(alice) groups=10(wheel),100(users)\n"
    # the group given, plus the user's supplementary groups (as `run -u` and docker)
    assert bb.out("exec", "-u", "1000:100", "ex", "id", "-G").split() == ["100", "10"]
    r = bb.run("exec", "-i", "ex", "cat", input="piped\n")
    assert r.stdout == "piped\n"
    # without -i stdin is /dev/null
    assert bb.run("exec", "ex", "cat", input="not read\n").stdout == ""
    assert bb.run("exec", "ex", "sh", "-c", "exit 5", check=False).returncode == 5
    assert bb.run("exec", "ex", "sh", "-c", "kill -9 $$", check=False).returncode == 137
    for flags, cmd, code, msg in (([], "nope", 127, "executable file not found"),
                                  ([], "/etc/passwd", 126, "ermission denied"),
                                  (["-w", "/nonexistent"], "true", 126, "/nonexistent"),
                                  (["-w", "relative"], "true", 125, "absolute"),
                                  (["-u", "nobody2"], "true", 125, "unable to find user")):
        r = bb.run("exec", *flags, "ex", cmd, check=False)
        assert r.returncode == code, (flags, cmd, r.returncode, r.stderr)
        assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # nothing was left running by the failures
    assert len(bb.out("top", "ex").splitlines()) == 2


def test_exec_forwards_signals(bb, ctr):
    p = subprocess.Popen([bb.binary, "exec", "ex", "sleep", "30"], env=bb.env)
    # a line that ends in "sleep 30": the container's own "sleep 300" contains the words
    assert wait_for(lambda: any(l.rstrip().endswith(" sleep 30")
                                for l in bb.out("top", "ex").splitlines()))
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 128 + signal.SIGTERM


def test_exec_tty_twice(bb, ctr):
    if not shutil.which("script"):
        pytest.skip("script (util-linux) not installed")
    for i in range(2):
        r = subprocess.run(["script", "-qec", f"{bb.binary} exec -it ex sh", "/dev/null"],
                           input="tty\ntest -t 0 && echo stdin-is-a-tty\nexit 4\n",
                           capture_output=True, text=True, env=bb.env, timeout=30)
        assert r.returncode == 4, r.stdout
        # a pty of the container's own devpts: tty names it inside
        assert "/dev/pts/" in r.stdout and "stdin-is-a-tty" in r.stdout
    # the container's /dev/console is untouched by exec -t
    assert " /dev/console " not in bb.out("exec", "ex", "cat", "/proc/self/mountinfo")


class PtyExec:
    """`hull exec -it CTR sh` on a pty of python's own, as a user's terminal would run it."""

    def __init__(self, bb, *args, size=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            if size:
                self.resize_fd(0, *size)
            os.execve(bb.binary, [bb.binary, "exec", *args], bb.env)
        self.buf = b""

    @staticmethod
    def resize_fd(fd, rows, cols):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def resize(self, rows, cols):
        """As a terminal window does: the kernel sends SIGWINCH to hull exec."""
        self.resize_fd(self.fd, rows, cols)

    def send(self, data):
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def expect(self, pattern, timeout=15):
        """Read until pattern (a regex) is in the output; return the match."""
        end = time.time() + timeout
        rx = re.compile(pattern.encode())
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.time()
            assert left > 0, f"no {pattern!r} in {self.buf!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"hull exec ended; no {pattern!r} in {self.buf!r}"
                self.buf += chunk

    def wait(self, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.buf += os.read(self.fd, 4096)
                except OSError:
                    pass
        raise AssertionError(f"hull exec did not end: {self.buf!r}")

    def close(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def term(bb, ctr):
    t = PtyExec(bb, "-it", "ex", "sh")
    yield t
    t.close()


def test_exec_tty_is_the_controlling_terminal(bb, ctr, term):
    term.send("tty\n")
    assert term.expect(r"(/dev/pts/\d+)\r?\n").group(1)
    # field 7 of stat, tty_nr: the shell has a controlling terminal, and leads its session
    term.send("read pid comm st ppid pgrp sid ttynr rest < /proc/self/stat; "
              "echo ttynr=$((ttynr)) leader=$((sid == $$))\n")
    m = term.expect(r"ttynr=(\d+) leader=(\d)")
    assert int(m.group(1)) != 0 and m.group(2) == b"1"
    # ps's TT column names the shell's terminal (busybox: major,minor; 136 = pts), not "?"
    term.send("ps -o pid,tty | sed -n \"s/^ *$$ /$((6*7))tt=/p\"\n")
    assert term.expect(r"42tt=(\S+)").group(1).startswith(b"136,")
    term.send("exit 3\n")
    assert term.wait() == 3


def test_exec_tty_ctrl_c_interrupts_the_foreground_job(bb, ctr, term):
    term.send("echo ready-$((40+2))\n")
    term.expect("ready-42")
    term.send("sleep 100\n")
    assert wait_for(lambda: "sleep 100" in bb.out("top", "ex"))
    start = time.time()
    term.send("\x03")
    # the shell survives: the sleep is gone, and the shell answers with $? = 128 + SIGINT
    term.send("echo rc=$?\n")
    assert term.expect(r"rc=(\d+)").group(1) == b"130"
    assert time.time() - start < 10
    assert "sleep 100" not in bb.out("top", "ex")
    term.send("echo alive-$((1+1))\n")
    term.expect("alive-2")
    term.send("exit 0\n")
    assert term.wait() == 0


def test_exec_tty_exit_status(bb, ctr, term):
    term.send("exit 3\n")
    assert term.wait() == 3
    # the terminal came back out of raw mode and nothing is left in the container
    assert len(bb.out("top", "ex").splitlines()) == 2


def test_exec_tty_window_size(bb, ctr):
    t = PtyExec(bb, "-it", "ex", "sh", size=(33, 101))
    try:
        t.send("echo size=$(stty size | tr ' ' x)\n")
        t.expect(r"size=33x101")
        t.resize(41, 120)  # followed through SIGWINCH
        t.send("echo size=$(stty size | tr ' ' x)\n")
        t.expect(r"size=41x120")
        t.send("exit 0\n")
        assert t.wait() == 0
    finally:
        t.close()


def test_exec_in_a_stopped_container(bb):
    bb.run("run", "--name", "done", "busybox", "true")
    r = bb.run("exec", "done", "true", check=False)
    assert r.returncode == 125 and "is not running" in r.stderr


@pytest.mark.parametrize("caps", [["--cap-add", "sys_ptrace"], ["--privileged"]],
                         ids=["ptrace", "privileged"])
def test_exec_gives_the_container_no_way_to_the_host(bb, build, tmp_path, caps):
    """Issue 12 item 1 through `hull exec` (the runtime's half is tests/integration/oci/
    test_oci_exec_attack.py, which explains the probes): a container with CAP_SYS_PTRACE, or
    every capability, watches each exec'd process for the host's root, cwd, fds and the hull
    binary; up to 150 execs of `true` in 40 s, every attempt must fail."""
    watch = build / "tests/helpers/execwatch"
    if not watch.exists():
        pytest.skip("tests/helpers/execwatch not built")
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy2(watch, tools / "execwatch")
    secret = tmp_path / "host-only"
    secret.mkdir()
    (secret / "secret").write_text("host only\n")
    out = tmp_path / "out"
    out.mkdir()
    hull_id = "{0.st_dev}:{0.st_ino}".format(os.stat(os.path.realpath(bb.binary)))
    bb.run("run", "-d", "--name", "watched", *caps, "-v", f"{tools}:/tools:ro",
           "-v", f"{out}:/out", "busybox", "sh", "-c", 'exec /tools/execwatch "$@"', "sh", "/out/stop", "/out/result",
           str(secret / "secret"), "secret", hull_id)
    n = 0
    try:
        deadline = time.time() + 40
        while n < 150 and time.time() < deadline:
            r = bb.run("exec", "watched", "true", cwd=secret, check=False)
            assert r.returncode == 0, r.stderr
            n += 1
    finally:
        (out / "stop").write_text("")
        assert wait_for(lambda: (out / "result").exists(), timeout=30)
        bb.run("rm", "-f", "watched", check=False)
    res = {k: int(v) for k, v in (kv.split("=") for kv in (out / "result").read_text().split())}
    print(f"\nhull exec: {n} execs, watcher: {res}")
    assert res["pids"] > 0, "the watcher saw no exec'd process: the test proves nothing"
    holes = {k: res[k] for k in ("root", "create", "cwd", "fd", "exe_seen", "exe_write")
             if res[k]}
    assert not holes, f"hull exec: the container reached the host: {holes}"
    assert sorted(p.name for p in secret.iterdir()) == ["secret"]
