"""exec: a new process in a running container (issue 4 item 5, item 7's exec racing the
container's exit), runc-compatible. Runs against any runtime (HULL_OCI_UNDER_TEST=runc);
checks on hull's own wording are guarded by rt.is_hull."""
import json
import os
import shlex
import signal
import subprocess
import time

import pytest

from ocilib import console_server, read_pty, sh, wait_cmdline

NS_KINDS = ("mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time")


def start_sleeper(rt, bundle, script="sleep 1000; exit 0"):
    bundle.set_args(*sh(script))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    st = rt.state(cid)
    wait_cmdline(st["pid"], b"/bin/sh")
    return cid, st["pid"]


def exec_detached(rt, cid, workdir, *args, extra=()):
    """exec -d --pid-file: returns the pid of the new process."""
    pidfile = workdir / f"exec-{time.monotonic_ns()}.pid"
    errf = workdir / "exec-stderr"
    # the detached process keeps our stdio (as with runc): no pipe of ours, or we would wait
    with open(errf, "w") as err:
        r = rt("exec", "-d", "--pid-file", str(pidfile), *extra, cid, *args,
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    assert r.returncode == 0, errf.read_text()
    return int(pidfile.read_text())


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_exec_joins_every_namespace_root_and_cgroup(rt, bundle, workdir):
    cid, init = start_sleeper(rt, bundle)
    pid = exec_detached(rt, cid, workdir, "/bin/sleep", "1000")
    wait_cmdline(pid, b"/bin/sleep")
    for ns in NS_KINDS:
        if os.path.exists(f"/proc/{init}/ns/{ns}"):
            assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    a, b = os.stat(f"/proc/{pid}/root/"), os.stat(f"/proc/{init}/root/")
    assert (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    with open(f"/proc/{pid}/cgroup") as f1, open(f"/proc/{init}/cgroup") as f2:
        assert f1.read() == f2.read()
    # non-dumpable runtime code is gone: the process is the program itself
    assert os.readlink(f"/proc/{pid}/exe").endswith("busybox")


def test_exec_sees_the_container(rt, bundle):
    (bundle.rootfs / "marker-in-rootfs").write_text("x")
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c",
           "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /marker-in-rootfs; pwd")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hulltest"
    assert lines[1].startswith("/bin/sh -c sleep 1000")
    assert lines[2] == "/marker-in-rootfs"
    assert lines[3] == "/"


@pytest.mark.parametrize("code", [0, 3, 125, 255])
def test_exec_exit_code(rt, bundle, code):
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", f"exit {code}")
    assert r.returncode == code, r.stderr


def test_exec_killed_is_128_plus_signal(rt, bundle):
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "kill -9 $$")
    assert r.returncode == 137


def test_exec_stdio(rt, bundle):
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "cat; echo to-err >&2", input="from-stdin\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "from-stdin\n"
    assert "to-err" in r.stderr


def test_exec_env_cwd_user(rt, bundle):
    bundle.config["process"]["env"].append("FROMCFG=cfg")
    bundle.config["process"]["env"].append("OVERRIDE=old")
    (bundle.rootfs / "work").mkdir()
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", "--env", "NEW=new", "--env", "OVERRIDE=new", "--cwd", "/work",
           "--user", "1000:1001", "--additional-gids", "2000", cid, "/bin/sh", "-c",
           "echo $FROMCFG $NEW $OVERRIDE; env | grep -c ^OVERRIDE=; pwd; id -u; id -g; "
           "cat /proc/self/status | grep ^Groups:")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "cfg new new"
    assert lines[1] == "1"
    assert lines[2] == "/work"
    assert lines[3:5] == ["1000", "1001"]
    assert lines[5].split()[1:] == ["2000"]


