"""hull exec through the runtime's exec (oci_runtime_exec, in process): the process has the
container's capability sets, cgroups, namespaces and root; -i/-t/-e/-u/-w; docker's exit
codes (127 not found, 126 cannot execute, 125 hull's own errors, else the process's)."""
import os
import shutil
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
    assert wait_for(lambda: "sleep 30" in bb.out("top", "ex"))
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


def test_exec_in_a_stopped_container(bb):
    bb.run("run", "--name", "done", "busybox", "true")
    r = bb.run("exec", "done", "true", check=False)
    assert r.returncode == 125 and "is not running" in r.stderr
