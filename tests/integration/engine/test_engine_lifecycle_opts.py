"""The lifecycle options of hull run/create (docs/engine.md "Lifecycle"): --stop-signal and
--stop-timeout used by `hull stop`, --label/--label-file over the image's labels with
`ps --filter label=`, --init (catatonit as PID 1) and --restart carried out by the detached
container's monitor. Every wait below polls the record with a generous deadline; no
assertion is about time."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

LOOP = 'echo ready; while :; do sleep 0.1; done'
TRAP_USR1 = 'trap "exit 42" USR1; ' + LOOP
IGNORE_TERM = 'trap "" TERM; ' + LOOP


def wait_for(pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def ready(h, name, n=1):
    """The shell's traps are set (it printed "ready" n times)."""
    wait_for(lambda: h.out("logs", name).count("ready") >= n)


def state_file(h, name):
    cid = h.inspect(name)["Id"]
    return json.loads((h.root / "containers" / cid / "state.json").read_text())


def settled(h, name):
    """Exited, and no monitor waiting to start it again."""
    i = h.inspect(name)
    return i["State"]["Status"] == "exited" and not i["State"]["Restarting"]


def bad(h, *args):
    r = h.run(*args, check=False)
    assert r.returncode == 125, r
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


# ---- --stop-signal, --stop-timeout ----------------------------------------------------------

def test_stop_signal_reaches_the_process(bb):
    bb.run("run", "-d", "--name", "u", "--stop-signal", "USR1", "busybox", "sh", "-c",
           TRAP_USR1)
    ready(bb, "u")
    assert bb.inspect("u")["Config"]["StopSignal"] == "USR1"
    bb.run("stop", "u")
    # 42: the trap ran, so USR1 was sent (not TERM, which PID 1 ignores: KILL after 10 s)
    assert bb.inspect("u")["State"]["ExitCode"] == 42


def test_image_stopsignal_and_flag_over_it(bb, rootfs_tar):
    bb.run("import", rootfs_tar, "sigimg", "--change", "STOPSIGNAL SIGUSR1")
    bb.run("run", "-d", "--name", "img", "sigimg", "sh", "-c", TRAP_USR1)
    ready(bb, "img")
    bb.run("stop", "img")
    assert bb.inspect("img")["State"]["ExitCode"] == 42
    # the flag wins over the image's
    bb.run("run", "-d", "--name", "flag", "--stop-signal", "TERM", "sigimg", "sh", "-c",
           'trap "exit 43" TERM; ' + TRAP_USR1)
    ready(bb, "flag")
    assert bb.inspect("flag")["Config"]["StopSignal"] == "TERM"
    bb.run("stop", "flag")
    assert bb.inspect("flag")["State"]["ExitCode"] == 43


def test_stop_timeout_then_kill(bb):
    bb.run("run", "-d", "--name", "t", "--stop-timeout", "1", "busybox", "sh", "-c",
           IGNORE_TERM)
    ready(bb, "t")
    assert bb.inspect("t")["Config"]["StopTimeout"] == 1
    bb.run("stop", "t", timeout=8)  # the default 10 s would not fit
    assert bb.inspect("t")["State"]["ExitCode"] == 137
    # -1 waits forever; `stop -t` overrides it
    bb.run("run", "-d", "--name", "f", "--stop-timeout", "-1", "busybox", "sh", "-c",
           IGNORE_TERM)
    ready(bb, "f")
    assert bb.inspect("f")["Config"]["StopTimeout"] == -1
    p = subprocess.Popen([bb.binary, "stop", "f"], env=bb.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=2)
    assert bb.inspect("f")["State"]["Running"]
    bb.run("stop", "-t", "0", "f")
    assert p.wait(timeout=20) == 0
    assert bb.inspect("f")["State"]["ExitCode"] == 137
    # without the flag, docker's inspect has no StopTimeout
    bb.run("create", "--name", "n", "busybox", "true")
    assert "StopTimeout" not in bb.inspect("n")["Config"]


def test_stop_flags_refused(bb):
    assert "--stop-signal NOPE" in bad(bb, "run", "--stop-signal", "NOPE", "busybox", "true")
    assert "--stop-signal 0" in bad(bb, "create", "--stop-signal", "0", "busybox", "true")
    for v in ("x", "-2", "1.5", ""):
        assert f"--stop-timeout {v}" in bad(bb, "run", "--stop-timeout", v, "busybox", "true")
    assert bb.out("ps", "-a", "-q") == ""


# ---- labels ---------------------------------------------------------------------------------