def test_exec_defaults_from_config(rt, bundle):
    """user, cwd, rlimits, noNewPrivileges and capabilities come from config.json."""
    bundle.config["process"]["user"] = {"uid": 123, "gid": 456}
    bundle.config["process"]["cwd"] = "/tmp"
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
    cid, init = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c",
           "id -u; id -g; pwd; ulimit -n; ulimit -Hn; grep -E '^(NoNewPrivs|CapBnd)' "
           "/proc/self/status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["123", "456", "/tmp"]
    assert lines[4] == "512"
    if rt.is_hull:  # runc 1.1.5 leaves Go's raised soft NOFILE limit (512) in exec
        assert lines[3] == "256"
    assert "NoNewPrivs:\t1" in lines
    assert f"CapBnd:\t{proc_status(init, 'CapBnd')}" in lines


def test_exec_cap_and_no_new_privs_options(rt, bundle):
    bundle.config["process"]["noNewPrivileges"] = False
    cid, init = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "grep -E '^(NoNewPrivs|CapBnd)' /proc/self/status")
    assert "NoNewPrivs:\t0" in r.stdout.splitlines()
    base = int(proc_status(init, "CapBnd"), 16)
    assert not base & (1 << 21)  # CAP_SYS_ADMIN is not in the default set
    r = rt("exec", "--no-new-privs", "--cap", "CAP_SYS_ADMIN", cid, "/bin/sh", "-c",
           "grep -E '^(NoNewPrivs|CapBnd|CapEff)' /proc/self/status")
    assert r.returncode == 0, r.stderr
    vals = dict(line.split(":\t") for line in r.stdout.splitlines())
    assert vals["NoNewPrivs"] == "1"
    assert int(vals["CapBnd"], 16) == base | (1 << 21)
    assert int(vals["CapEff"], 16) & (1 << 21)


def test_exec_process_file(rt, bundle, workdir):
    cid, _ = start_sleeper(rt, bundle)
    proc = {"args": ["/bin/sh", "-c", "echo $ONLY; pwd; id -u; exit 4"],
            "env": ["ONLY=from-file", "PATH=/bin"], "cwd": "/etc",
            "user": {"uid": 77, "gid": 77}}
    pf = workdir / "process.json"
    pf.write_text(json.dumps(proc))
    r = rt("exec", "--process", str(pf), cid)
    assert r.returncode == 4, r.stderr
    assert r.stdout.splitlines() == ["from-file", "/etc", "77"]


def test_exec_bad_process_file_names_the_field(rt, bundle, workdir):
    cid, _ = start_sleeper(rt, bundle)
    pf = workdir / "process.json"
    pf.write_text(json.dumps({"args": "not-a-list", "cwd": "/"}))
    r = rt("exec", "--process", str(pf), cid)
    assert r.returncode != 0
    if rt.is_hull:
        assert "process.json" in r.stderr and "args" in r.stderr, r.stderr


def test_exec_detach_pid_file(rt, bundle, workdir):
    cid, _ = start_sleeper(rt, bundle)
    t0 = time.monotonic()
    pid = exec_detached(rt, cid, workdir, "/bin/sleep", "77")
    assert time.monotonic() - t0 < 10
    wait_cmdline(pid, b"/bin/sleep\x0077")
    assert [p for p in os.listdir(workdir) if p.startswith(".") or "tmp" in p] == []
    # the process is in the container's pid namespace, a sibling of its init there
    with open(f"/proc/{pid}/status") as f:
        nspid = [ln for ln in f if ln.startswith("NSpid:")][0].split()[1:]
    assert len(nspid) == 2 and int(nspid[1]) > 1
    # it is one of the container's processes (its cgroup), not the caller's
    r = rt("ps", "--format", "json", cid)
    assert r.returncode == 0 and pid in json.loads(r.stdout), r.stdout


