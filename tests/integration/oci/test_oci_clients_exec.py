"""Real clients on exec and terminals (issue 4 item 8): `podman run -it` driven through a pty,
`podman exec` (interactive and not) and containerd's `ctr tasks exec`, with the runtime under
test. The podman and containerd set-ups (private state in tmp dirs, torn down whatever
happens) are the fixtures of test_oci_clients.py."""
import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time
import uuid

import pytest

from ocilib import wait_cmdline
from test_oci_clients import (Containerd, clientdir, containerd, ctr_run,  # noqa: F401
                              podman, rootfs_tar)

pytestmark = pytest.mark.slow

IMAGE = "localhost/hullbb:latest"


class PtySession:
    """A command on the slave side of a new pty, as a terminal user would run it."""

    def __init__(self, argv, env=None):
        self.master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO  # no local echo: only the container's output comes back
        termios.tcsetattr(slave, termios.TCSANOW, attrs)

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=ctty, env=env, close_fds=True)
        os.close(slave)
        self.out = b""

    def send(self, text):
        os.write(self.master, text.encode())

    def expect(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; output so far: {self.out!r}")
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the slave side is closed
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"EOF before {needle!r}; output: {self.out!r}")
                self.out += chunk
        return self.out

    def wait(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.wait(timeout=1)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


def podman_argv(p, *args):
    return ["podman", "--root", str(p.base / "root"), "--runroot", str(p.base / "runroot"),
            "--storage-driver", "vfs", "--tmpdir", str(p.base / "tmp"),
            "--cgroup-manager", "cgroupfs", "--runtime", p.runtime, *args]


@pytest.fixture
def podman_sleeper(podman):
    name = f"hullx-{uuid.uuid4().hex[:8]}"
    r = podman(*podman.run_args("-d", "--name", name, IMAGE, "/bin/sh", "-c",
                                "sleep 1000; exit 0"))
    assert r.returncode == 0, r.stderr
    pid = podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    wait_cmdline(int(pid), b"/bin/sh")
    yield name
    podman("rm", "--force", "--time", "0", name, timeout=60)


def test_podman_run_it_through_a_pty(podman):
    s = PtySession(podman_argv(podman, *podman.run_args("--rm", "-it", IMAGE, "/bin/sh")),
                   env=podman.env)
    try:
        s.send("echo marker-$((6*7)); tty; stty size\n")
        s.expect("marker-42")
        s.expect("/dev/pts/")
        s.send("exit 5\n")
        assert s.wait() == 5, s.out
    finally:
        s.close()


def test_podman_exec(podman, podman_sleeper):
    name = podman_sleeper
    r = podman("exec", name, "/bin/sh", "-c",
               "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; id -u")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("/bin/sh -c sleep 1000")
    assert lines[2] == "0"
    r = podman("exec", "--user", "1000:1000", "-e", "XV=exec-env", "--workdir", "/tmp", name,
               "/bin/sh", "-c", "id -u; echo $XV; pwd; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout.splitlines() == ["1000", "exec-env", "/tmp"]


def test_podman_exec_missing_command_is_127(podman, podman_sleeper):
    r = podman("exec", podman_sleeper, "/bin/no-such-command")
    assert r.returncode == 127, (r.stdout, r.stderr)


def test_podman_exec_stdin(podman, podman_sleeper):
    r = subprocess.run(podman_argv(podman, "exec", "-i", podman_sleeper, "/bin/sh", "-c",
                                   "cat; echo done"),
                       input="piped-in\n", capture_output=True, text=True, timeout=120,
                       env=podman.env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["piped-in", "done"]


def test_podman_exec_it_through_a_pty(podman, podman_sleeper):
    s = PtySession(podman_argv(podman, "exec", "-it", podman_sleeper, "/bin/sh"),
                   env=podman.env)
    try:
        s.send("[ -t 0 ] && echo tty-$((2+3)); tty\n")
        s.expect("tty-5")
        s.expect("/dev/pts/")
        s.send("exit 6\n")
        assert s.wait() == 6, s.out
    finally:
        s.close()


def test_podman_exec_detached(podman, podman_sleeper):
    r = podman("exec", "-d", podman_sleeper, "/bin/sh", "-c", "echo bg > /tmp/bg; sleep 1000")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = podman("exec", podman_sleeper, "/bin/cat", "/tmp/bg")
        if r.returncode == 0 and r.stdout == "bg\n":
            break
        time.sleep(0.2)
    assert r.stdout == "bg\n", r.stderr
    r = podman("top", podman_sleeper, "args", runtime=False)
    assert "sleep 1000" in r.stdout


def test_ctr_task_exec(containerd):
    c = containerd
    cid = f"hullc-{uuid.uuid4().hex[:8]}"
    r = ctr_run(c, "-d", Containerd.IMAGE, cid, "/bin/sh", "-c", "sleep 1000; exit 0")
    assert r.returncode == 0, r.stderr
    try:
        r = c.ctr("tasks", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c",
                  "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo in-ctr-exec; exit 6")
        assert r.returncode == 6, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("/bin/sh -c sleep 1000")
        assert lines[1] == "in-ctr-exec"
        r = c.ctr("tasks", "exec", "--exec-id", "e2", cid, "/bin/cat", input="ctr-stdin\n")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "ctr-stdin\n"
        r = c.ctr("tasks", "exec", "--exec-id", "e3", cid, "/bin/no-such-command")
        assert r.returncode != 0
    finally:
        c.ctr("tasks", "kill", "-s", "SIGKILL", cid, timeout=30)
        c.ctr("tasks", "rm", "-f", cid, timeout=30)
        c.ctr("containers", "rm", cid, timeout=30)


def test_ctr_task_exec_tty(containerd):
    c = containerd
    cid = f"hullc-{uuid.uuid4().hex[:8]}"
    r = ctr_run(c, "-d", Containerd.IMAGE, cid, "/bin/sh", "-c", "sleep 1000; exit 0")
    assert r.returncode == 0, r.stderr
    s = PtySession(["ctr", "--address", c.sock, "--namespace", c.ns, "tasks", "exec", "-t",
                    "--exec-id", "t1", cid, "/bin/sh"])
    try:
        s.send("[ -t 0 ] && echo ctr-tty-$((3*3)); exit 7\n")
        s.expect("ctr-tty-9")
        assert s.wait() == 7, s.out
    finally:
        s.close()
        c.ctr("tasks", "kill", "-s", "SIGKILL", cid, timeout=30)
        c.ctr("tasks", "rm", "-f", cid, timeout=30)
        c.ctr("containers", "rm", cid, timeout=30)


def test_podman_userns_run_and_exec(podman):
    """--uidmap/--gidmap: podman writes the mappings into config.json, the runtime sets the
    user namespace up; exec joins it."""
    name = f"hullu-{uuid.uuid4().hex[:8]}"
    r = podman(*podman.run_args("-d", "--name", name, "--uidmap", "0:200000:65536",
                                "--gidmap", "0:200000:65536", IMAGE, "/bin/sh", "-c",
                                "sleep 1000; exit 0"))
    assert r.returncode == 0, r.stderr
    try:
        pid = int(podman("inspect", "--format", "{{.State.Pid}}", name).stdout)
        wait_cmdline(pid, b"/bin/sh")
        with open(f"/proc/{pid}/status") as f:
            uids = [ln.split()[1:] for ln in f if ln.startswith("Uid:")][0]
        assert uids == ["200000"] * 4
        r = podman("exec", name, "/bin/sh", "-c", "id -u; cat /proc/self/uid_map")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "0"
        assert lines[1].split() == ["0", "200000", "65536"]
    finally:
        podman("rm", "--force", "--time", "0", name, timeout=60)
