"""Detached containers and their management: ps, logs, stop, kill, rm, create/start,
inspect, top, stats, exec, export, id prefixes."""
import json
import re
import subprocess
import tarfile
import time

import pytest

LOOP = "echo started; echo to-err >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


def wait_for(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def running(bb):
    cid = bb.out("run", "-d", "--name", "loop", "busybox", "sh", "-c", LOOP).strip()
    assert wait_for(lambda: "tick 1" in bb.out("logs", "loop"))
    return cid


def test_detach_prints_full_id_and_ps_shows_it(bb, running):
    assert re.fullmatch(r"[0-9a-f]{64}", running)
    lines = bb.out("ps").splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert len(lines) == 2
    row = lines[1]
    assert row.startswith(running[:12])
    assert re.search(r"\bUp (Less than a second|\d+ seconds?)\b", row)
    assert row.endswith("loop") and "busybox" in row
    assert bb.out("ps", "-q").split() == [running[:12]]
    assert bb.out("ps", "-q", "--no-trunc").split() == [running]


def test_logs_tail_timestamps_follow(bb, running):
    r = bb.run("logs", "loop")
    assert r.stdout.startswith("started\ntick 0\n")
    assert r.stderr == "to-err\n"
    assert wait_for(lambda: "tick 3" in bb.out("logs", "loop"))
    tail = bb.out("logs", "--tail", "2", "loop").splitlines()
    assert len(tail) == 2 and all(l.startswith("tick ") for l in tail)
    ts = bb.out("logs", "-t", "--tail", "1", "loop")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick \d+\n$", ts)
    p = subprocess.Popen([bb.binary, "logs", "-f", "loop"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=bb.env)
    time.sleep(0.8)
    bb.run("kill", "loop")
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0
    assert len([l for l in out.splitlines() if l.startswith("tick")]) >= 3


def test_kill_signal_stop_and_exit_status(bb, running):
    bb.run("kill", "-s", "USR1", "loop")  # sh as pid 1 ignores it
    time.sleep(0.3)
    assert bb.out("inspect", "-f", "{{.State.Status}}", "loop").strip() == "running"
    r = bb.run("kill", "-s", "NOPE", "loop", check=False)
    assert r.returncode == 125 and "unknown signal" in r.stderr
    t0 = time.time()
    bb.run("stop", "-t", "1", "loop")  # TERM is ignored by pid 1 too: KILL after 1 s
    assert 0.9 < time.time() - t0 < 8
    assert bb.out("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
                  "loop").strip() == "exited 137 false"
    row = bb.out("ps", "-a").splitlines()[1]
    assert re.search(r"Exited \(137\) (Less than a second|\d+ seconds?) ago", row)
    r = bb.run("kill", "loop", check=False)
    assert r.returncode == 125 and "not running" in r.stderr
    assert bb.out("stop", "loop").strip() == "loop"  # stopping a stopped container is fine


def test_stop_with_term_handler_is_quick(bb):
    bb.run("run", "-d", "--name", "trap", "busybox", "sh", "-c",
           "trap 'exit 3' TERM; while true; do sleep 0.1; done")
    time.sleep(0.3)
    t0 = time.time()
    bb.run("stop", "-t", "10", "trap")
    assert time.time() - t0 < 5
    assert bb.out("inspect", "-f", "{{.State.ExitCode}}", "trap").strip() == "3"


def test_foreground_killed_container_exits_128_plus_signal(bb):
    p = subprocess.Popen([bb.binary, "run", "--name", "fg", "busybox", "sleep", "30"], env=bb.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for(lambda: "Up" in bb.out("ps"))
    bb.run("kill", "fg")
    assert p.wait(timeout=10) == 137
    assert "Exited (137)" in bb.out("ps", "-a")


def test_rm_running_needs_force(bb, running):
    r = bb.run("rm", "loop", check=False)
    assert r.returncode == 125 and "stop it first or use -f" in r.stderr
    assert bb.out("rm", "-f", running[:6]).strip() == running[:6]
    assert bb.out("ps", "-a", "-q") == ""
    assert not (bb.root / "containers" / running).exists()
    with open("/proc/mounts") as f:
        assert running not in f.read()
    r = bb.run("rm", "loop", check=False)
    assert r.returncode == 125 and "no such container: loop" in r.stderr


def test_detached_rm_removes_itself(bb):
    cid = bb.out("run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.2").strip()
    assert wait_for(lambda: not (bb.root / "containers" / cid).exists())
    assert bb.out("ps", "-a", "-q") == ""


def test_create_then_start_attach_and_restart(bb):
    cid = bb.out("create", "--name", "c1", "busybox", "sh", "-c", "echo run-$RANDOM; exit 4").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    assert re.search(r"\bCreated\b", bb.out("ps", "-a"))
    r = bb.run("start", "-a", "c1", check=False)
    assert r.returncode == 4 and r.stdout.startswith("run-")
    # started again, detached this time: the output goes to the log
    assert bb.out("start", "c1").strip() == "c1"
    assert wait_for(lambda: bb.out("inspect", "-f", "{{.State.Status}}", "c1").strip() == "exited")
    assert bb.out("logs", "c1").startswith("run-")


def test_inspect_container_and_image(bb, running):
    info = bb.inspect("loop")
    assert info["Id"] == running and info["Name"] == "/loop"
    assert info["State"]["Running"] is True and info["State"]["Pid"] > 0
    assert info["Config"]["Cmd"] == ["sh", "-c", LOOP]
    assert info["Image"] == bb.inspect("busybox")["Id"]
    both = json.loads(bb.out("inspect", "loop", "busybox"))
    assert len(both) == 2 and both[1]["RepoTags"] == ["localhost/busybox:latest"]
    assert bb.out("inspect", "-f", "{{.Name}}|{{json .State.Running}}|{{.HostConfig.NetworkMode}}",
                  "loop") == "/loop|true|bridge\n"  # docker's default network (issue 15)
    r = bb.run("inspect", "nothing-here", check=False)
    assert r.returncode == 125 and "no such object: nothing-here" in r.stderr
    r = bb.run("inspect", "-f", "{{.State", "loop", check=False)
    assert r.returncode == 125 and "unterminated" in r.stderr


def test_top_and_stats(bb, running):
    top = bb.out("top", "loop").splitlines()
    assert top[0].split() == ["UID", "PID", "PPID", "CMD"]
    assert any("sh -c echo started" in l for l in top[1:])
    stats = bb.out("stats", "--no-stream").splitlines()
    assert stats[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
    assert stats[1].startswith(running[:12]) and " loop " in stats[1]
    assert re.search(r"\d+\.\d\d%", stats[1])


def test_exec(bb, running):
    r = bb.run("exec", "-e", "EXTRA=1", "-w", "/tmp", "loop", "sh", "-c",
               "echo $EXTRA; pwd; hostname; cat /proc/1/cmdline | tr '\\0' ' '")
    lines = r.stdout.splitlines()
    assert lines[0] == "1" and lines[1] == "/tmp"
    assert lines[2] == running[:12]
    assert lines[3].startswith("sh -c echo started")
    assert bb.out("exec", "-u", "alice", "loop", "id", "-u").strip() == "1000"
    r = bb.run("exec", "-i", "loop", "cat", input="piped\n")
    assert r.stdout == "piped\n"
    assert bb.run("exec", "loop", "sh", "-c", "exit 5", check=False).returncode == 5
    assert bb.run("exec", "loop", "nope", check=False).returncode == 127
    bb.run("kill", "loop")
    assert wait_for(lambda: "exited" in bb.out("inspect", "-f", "{{.State.Status}}", "loop"))
    r = bb.run("exec", "loop", "true", check=False)
    assert r.returncode == 125 and "not running" in r.stderr


def test_export(bb, tmp_path):
    bb.run("run", "--name", "ex", "busybox", "sh", "-c", "echo exported > /root/f")
    out = tmp_path / "ex.tar"
    bb.run("export", "-o", out, "ex")
    with tarfile.open(out) as t:
        names = t.getnames()
        assert "./root/f" in names and "./bin/busybox" in names
        assert t.extractfile("./root/f").read() == b"exported\n"


def test_prune_keeps_images_of_containers(bb):
    bb.run("create", "--name", "keep", "busybox", "true")
    bb.run("tag", "busybox", "alias")
    bb.run("rmi", "alias")
    r = bb.run("rmi", "busybox", check=False)
    assert r.returncode == 125 and "in use by container keep" in r.stderr
    bb.run("rmi", "-f", "busybox")
    # a container directory a crash left half-created goes too
    half = bb.root / "containers" / ("a" * 64)
    (half / "rootfs").mkdir(parents=True)
    r = bb.run("system", "prune", "-f")
    assert "Removed 1 half-created containers" in r.stdout
    assert not half.exists()
    # the container still starts: its layers were kept
    assert bb.run("start", "-a", "keep").returncode == 0


def test_ambiguous_and_unknown_prefix(bb):
    ids = [bb.out("create", "busybox", "true").strip() for _ in range(20)]
    # some pair of the 20 ids shares a first hex digit
    first = [i[0] for i in ids]
    dup = next(c for c in first if first.count(c) > 1)
    r = bb.run("rm", dup, check=False)
    assert r.returncode == 125 and "ambiguous" in r.stderr
    assert bb.out("rm", ids[0][:10]).strip() == ids[0][:10]


# the trap names the number: the container's sh may not know glibc's RTMIN (34)
@pytest.mark.parametrize("stopsig,trap", [("SIGUSR1", "USR1"), ("SIGRTMIN+3", "37"),
                                          ("RTMAX-1", "63")])
def test_stop_uses_the_image_stop_signal(hull_store, rootfs_tar, stopsig, trap):
    hull_store.run("import", rootfs_tar, "stopper", "--change", f"STOPSIGNAL {stopsig}")
    hull_store.run("run", "-d", "--name", "s", "stopper", "sh", "-c",
                   f"trap 'exit 9' {trap}; while true; do sleep 0.1; done")
    time.sleep(0.3)
    hull_store.run("stop", "-t", "10", "s")
    assert hull_store.out("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}",
                          "s").strip() == f"9 {stopsig}"


@pytest.mark.parametrize("sig,trap,code", [("ABRT", "ABRT", 6), ("sigabrt", "ABRT", 6),
                                           ("SIGRTMIN+3", "37", 37), ("rtmin", "34", 34),
                                           ("RTMAX-2", "62", 62), ("12", "USR2", 12)])
def test_kill_takes_every_signal_name(bb, sig, trap, code):
    bb.run("run", "-d", "--name", "k", "busybox", "sh", "-c",
           f"trap 'exit {code}' {trap}; echo ready; while true; do sleep 0.1; done")
    assert wait_for(lambda: "ready" in bb.out("logs", "k"))
    bb.run("kill", "-s", sig, "k")
    assert wait_for(lambda: bb.out("inspect", "-f", "{{.State.Status}}", "k").strip() == "exited")
    assert bb.out("inspect", "-f", "{{.State.ExitCode}}", "k").strip() == str(code)


@pytest.mark.parametrize("sig", ["RTMIN+31", "SIGFOO", "0", "65", "RTMIN3", ""])
def test_kill_refuses_a_bad_signal_in_one_line(bb, sig):
    r = bb.run("kill", "-s", sig, "nosuch", check=False)
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and f"-s {sig}: unknown signal" in r.stderr


def test_exec_with_tty(bb, running):
    import shutil
    if not shutil.which("script"):
        pytest.skip("script (util-linux) not installed")
    r = subprocess.run(["script", "-qec", f"{bb.binary} exec -it loop sh", "/dev/null"],
                       input="test -t 0 && echo stdin-is-a-tty\nexit 4\n", capture_output=True,
                       text=True, env=bb.env, timeout=30)
    assert r.returncode == 4
    assert "stdin-is-a-tty" in r.stdout


def stats_stream(bb, *args):
    """`hull stats ARGS` with its stdout piped, killed after 30 s whatever happens (the test
    then fails on what it read, never hangs)."""
    import threading
    p = subprocess.Popen([bb.binary, "stats", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=bb.env)
    guard = threading.Timer(30, p.kill)
    guard.start()
    return p, guard


def read_tables(stream, count, rows=1):
    """Read `count` tables of a header and `rows` rows each from a stats stream."""
    tables = []
    while len(tables) < count:
        line = stream.readline()
        if not line:
            break
        if line.startswith("CONTAINER ID"):
            tables.append([stream.readline() for _ in range(rows)])
    return tables


def test_stats_streams_until_interrupted(bb, running):
    """`hull stats` refreshes its table until ^C (issue 11 item 9), plain tables when piped."""
    import signal
    p, guard = stats_stream(bb, "loop")
    try:
        tables = read_tables(p.stdout, 2)
        assert len(tables) == 2, tables
        for t in tables:
            assert len(t) == 1 and t[0].startswith(running[:12]) and " loop " in t[0]
        assert p.poll() is None  # still streaming
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=10)
    finally:
        guard.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "\033[2J" not in rest  # no screen clearing into a pipe


def test_stats_stream_ends_when_its_containers_are_gone(bb, running):
    p, guard = stats_stream(bb, "loop")
    try:
        assert len(read_tables(p.stdout, 1)) == 1
        bb.run("rm", "-f", "loop")
        p.communicate(timeout=20)
    finally:
        guard.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0


def test_stats_on_a_terminal_clears_the_screen(bb, running):
    import os
    import pty
    import select
    import signal
    master, slave = pty.openpty()
    p = subprocess.Popen([bb.binary, "stats", "loop"], stdout=slave, stderr=subprocess.PIPE,
                         env=bb.env)
    os.close(slave)
    out = b""
    try:
        end = time.time() + 30
        while out.count(b"\033[2J\033[H") < 2 and time.time() < end:
            if select.select([master], [], [], 1)[0]:
                out += os.read(master, 4096)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    assert out.count(b"\033[2J\033[H") >= 2 and b"CONTAINER ID" in out
    assert p.returncode == 0