def test_exec_terminal_comes_from_the_command_line(rt, bundle):
    """config.json's process.terminal (a container made with -t) does not carry over to an
    exec without -t (runc)."""
    bundle.config["process"]["terminal"] = True
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle, check=False)
    if rt.status(cid) is None:  # create needs a console socket for that; use a plain one
        bundle.config["process"]["terminal"] = False
        bundle.write()
        rt.create(cid, bundle)
    bundle.config["process"]["terminal"] = True
    bundle.write()
    r = rt("exec", cid, "/bin/sh", "-c", "[ -t 1 ] && echo tty || echo no-tty")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "no-tty\n"


def test_exec_only_stdio_and_preserved_fds(rt, bundle, workdir):
    data = workdir / "fd3.txt"
    data.write_text("through-fd-3\n")
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "ls /proc/$$/fd; true")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["0", "1", "2"]
    cmd = shlex.join(rt.cmd("exec", "--preserve-fds", "1", cid, "/bin/sh", "-c",
                            "ls /proc/$$/fd; cat <&3"))
    r = subprocess.run(["/bin/sh", "-c", f"exec {cmd} 3<{data} 4<{data}"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sorted(lines[:-1]) == ["0", "1", "2", "3"]
    assert lines[-1] == "through-fd-3"


def test_exec_missing_executable(rt, bundle, workdir):
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "no-such-binary")
    assert r.returncode == 255
    assert "no-such-binary" in r.stderr and "not found" in r.stderr
    r = rt("exec", "-d", cid, "/bin/no-such-binary", stdin=subprocess.DEVNULL,
           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert r.returncode == 255
    assert "no-such-binary" in r.stderr


def test_exec_bad_cwd(rt, bundle):
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", "--cwd", "/no/such/dir", cid, "/bin/true")
    assert r.returncode == 255
    assert "/no/such/dir" in r.stderr


def test_exec_cwd_through_leaked_fd_stays_inside(rt, bundle):
    """CVE-2024-21626: a cwd of /proc/self/fd/N must not reach a runtime fd outside the
    container (runc 1.1.5 is vulnerable: hull only)."""
    if not rt.is_hull:
        pytest.skip("runc before 1.1.12 leaks an fd here")
    cid, _ = start_sleeper(rt, bundle)
    for n in range(3, 12):
        r = rt("exec", "--cwd", f"/proc/self/fd/{n}", cid, "/bin/sh", "-c", "pwd; ls ..")
        assert r.returncode != 0 or not r.stdout.startswith("/proc/self/fd"), r.stdout
        assert "sys" not in r.stdout.split() or r.returncode != 0


def test_exec_bad_options(rt, bundle):
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid)
    assert r.returncode != 0
    r = rt("exec", "--user", "root:x", cid, "/bin/true")
    assert r.returncode != 0
    r = rt("exec", "-t", "-d", cid, "/bin/true", stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert "console" in r.stderr.lower()
    if rt.is_hull:
        r = rt("exec", "-e", "NOEQUALS", cid, "/bin/true")
        assert r.returncode == 255 and "NOEQUALS" in r.stderr
        r = rt("exec", "-e", "A=1", "--env", "B=2", cid, "/bin/true")
        assert r.returncode == 0, r.stderr
        r = rt("exec", "--cap", "CAP_NOPE", cid, "/bin/true")
        assert r.returncode == 255 and "CAP_NOPE" in r.stderr


def test_exec_unknown_container(rt):
    r = rt("exec", "no-such-ctr", "/bin/true")
    assert r.returncode != 0
    assert "not exist" in r.stderr or "no-such-ctr" in r.stderr


def test_exec_into_created_container(rt, bundle):
    """runc allows exec before start; so does hull-oci."""
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "echo in-created")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "in-created\n"
    assert rt.status(cid) == "created"


def test_exec_into_stopped_container_fails(rt, bundle):
    cid, init = start_sleeper(rt, bundle)
    assert rt("kill", cid, "KILL").returncode == 0
    rt.wait_status(cid, "stopped")
    r = rt("exec", cid, "/bin/true")
    assert r.returncode == 255
    assert "stopped" in r.stderr


def test_exec_into_paused_container_fails(rt, bundle):
    cid, _ = start_sleeper(rt, bundle)
    p = rt("pause", cid)
    if p.returncode != 0:
        pytest.skip(f"pause not available: {p.stderr.strip()}")
    try:
        r = rt("exec", cid, "/bin/true", timeout=20)
        assert r.returncode == 255
        assert "paused" in r.stderr
    finally:
        rt("resume", cid)


def test_exec_forwards_signals(rt, bundle):
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 does not pass SIGTERM on to a non-tty exec here")
    cid, _ = start_sleeper(rt, bundle)
    p = subprocess.Popen(rt.cmd("exec", cid, "/bin/sh", "-c", "echo ready; sleep 1000 & wait"),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        p.kill()
        p.wait()


def test_exec_tty_console_socket(rt, bundle, workdir):
    sock_path = str(workdir / "exec-console.sock")
    srv, t, got = console_server(sock_path)
    cid, _ = start_sleeper(rt, bundle)
    try:
        r = rt("exec", "-t", "-d", "--console-socket", sock_path, cid, "/bin/sh", "-c",
               "tty; [ -t 0 ] && [ -t 1 ] && echo is-a-tty; sleep 0.2",
               stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        t.join(timeout=10)
        assert got.get("fds"), "no pty master received"
        lines = read_pty(got["fds"][0]).splitlines()
        assert lines[0].startswith("/dev/pts/"), lines
        assert "is-a-tty" in lines
        # the exec's pty was not mounted anywhere (/dev/console is the container's)
        r = rt("exec", cid, "/bin/sh", "-c", "grep -c ' /dev/console ' /proc/self/mountinfo"
               " || true")
        assert r.stdout.strip() == "0", r.stdout
    finally:
        srv.close()
        for fd in got.get("fds", []):
            os.close(fd)


def test_exec_joins_the_recorded_cgroups(rt, bundle):
    """The cgroups are those the runtime recorded at create, as runc does: move the init by
    hand into a v1 (pids) and the v2 (unified) hierarchy and the exec'd process stays in the
    container's cgroup (hull followed the init's /proc/<pid>/cgroup before issue 14)."""
    cid, init = start_sleeper(rt, bundle)
    before = rt("exec", cid, "/bin/cat", "/proc/self/cgroup")
    assert before.returncode == 0, before.stderr
    made = []
    for top in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.isdir(top) and os.path.exists(f"{top}/cgroup.procs") and \
                not any(m.startswith(top + "/") or top.startswith(m + "/") for m in made):
            d = f"{top}/hull-exec-{cid}"
            os.mkdir(d)
            made.append(d)
            with open(f"{d}/cgroup.procs", "w") as f:
                f.write(str(init))
    if not made:
        pytest.skip("no writable cgroup hierarchy")
    try:
        r = rt("exec", cid, "/bin/cat", "/proc/self/cgroup")
        assert r.returncode == 0, r.stderr
        assert f"/hull-exec-{cid}" not in r.stdout, r.stdout
        assert r.stdout == before.stdout
    finally:
        rt("delete", "--force", cid)
        for d in made:
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)


def test_exec_racing_container_exit(rt, bundle):
    """execs started while the container's init exits: each ends promptly with success, the
    killed status, or a clear error; none hangs and nothing stays behind."""
    bundle.set_args(*sh("sleep 0.3"))
    results = []
    for round_ in range(4):
        cid = rt.new_id()
        rt.run_detached(cid, bundle)
        procs = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and len(procs) < 12:
            procs.append(subprocess.Popen(
                rt.cmd("exec", cid, "/bin/sh", "-c", "sleep 5"),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True))
            time.sleep(0.1)
        for p in procs:
            try:
                _out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                raise AssertionError("exec hung while the container exited")
            results.append((p.returncode, err))
            assert p.returncode in (0, 137, 255, 128 + 15), (p.returncode, err)
            if p.returncode == 255 and rt.is_hull:  # runc: "write init-p: broken pipe"
                assert "stopped" in err or "exited" in err or "not running" in err, err
        rt.wait_status(cid, "stopped")
        rt("delete", cid)
    # a `sleep 5` exec that succeeded was killed with the pid namespace (137), never left
    assert any(code in (137, 255) for code, _ in results), results


@pytest.mark.parametrize("nnp,user", [(True, 0), (False, 1000), (False, 0)])
def test_exec_gets_the_containers_seccomp_filter(rt, bundle, nnp, user):
    """linux.seccomp applies to exec'd processes too, with or without no_new_privs (then the
    runtime needs CAP_SYS_ADMIN to load it, even for a non-root user)."""
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 38}],
    }
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", "--user", f"{user}:{user}", cid, "/bin/sh", "-c",
           "mkdir /tmp/denied; echo rc=$?; grep -E '^(Seccomp|NoNewPrivs|CapEff|CapPrm):' "
           "/proc/self/status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "rc=1" in lines
    assert "not implemented" in r.stderr.lower()  # ENOSYS (38)
    assert "Seccomp:\t2" in lines
    assert f"NoNewPrivs:\t{int(nnp)}" in lines
    caps = dict(ln.split(":\t") for ln in lines if ln.startswith("Cap"))
    if user:
        assert caps["CapEff"] == "0000000000000000"  # CAP_SYS_ADMIN did not survive
    else:
        assert not int(caps["CapEff"], 16) & (1 << 21)  # not in the config's sets
        assert int(caps["CapEff"], 16) != 0
    assert not (bundle.rootfs / "tmp/denied").exists()