def test_generated_labels_merge_and_filter(bb, rootfs_tar, tmp_path):
    rng = random.Random(15)
    img = {f"k{i}": f"img{rng.randrange(100)}" for i in rng.sample(range(10), 5)}
    bb.run("import", rootfs_tar, "lab", *[a for k, v in img.items()
                                          for a in ("--change", f"LABEL {k}={v}")])
    models = {}
    for n in range(4):
        flags, model = [], dict(img)
        for _ in range(rng.randrange(1, 7)):
            k = f"k{rng.randrange(12)}"
            if rng.random() < 0.25:
                flags += ["--label", k]
                model[k] = ""
            else:
                v = f"v{rng.randrange(5)}=x y"
                flags += ["--label", f"{k}={v}"]
                model[k] = v
        lf = tmp_path / f"labels{n}"
        lf.write_text(f"# a comment\n\n  file{n}=from file\nk11=f{n}\n")
        model[f"file{n}"] = "from file"
        model["k11"] = f"f{n}"
        # the file's labels come after the flags given before it
        bb.run("create", "--name", f"c{n}", *flags, "--label-file", lf, "lab", "true")
        models[f"c{n}"] = model
        assert bb.inspect(f"c{n}")["Config"]["Labels"] == model

    def listed(*filters):
        args = [a for f in filters for a in ("--filter", f)]
        out = bb.out("ps", "-a", *args)
        return {line.split()[-1] for line in out.splitlines()[1:]}

    for _ in range(40):
        filters = []
        for _ in range(rng.randrange(1, 4)):
            k = f"k{rng.randrange(12)}"
            if rng.random() < 0.5:
                filters.append(f"label={k}")
            else:
                filters.append(f"label={k}={rng.choice(list(img.values()) + ['v1=x y', ''])}")
        want = set()
        for name, model in models.items():
            ok = True
            for f in filters:
                kv = f[len("label="):]
                k, eq, v = kv.partition("=")
                ok = ok and k in model and (not eq or model[k] == v)
            if ok:
                want.add(name)
        assert listed(*filters) == want, filters
    # ps -q --filter, and a filter of another key ANDed with a label
    assert bb.out("ps", "-a", "-q", "--filter", "label=file2").split() == \
        [bb.inspect("c2")["Id"][:12]]
    assert listed("label=file1", "name=c1") == {"c1"}
    assert listed("label=file1", "name=c2") == set()


def test_label_flags_refused(bb, tmp_path):
    assert "--label =v" in bad(bb, "run", "--label", "=v", "busybox", "true")
    assert "--label-file" in bad(bb, "run", "--label-file", tmp_path / "none", "busybox", "true")
    (tmp_path / "lf").write_text("ok=1\n=bad\n")
    assert "--label-file" in bad(bb, "create", "--label-file", tmp_path / "lf", "busybox", "true")
    assert "--filter nope=1" in bad(bb, "ps", "--filter", "nope=1")
    assert "--filter label" in bad(bb, "ps", "--filter", "label")
    assert bb.out("ps", "-a", "-q") == ""


# ---- --init ---------------------------------------------------------------------------------

def zombies(h, name):
    out = h.out("exec", name, "ps", "-o", "stat,comm")
    return [line for line in out.splitlines()[1:] if line.split()[0].startswith("Z")]


def test_init_is_pid1_and_reaps(bb):
    r = bb.run("run", "--rm", "--init", "busybox", "sh", "-c",
               "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $PPID; exit 7", check=False)
    assert r.returncode == 7, r  # the command's exit code, through the init
    cmdline, ppid = r.stdout.splitlines()
    assert cmdline.split()[:3] == ["/run/hull-init", "--", "sh"]
    assert ppid == "1"
    # an orphan whose parent exited is reparented to PID 1: the init reaps it
    orphan = 'sh -c "sleep 0.2 &"; exec sleep 1000'
    bb.run("run", "-d", "--name", "i", "--init", "busybox", "sh", "-c", orphan)
    i = bb.inspect("i")
    assert i["HostConfig"]["Init"] is True
    assert i["Path"] == "sh" and i["Config"]["Cmd"][0] == "sh"  # the command, as docker
    ps1 = bb.out("exec", "i", "ps", "-o", "pid,comm")
    assert any(line.split() == ["1", "hull-init"] for line in ps1.splitlines()), ps1
    # without --init, PID 1 (sleep) never reaps it: the check sees zombies when there are
    bb.run("run", "-d", "--name", "noinit", "busybox", "sh", "-c", orphan)
    assert bb.inspect("noinit")["HostConfig"]["Init"] is False
    wait_for(lambda: zombies(bb, "noinit"))
    time.sleep(0.5)  # the orphan of "i" has exited by now too
    assert zombies(bb, "i") == []
    bb.run("rm", "-f", "noinit")


def test_init_forwards_stop_signal(bb):
    bb.run("run", "-d", "--name", "fw", "--init", "busybox", "sh", "-c",
           'trap "exit 42" TERM; ' + LOOP)
    ready(bb, "fw")
    bb.run("stop", "fw")
    # TERM went to the init, which passed it on to sh: the trap's exit code comes back
    assert bb.inspect("fw")["State"]["ExitCode"] == 42


# ---- --restart ------------------------------------------------------------------------------

