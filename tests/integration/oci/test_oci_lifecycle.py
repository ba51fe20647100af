"""Lifecycle and command line of the OCI runtime (issue 2 items 2 and 3), runc-compatible."""
import json
import os
import pathlib
import subprocess
import time

import pytest

from ocilib import console_server, read_pty, sh, wait_cmdline


def test_version(rt):
    r = rt("--version")
    assert r.returncode == 0
    if rt.is_hull:
        assert r.stdout.startswith("hull-oci version ")
    assert r.stdout.splitlines()[0].startswith(rt.name.split("-")[0])
    assert "version" in r.stdout.splitlines()[0]


def test_run_true_exits_zero(rt, bundle):
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr


def test_run_output_reaches_stdout(rt, bundle):
    bundle.set_args(*sh("echo out-line; echo err-line >&2"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "out-line\n"
    assert "err-line" in r.stderr


def test_run_stdin_reaches_process(rt, bundle):
    bundle.set_args("/bin/cat")
    r = rt.run(rt.new_id(), bundle, input="from-stdin\n")
    assert r.stdout == "from-stdin\n"


@pytest.mark.parametrize("code", [1, 7, 125, 255])
def test_run_exit_code_propagates(rt, bundle, code):
    bundle.set_args(*sh(f"exit {code}"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == code, r.stderr


def test_run_killed_exits_128_plus_signal(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    p = subprocess.Popen(rt.cmd("run", "--bundle", str(bundle.path), cid),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        rt.wait_status(cid, "running")
        assert rt("kill", cid, "KILL").returncode == 0
        p.wait(timeout=20)
        assert p.returncode == 128 + 9
    finally:
        p.kill()
        p.wait()


def test_run_after_process_exit_deletes_container(rt, bundle):
    cid = rt.new_id()
    assert rt.run(cid, bundle).returncode == 0
    assert rt("state", cid).returncode != 0
    assert not (rt.root / cid).exists()


def test_lifecycle_states_and_state_json(rt, bundle):
    bundle.set_args(*sh("touch /started; sleep 1000"))
    cid = rt.new_id()
    rt.create(cid, bundle)
    st = rt.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid
    assert st["ociVersion"]
    assert st["pid"] > 0 and os.path.exists(f"/proc/{st['pid']}")
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    # the process is blocked before exec: the command has not run yet
    time.sleep(0.3)
    assert not (bundle.rootfs / "started").exists()
    assert rt.status(cid) == "created"

    assert rt("start", cid).returncode == 0
    rt.wait_status(cid, "running")
    deadline = time.monotonic() + 10
    while not (bundle.rootfs / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (bundle.rootfs / "started").exists()
    assert rt.state(cid)["pid"] == st["pid"]

    assert rt("kill", cid, "KILL").returncode == 0
    rt.wait_status(cid, "stopped")
    assert rt("delete", cid).returncode == 0
    assert rt("state", cid).returncode != 0


def test_start_twice_fails(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    assert rt("start", cid).returncode == 0
    assert rt("start", cid).returncode != 0
    assert rt.status(cid) == "running"


def test_state_dir_under_root_and_removed_by_delete(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    assert cid in os.listdir(rt.root)
    assert rt("delete", "--force", cid).returncode == 0
    assert cid not in os.listdir(rt.root)


def test_state_of_unknown_container_fails(rt):
    r = rt("state", "no-such-container")
    assert r.returncode != 0
    assert r.stderr.strip()


def test_pid_file(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    pidfile = bundle.path / "pidfile"
    rt.create(cid, bundle, "--pid-file", str(pidfile))
    assert int(pidfile.read_text().strip()) == rt.state(cid)["pid"]


def test_run_pid_file_and_detach(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    pidfile = bundle.path / "run.pid"
    t0 = time.monotonic()
    rt.run_detached(cid, bundle, "--pid-file", str(pidfile))
    assert time.monotonic() - t0 < 10
    st = rt.state(cid)
    assert st["status"] == "running"
    assert int(pidfile.read_text()) == st["pid"]
    assert wait_cmdline(st["pid"], b"/bin/sleep\x001000\x00")


def test_list_table_and_json(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    r = rt("list")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    row = [ln.split() for ln in lines[1:] if ln.split() and ln.split()[0] == cid]
    assert row and row[0][2] == "created"
    assert int(row[0][1]) == rt.state(cid)["pid"]

    r = rt("list", "--format", "json")
    assert r.returncode == 0
    items = json.loads(r.stdout)
    mine = [c for c in items if c["id"] == cid]
    assert len(mine) == 1
    c = mine[0]
    assert c["status"] == "created"
    assert c["pid"] == rt.state(cid)["pid"]
    assert os.path.realpath(c["bundle"]) == os.path.realpath(bundle.path)
    assert "created" in c and "owner" in c


def test_list_empty_root(rt):
    r = rt("list", "--format", "json")
    assert r.returncode == 0
    assert json.loads(r.stdout) in ([], None)


def test_ps_lists_container_processes(rt, bundle):
    bundle.set_args(*sh("sleep 1000 & sleep 1000 & wait"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    init = rt.state(cid)["pid"]
    deadline = time.monotonic() + 10
    pids = []
    while time.monotonic() < deadline:
        r = rt("ps", "--format", "json", cid)
        assert r.returncode == 0, r.stderr
        pids = json.loads(r.stdout)
        if len(pids) >= 3:
            break
        time.sleep(0.1)
    assert init in pids and len(pids) == 3
    r = rt("ps", cid)
    assert r.returncode == 0
    assert "PID" in r.stdout.splitlines()[0]
    assert str(init) in r.stdout


def wait_content(path, want, timeout=5.0):
    """Poll path until it holds want (a writer may have created it but not written yet)."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        try:
            got = path.read_text()
        except FileNotFoundError:
            got = None
        if got == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path}: {got!r}, wanted {want!r}")


def test_kill_by_name_number_and_sig_prefix(rt, bundle):
    script = "trap 'echo got-term > /trap; exit 3' TERM; trap 'echo got-usr1 > /trap' USR1; " \
             "echo ready > /ready; while true; do sleep 0.1; done"
    bundle.set_args(*sh(script))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    wait_content(bundle.rootfs / "ready", "ready\n")  # the traps are in place
    for sig in ("USR1", "10", "SIGUSR1"):
        (bundle.rootfs / "trap").unlink(missing_ok=True)
        assert rt("kill", cid, sig).returncode == 0, sig
        wait_content(bundle.rootfs / "trap", "got-usr1\n")
    assert rt.status(cid) == "running"
    assert rt("kill", cid).returncode == 0  # default SIGTERM
    rt.wait_status(cid, "stopped")
    assert (bundle.rootfs / "trap").read_text() == "got-term\n"


def test_kill_bad_signal_fails(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    for sig in ("NOSUCHSIG", "RTMIN+31", "RTMIN3", "65", "0"):
        r = rt("kill", cid, sig)
        assert r.returncode != 0, sig
        if rt.is_hull:
            assert f'unknown signal "{sig}"' in r.stderr and r.stderr.count("\n") == 1
    assert rt.status(cid) == "running"


def test_kill_realtime_signals_by_name(rt, bundle):
    """SIGRTMIN+3 and friends, as `kill -l` names them (glibc's SIGRTMIN is 34)."""
    script = "trap 'echo got-37 > /trap' 37; trap 'echo got-62 > /trap' 62; " \
             "echo ready > /ready; while true; do sleep 0.1; done"
    bundle.set_args(*sh(script))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    wait_content(bundle.rootfs / "ready", "ready\n")
    for sig, want in (("SIGRTMIN+3", 37), ("rtmin+3", 37), ("RTMAX-2", 62), ("SIGRTMAX-2", 62)):
        (bundle.rootfs / "trap").unlink(missing_ok=True)
        assert rt("kill", cid, sig).returncode == 0, sig
        wait_content(bundle.rootfs / "trap", f"got-{want}\n")
    assert rt("kill", cid, "KILL").returncode == 0


def test_kill_all(rt, bundle):
    bundle.set_args(*sh("sleep 1000 & sleep 1000 & wait"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    deadline = time.monotonic() + 10
    pids = []
    while len(pids) < 3 and time.monotonic() < deadline:
        pids = json.loads(rt("ps", "--format", "json", cid).stdout)
        time.sleep(0.1)
    assert len(pids) == 3
    assert rt("kill", "--all", cid, "KILL").returncode == 0
    rt.wait_status(cid, "stopped")
    time.sleep(0.2)
    for p in pids:
        assert not os.path.exists(f"/proc/{p}") or \
            open(f"/proc/{p}/stat").read().split(")")[1].split()[0] == "Z"


def test_delete_running_needs_force(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    r = rt("delete", cid)
    assert r.returncode != 0
    assert r.stderr.strip()
    assert rt.status(cid) == "running"
    assert rt("delete", "--force", cid).returncode == 0
    assert rt("state", cid).returncode != 0
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}/cmdline") and time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if not f.read():
                break
        time.sleep(0.05)
    assert not pathlib.Path(f"/proc/{pid}/cmdline").exists() or \
        pathlib.Path(f"/proc/{pid}/cmdline").read_bytes() == b""


def test_delete_stopped_without_force(rt, bundle):
    bundle.set_args("/bin/true")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    rt.wait_status(cid, "stopped")
    assert rt("delete", cid).returncode == 0
    assert cid not in os.listdir(rt.root)


def test_delete_unknown_fails_and_force_is_quiet(rt):
    assert rt("delete", "nope-none").returncode != 0
    assert rt("delete", "--force", "nope-none").returncode == 0


def test_features_json(rt):
    r = rt("features")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["ociVersionMin"].startswith("1.")
    assert f["ociVersionMax"].startswith("1.")
    assert set(f["hooks"]) >= {"prestart", "createRuntime", "createContainer",
                               "startContainer", "poststart", "poststop"}
    assert {"bind", "rbind", "ro", "nosuid", "nodev", "noexec"} <= set(f["mountOptions"])
    assert {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"} <= \
        set(f["linux"]["namespaces"])


def test_spec_writes_default_config(rt, workdir):
    d = workdir / "specdir"
    d.mkdir()
    r = rt("spec", cwd=d)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["ociVersion"].startswith("1.")
    assert cfg["root"]["path"] == "rootfs"
    assert cfg["process"]["args"]
    assert {n["type"] for n in cfg["linux"]["namespaces"]} >= {"pid", "mount"}
    # a second spec refuses to overwrite
    r = rt("spec", cwd=d)
    assert r.returncode != 0


def test_spec_bundle_option_and_runs(rt, workdir, bundle):
    (bundle.path / "config.json").unlink()
    r = rt("spec", "--bundle", str(bundle.path))
    assert r.returncode == 0, r.stderr
    cfg = json.loads(bundle.config_path.read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    bundle.write(cfg)
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr


def test_log_json_on_error(rt, bundle, workdir):
    (bundle.path / "config.json").write_text("{ not json")
    log = workdir / "log.json"
    cid = rt.new_id()
    r = rt("run", "--bundle", str(bundle.path), cid,
           glob=("--log", str(log), "--log-format", "json"))
    assert r.returncode != 0
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    assert lines, "nothing logged"
    recs = [json.loads(ln) for ln in lines]
    errs = [x for x in recs if x.get("level") == "error"]
    assert errs and errs[-1].get("msg")
    if rt.is_hull:
        assert "config.json" in errs[-1]["msg"]


def test_log_text_on_error(rt, bundle, workdir):
    (bundle.path / "config.json").write_text("{ not json")
    log = workdir / "log.txt"
    r = rt("run", "--bundle", str(bundle.path), rt.new_id(), glob=("--log", str(log)))
    assert r.returncode != 0
    assert log.read_text().strip()


def test_systemd_cgroup_is_a_clear_error(rt, bundle, leftovers):
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = "system.slice:hulltest:" + cid
    bundle.write()
    r = rt("run", "--bundle", str(bundle.path), cid, glob=("--systemd-cgroup",))
    assert r.returncode != 0
    assert "systemd" in r.stderr.lower() or "dbus" in r.stderr.lower()
    if rt.is_hull:
        assert len(r.stderr.strip().splitlines()) == 1
    leftovers(rt, cid)


def test_preserve_fds(rt, bundle, workdir):
    data = workdir / "fd3.txt"
    data.write_text("through-fd-3\n")
    bundle.set_args(*sh("ls /proc/$$/fd; cat <&3"))
    cid = rt.new_id()
    cmd = " ".join(rt.cmd("run", "--preserve-fds", "1", "--bundle", str(bundle.path), cid))
    r = subprocess.run(["/bin/sh", "-c", f"exec {cmd} 3<{data}"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sorted(lines[:-1]) == ["0", "1", "2", "3"]
    assert lines[-1] == "through-fd-3"


def test_missing_executable_is_reported_by_create_or_start(rt, bundle):
    """A missing executable fails create (runc, hull-oci) or start: never a running container."""
    bundle.set_args("/bin/no-such-binary")
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    if r.returncode == 0:
        assert rt("start", cid).returncode != 0
        assert rt.status(cid) in ("stopped", None)
    else:
        assert "no-such-binary" in r.stderr


def test_console_socket_terminal(rt, bundle, workdir):
    """process.terminal with --console-socket: the runtime sends the pty master over the
    socket (SCM_RIGHTS); the process has the pty slave as its controlling terminal."""
    sock_path = str(workdir / "console.sock")
    srv, t, got = console_server(sock_path)
    bundle.config["process"]["terminal"] = True
    bundle.set_args(*sh("tty; [ -t 0 ] && [ -t 1 ] && echo is-a-tty; echo term=$TERM"))
    cid = rt.new_id()
    try:
        rt.create(cid, bundle, "--console-socket", sock_path)
        t.join(timeout=10)
        assert got.get("fds"), "no pty master received on the console socket"
        master = got["fds"][0]
        assert rt("start", cid).returncode == 0
        text = read_pty(master)
        lines = text.splitlines()
        assert lines[0].startswith("/dev/pts/"), text
        assert "is-a-tty" in lines
    finally:
        srv.close()
        for fd in got.get("fds", []):
            os.close(fd)


def test_terminal_without_console_socket_fails(rt, bundle, leftovers):
    bundle.config["process"]["terminal"] = True
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    assert "console" in r.stderr.lower() or "terminal" in r.stderr.lower()
    leftovers(rt, cid)


def test_no_new_keyring_and_debug_accepted(rt, bundle):
    r = rt("run", "--no-new-keyring", "--bundle", str(bundle.path), rt.new_id(), input="")
    assert r.returncode == 0, r.stderr
    r = rt("run", "--bundle", str(bundle.path), rt.new_id(), glob=("--debug",), input="")
    assert r.returncode == 0, r.stderr


def test_session_keyring_is_the_containers_own(rt, bundle):
    """By default the process gets a new session keyring named after the container, so it
    cannot reach the caller's keys; --no-new-keyring keeps the caller's. (runc 1.1.5's new
    keyring does not show in the container's /proc/keys on this host, so that listing is
    asserted for hull-oci only.)"""
    cid = rt.new_id()
    bundle.set_args(*sh(f"grep -c ' keyring  *{cid}: ' /proc/keys || true"))
    r = rt.run(cid, bundle)
    assert r.returncode == 0, r.stderr
    if rt.is_hull:
        assert r.stdout.strip() == "1"
    cid2 = rt.new_id()
    bundle.set_args(*sh(f"grep -c ' keyring  *{cid2}: ' /proc/keys || true"))
    r = rt("run", "--no-new-keyring", "--bundle", str(bundle.path), cid2, input="")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_state_and_kill_of_stopped_container(rt, bundle):
    cid = rt.new_id()
    rt.run_detached(cid, bundle)  # /bin/true
    rt.wait_status(cid, "stopped")
    st = rt.state(cid)
    assert st["status"] == "stopped"
    assert st.get("pid", 0) == 0 or not os.path.exists(f"/proc/{st['pid']}/cmdline") or \
        open(f"/proc/{st['pid']}/cmdline", "rb").read() == b""
    r = rt("kill", cid, "KILL")
    assert r.returncode != 0
    assert "not running" in r.stderr.lower() or "stopped" in r.stderr.lower()


def test_start_of_stopped_container_fails(rt, bundle):
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    rt.wait_status(cid, "stopped")
    assert rt("start", cid).returncode != 0


def test_kill_all_without_pid_namespace(rt, bundle):
    """Without a pid namespace the children do not die with the container's init: --all must
    reach every process of the container."""
    bundle.config["linux"]["namespaces"] = [{"type": t} for t in ("network", "ipc", "uts",
                                                                  "mount")]
    bundle.set_args(*sh("sleep 1001 & sleep 1002 & echo $! > /kids; wait"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    init = rt.state(cid)["pid"]
    deadline = time.monotonic() + 10
    kids = []
    while time.monotonic() < deadline:
        kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and
                _ppid(int(p)) == init]
        if len(kids) == 2:
            break
        time.sleep(0.05)
    assert len(kids) == 2
    r = rt("ps", "--format", "json", cid)
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)) == {init, *kids}
    assert rt("kill", "--all", cid, "KILL").returncode == 0
    rt.wait_status(cid, "stopped")
    deadline = time.monotonic() + 5
    alive = kids
    while alive and time.monotonic() < deadline:
        alive = [k for k in kids if _alive(k)]
        time.sleep(0.05)
    assert not alive, f"children survived kill --all: {alive}"


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_state_readable_throughout_lifecycle(rt, bundle):
    """state and list read the persisted state while create/start/kill/delete rewrite it: every
    answer is complete JSON (the state file is replaced atomically, never half-written)."""
    import threading
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    stop = threading.Event()
    bad = []
    seen = set()

    def reader():
        while not stop.is_set():
            r = rt("state", cid)
            if r.returncode == 0:
                try:
                    seen.add(json.loads(r.stdout)["status"])
                except (ValueError, KeyError) as e:
                    bad.append((r.stdout, e))
            r = rt("list", "--format", "json")
            if r.returncode == 0:
                try:
                    json.loads(r.stdout)
                except ValueError as e:
                    bad.append((r.stdout, e))
            else:
                bad.append(("list failed", r.stderr))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(3):
            rt.create(cid, bundle)
            time.sleep(0.1)
            assert rt("start", cid).returncode == 0
            time.sleep(0.1)
            assert rt("kill", cid, "KILL").returncode == 0
            rt.wait_status(cid, "stopped")
            time.sleep(0.1)
            assert rt("delete", cid).returncode == 0
    finally:
        stop.set()
        t.join()
    assert not bad, bad[:3]
    assert seen and seen <= {"creating", "created", "running", "stopped"}, seen