def test_exec_joins_the_time_namespace(rt, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    bundle.set_args(*sh("sleep 1000; exit 0"))
    cid = rt.new_id()
    r = rt.run_detached(cid, bundle, check=False)
    if r.returncode != 0:
        pytest.skip(f"{rt.name}: no time namespace support: {r.stderr.strip()}")
    r = rt("exec", cid, "/bin/cat", "/proc/uptime")
    assert r.returncode == 0, r.stderr
    with open("/proc/uptime") as f:
        host = float(f.read().split()[0])
    assert float(r.stdout.split()[0]) - host > 86400 * 364


def test_exec_without_pid_namespace(rt, bundle):
    """A container sharing the host's pid namespace: the exec'd process is a plain host
    process in the container's other namespaces."""
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                            if n["type"] != "pid"]
    cid, init = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "hostname; echo $$")
    assert r.returncode == 0, r.stderr
    host, pid = r.stdout.split()
    assert host == "hulltest"
    assert int(pid) > 1 and int(pid) != init


def test_exec_scheduler_and_personality(rt, bundle, workdir):
    """process.scheduler / ioPriority and linux.personality apply to exec'd processes too
    (runtime-spec 1.2 fields: runc 1.1.5 ignores them)."""
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 does not implement these runtime-spec 1.2 fields")
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": 7}
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", "uname -m; cat /proc/self/stat")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] in ("i686", "i386")
    assert int(lines[1][lines[1].rindex(")") + 2:].split()[16]) == 7
    proc = {"args": ["/bin/sh", "-c", "cat /proc/self/stat"], "cwd": "/",
            "scheduler": {"policy": "SCHED_BATCH", "nice": 3}}
    pf = workdir / "sched.json"
    pf.write_text(json.dumps(proc))
    r = rt("exec", "--process", str(pf), cid)
    assert r.returncode == 0, r.stderr
    f = r.stdout[r.stdout.rindex(")") + 2:].split()
    assert (int(f[16]), int(f[38])) == (3, 3)