def test_restart_on_failure_counts(bb):
    bb.run("run", "-d", "--name", "of", "--restart", "on-failure:3", "busybox", "sh", "-c",
           "exit 1")
    i = wait_for(lambda: settled(bb, "of") and bb.inspect("of"))
    assert i["RestartCount"] == 3
    assert i["State"]["ExitCode"] == 1
    assert i["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert len(bb.out("logs", "of").splitlines()) == 0
    # exit 0 is not a failure
    bb.run("run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true")
    wait_for(lambda: settled(bb, "ok"))
    assert bb.inspect("ok")["RestartCount"] == 0


def test_restart_always_until_stop(bb):
    bb.run("run", "-d", "--name", "al", "--restart", "always", "busybox", "sh", "-c",
           "echo run")
    wait_for(lambda: bb.inspect("al")["RestartCount"] >= 3)
    bb.run("stop", "al")
    wait_for(lambda: settled(bb, "al"))
    n = bb.inspect("al")["RestartCount"]
    time.sleep(1)
    i = bb.inspect("al")
    assert i["RestartCount"] == n and i["State"]["Status"] == "exited"
    assert bb.out("logs", "al").count("run") == n + 1
    # a user's start applies the policy again, counting from 0
    bb.run("start", "al")
    wait_for(lambda: bb.inspect("al")["RestartCount"] >= 1)
    bb.run("rm", "-f", "al")
    assert not (bb.root / "containers" / i["Id"]).exists()


@pytest.mark.parametrize("policy", ["always", "unless-stopped"])
def test_restart_not_after_user_kill(bb, policy):
    bb.run("run", "-d", "--name", "k", "--restart", policy, "busybox", "sh", "-c",
           'trap "exit 5" HUP; ' + LOOP)
    ready(bb, "k")
    bb.run("kill", "k")
    wait_for(lambda: settled(bb, "k"))
    time.sleep(0.5)
    i = bb.inspect("k")
    assert i["State"]["Status"] == "exited" and i["RestartCount"] == 0
    assert i["State"]["ExitCode"] == 137
    # a signal other than the stop signal or KILL does not end the policy: the process
    # exits on HUP and comes back
    bb.run("start", "k")
    ready(bb, "k", 2)
    bb.run("kill", "-s", "HUP", "k")
    wait_for(lambda: bb.inspect("k")["RestartCount"] == 1)
    ready(bb, "k", 3)
    bb.run("stop", "-t", "0", "k")


def test_restart_refused_with_rm_and_bad_policy(bb):
    assert "Conflicting options: --restart and --rm" in bad(
        bb, "run", "--rm", "--restart", "always", "busybox", "true")
    for p in ("sometimes", "always:3", "on-failure:-1", "on-failure:x"):
        assert f"--restart {p}" in bad(bb, "run", "--restart", p, "busybox", "true")
    bb.run("run", "--rm", "--restart", "no", "busybox", "true")
    assert bb.out("ps", "-a", "-q") == ""


def links():
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def ipam(h):
    nets = h.root / "networks"
    return {f.name: f.read_text().strip() for f in (nets.glob("*.ipam") if nets.exists() else [])
            if f.read_text().strip() not in ("", "{}")}


@pytest.mark.parametrize("network", ["none", "bridge"])
def test_restarts_leak_nothing(bb, network):
    # the bridge and its firewall rules stay once made: make them before the snapshot
    bb.run("run", "--rm", "--network", network, "busybox", "true")
    before = links()
    bb.run("run", "-d", "--name", "lk", "--network", network, "--restart", "on-failure:6",
           "busybox", "sh", "-c", "ip -o -4 addr show | grep -v ' lo '; exit 3")
    i = wait_for(lambda: settled(bb, "lk") and bb.inspect("lk"))
    assert i["RestartCount"] == 6
    # each run got its network set up again (an address on a bridge)
    logs = bb.out("logs", "lk").splitlines()
    assert len(logs) == (7 if network == "bridge" else 0), logs
    assert links() == before
    assert ipam(bb) == {}
    nsd = bb.root / "netns"
    assert not nsd.exists() or os.listdir(nsd) == [i["Id"]] or os.listdir(nsd) == []
    bb.run("rm", "lk")
    assert links() == before and ipam(bb) == {}
    assert not nsd.exists() or os.listdir(nsd) == []
    assert f" {bb.root}/" not in open("/proc/mounts").read()


def test_killed_monitor_then_rm_f(bb):
    bb.run("run", "-d", "--name", "m", "--restart", "always", "busybox", "sleep", "1000")
    st = state_file(bb, "m")
    assert st["MonitorPid"] > 0
    os.kill(st["MonitorPid"], signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{st['MonitorPid']}"))
    bb.run("rm", "-f", "m")
    wait_for(lambda: not os.path.exists(f"/proc/{st['Pid']}"))
    assert bb.out("ps", "-a", "-q") == ""
    assert f" {bb.root}/" not in open("/proc/mounts").read()
    # the same between two runs: the monitor waiting for its backoff
    bb.run("run", "-d", "--name", "m2", "--restart", "always", "busybox", "true")
    wait_for(lambda: bb.inspect("m2")["RestartCount"] >= 2)
    mon = state_file(bb, "m2")["MonitorPid"]
    assert mon > 0
    os.kill(mon, signal.SIGKILL)
    bb.run("rm", "-f", "m2")
    assert bb.out("ps", "-a", "-q") == ""
    assert f" {bb.root}/" not in open("/proc/mounts").read()