HOSTILE_PROCESS = [
    ("not-json", "{\"args\": [", ["process.json"]),
    ("empty-args", json.dumps({"args": [], "cwd": "/"}), ["process.json", "args"]),
    ("relative-cwd", json.dumps({"args": ["/bin/true"], "cwd": "tmp"}), ["process.json", "cwd"]),
    ("bad-env", json.dumps({"args": ["/bin/true"], "cwd": "/", "env": ["NOEQ"]}),
     ["process.json", "env[0]"]),
    ("huge", "{\"args\": [\"" + "a" * (5 << 20) + "\"], \"cwd\": \"/\"}", ["process.json"]),
]


@pytest.mark.parametrize("name,content,words", HOSTILE_PROCESS,
                         ids=[h[0] for h in HOSTILE_PROCESS])
def test_exec_hostile_process_file(rt, bundle, workdir, name, content, words):
    cid, init = start_sleeper(rt, bundle)
    before = json.loads(rt("ps", "--format", "json", cid).stdout)
    pf = workdir / "process.json"
    pf.write_text(content)
    r = rt("exec", "--process", str(pf), cid)
    assert r.returncode != 0
    if rt.is_hull:
        assert r.returncode == 255
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        for w in words:
            assert w in r.stderr, r.stderr
    # nothing was started in the container
    r = rt("ps", "--format", "json", cid)
    assert json.loads(r.stdout) == before


def test_exec_joins_the_containers_session_keyring(rt, bundle):
    """Not the caller's keyring: the init's own, named after the container, which the init
    gave user search permission (as runc) so that exec joins it rather than making a second
    one (runc 1.1.5's keyrings do not show in /proc/keys here: checked on hull only)."""
    cid, pid = start_sleeper(rt, bundle)
    r = rt("exec", cid, "/bin/sh", "-c", f"grep -c ' keyring  *{cid}: ' /proc/keys || true")
    assert r.returncode == 0, r.stderr
    if rt.is_hull:
        assert int(r.stdout.strip()) == 1, r.stdout


@pytest.mark.sandbox
def test_exec_on_a_cgroup_v2_host(rt, bundle, workdir):
    """The same joins on a pure cgroup v2 host (the sandbox VM)."""
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("not a cgroup v2 host")
    test_exec_joins_every_namespace_root_and_cgroup(rt, bundle, workdir)


def test_exec_process_file_terminal_console_size(rt, bundle, workdir):
    srv, t, got = console_server(str(workdir / "size.sock"))
    cid, _ = start_sleeper(rt, bundle)
    pf = workdir / "tty.json"
    pf.write_text(json.dumps({"terminal": True, "consoleSize": {"height": 33, "width": 101},
                              "args": ["/bin/sh", "-c", "stty size; sleep 0.2"], "cwd": "/"}))
    try:
        r = rt("exec", "-d", "--console-socket", str(workdir / "size.sock"), "--process",
               str(pf), cid, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        t.join(timeout=10)
        assert got.get("fds"), "no pty master received"
        assert read_pty(got["fds"][0]).splitlines()[0] == "33 101"
    finally:
        srv.close()
        for fd in got.get("fds", []):
            os.close(fd)


def test_exec_seccomp_before_the_uid_switch(rt, bundle):
    """A non-root exec without process.capabilities and without no_new_privs keeps nothing
    that seccomp(2) needs: the filter goes in before the uid switch (runc's order)."""
    proc = bundle.config["process"]
    del proc["capabilities"]
    proc["noNewPrivileges"] = False
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 38}],
    }
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", "--user", "1000:1000", cid, "/bin/sh", "-c",
           "mkdir /tmp/denied; echo rc=$?; grep -E '^(Seccomp|CapEff):' /proc/self/status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "rc=1" in lines and "Seccomp:\t2" in lines, lines
    assert "CapEff:\t0000000000000000" in lines
    assert not (bundle.rootfs / "tmp/denied").exists()


def test_exec_seccomp_denying_execve(rt, bundle):
    """The filter is loaded right before the program's execve: a profile that denies execve
    fails the exec with the command named (into a created container, whose own waiter has
    not loaded it yet)."""
    if not rt.is_hull:
        pytest.skip("hull's wording")
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO"}],
    }
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    r = rt("exec", cid, "/bin/true")
    assert r.returncode == 255, r.stderr
    assert "/bin/true" in r.stderr and "not permitted" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("early", [False, True], ids=["waiter", "before-uid-switch"])
def test_exec_seccomp_listener_gets_the_exec(rt, bundle, workdir, early):
    """SCMP_ACT_NOTIFY in exec: a second connection to listenerPath brings the notify fd of
    the exec'd process's filter, with that process's pid in the state; also when the filter
    goes in before the uid switch (non-root, no capabilities object, no no_new_privs)."""
    import errno
    from seclib import Listener
    extra = ()
    if early:
        del bundle.config["process"]["capabilities"]
        bundle.config["process"]["noNewPrivileges"] = False
        extra = ("--user", "1000:1000")
    lp = workdir / "agent.sock"
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(lp),
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }
    init_agent = Listener(lp, errno.EROFS)
    exec_agent = None
    try:
        cid, _ = start_sleeper(rt, bundle)
        deadline = time.monotonic() + 10
        while init_agent.state is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert init_agent.state is not None, "the init never reached the listener"
        os.unlink(lp)  # the init's agent keeps its socket; the exec finds a new one
        exec_agent = Listener(lp, errno.ENOSPC)
        pid = exec_detached(rt, cid, workdir, "/bin/sh", "-c",
                            "mkdir /tmp/d 2>/tmp/err; sleep 1000", extra=extra)
        deadline = time.monotonic() + 10
        while not (bundle.rootfs / "tmp/err").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        assert os.strerror(errno.ENOSPC) in (bundle.rootfs / "tmp/err").read_text()
        st = exec_agent.state
        assert st["fds"] == ["seccompFd"] and st["state"]["id"] == cid, st
        if rt.is_hull:
            assert st["pid"] == pid, (st, pid)
    finally:
        for a in (init_agent, exec_agent):
            if a:
                a.sock.close()
        rt("delete", "--force", cid)
        for a in (init_agent, exec_agent):
            if a:
                a.close()


@pytest.mark.parametrize("sched,want", [
    ({"policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
     os.SCHED_BATCH | os.SCHED_RESET_ON_FORK),
    ({"policy": "SCHED_DEADLINE", "runtime": 1000000, "deadline": 10000000,
      "period": 10000000}, 6),
], ids=["reset-on-fork", "deadline"])
def test_exec_scheduler_that_a_fork_drops(rt, bundle, workdir, sched, want):
    """A scheduler that a fork does not pass on (reset-on-fork) or forbids (SCHED_DEADLINE)
    still reaches the exec'd process, which the runtime forks (hull only: a runtime-spec
    1.2 field)."""
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 does not implement process.scheduler")
    cid, _ = start_sleeper(rt, bundle)
    pf = workdir / "sched.json"
    pf.write_text(json.dumps({"args": ["/bin/sleep", "1000"], "cwd": "/", "scheduler": sched}))
    pid = exec_detached(rt, cid, workdir, extra=("--process", str(pf)))
    wait_cmdline(pid, b"/bin/sleep")
    assert os.sched_getscheduler(pid) == want


def test_exec_nproc_limit_counts_the_process_not_the_runtime(rt, bundle):
    """RLIMIT_NPROC 1 for a non-root user: the exec'd process still starts (the runtime's own
    fork must not count against it) and has the limit."""
    bundle.config["process"]["rlimits"].append({"type": "RLIMIT_NPROC", "hard": 1, "soft": 1})
    cid, _ = start_sleeper(rt, bundle)
    r = rt("exec", "--user", "1000:1000", cid, "/bin/sh", "-c", "ulimit -u; ulimit -Hu")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1"]
