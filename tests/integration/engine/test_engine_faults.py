"""The engine under faults (issue 11 item 10): SIGKILLs of `hull run -d` and `hull rm` at
random moments, trees deeper than the stack or the descriptor limit, stopped containers'
mounts. After any of them every container is either whole (monitored, removable) or gone,
`ps -a` lists every leftover, and `rm -f` or `system prune` removes it with its mounts and
cgroups."""
import io
import json
import os
import random
import re
import resource
import subprocess
import tarfile
import time

import pytest

from engine_helpers import make_rootfs

SEED = int(os.environ.get("HULL_TEST_SEED", "11"))
DEPTH = 2000  # "d/" * 2000 + "f": a legal path (< PATH_MAX)


def wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def container_dirs(h):
    d = h.root / "containers"
    return sorted(n for n in os.listdir(d) if re.fullmatch(r"[0-9a-f]{64}", n)) if d.exists() else []


def mounts_of(h):
    with open("/proc/mounts") as f:
        return [l for l in f if f" {h.root}/" in l]


def cgroups_of(ids):
    found = []
    for ctrl in os.listdir("/sys/fs/cgroup"):
        for i in ids:
            if os.path.exists(f"/sys/fs/cgroup/{ctrl}/{i}"):
                found.append(f"{ctrl}/{i}")
    return found


def hull_processes(h):
    """Pids of hull processes on this store (monitors outlive the `hull run -d` killed)."""
    pids = []
    for p in os.listdir("/proc"):
        try:
            if (os.readlink(f"/proc/{p}/exe") == os.path.realpath(h.binary) and
                    f"HULL_ROOT={h.root}".encode() in
                    open(f"/proc/{p}/environ", "rb").read().split(b"\0")):
                pids.append(int(p))
        except OSError:
            pass
    return pids


def rootfs_mounted(h, cid):
    return any(f"/containers/{cid}/rootfs " in l for l in mounts_of(h))


def check_leftovers_then_clean(h, seen_ids):
    """ps -a lists every container directory; prune and rm -f remove them all, mounts and
    cgroups included."""
    listed = set(h.out("ps", "-a", "-q", "--no-trunc").split())
    assert set(container_dirs(h)) <= listed, "a leftover ps -a does not list"
    for line in h.out("ps", "-a").splitlines()[1:]:
        assert "Exited (-1)" not in line, f"an unmonitored container: {line}"
    h.run("system", "prune", "-f")
    rest = h.out("ps", "-a", "-q", "--no-trunc").split()
    assert all(h.inspect(c)["State"]["Status"] != "dead" for c in rest), "prune left a dead one"
    if rest:
        h.run("rm", "-f", *rest)
    assert container_dirs(h) == []
    assert h.out("ps", "-a", "-q") == ""
    assert mounts_of(h) == []
    assert cgroups_of(seen_ids) == []


def test_kill_run_detached_at_random_moments(bb):
    """SIGKILL of `hull run -d --rm` anywhere: before the fork a created container stays,
    after it the monitor carries on (no SIGPIPE death) and --rm is honoured."""
    rng = random.Random(SEED)
    t0 = time.monotonic()
    cid = bb.out("run", "-d", "--rm", "busybox", "true").strip()
    span = time.monotonic() - t0
    assert wait_for(lambda: bb.out("ps", "-a", "-q") == "")
    seen = {cid}
    for i in range(40):
        p = subprocess.Popen([bb.binary, "run", "-d", "--rm", "busybox", "sleep", "0.3"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=bb.env)
        time.sleep(rng.uniform(0, span * 1.3))
        p.kill()
        out, _ = p.communicate()
        seen.update(out.decode().split())
        seen.update(container_dirs(bb))
    # every container that started finishes (its monitor exits) and removes itself
    assert wait_for(lambda: hull_processes(bb) == [])
    for c in bb.out("ps", "-a", "-q", "--no-trunc").split():
        st = bb.inspect(c)["State"]
        assert st["Status"] in ("created", "dead"), (c, st, SEED)
        if st["Status"] == "created":  # whole: it starts and --rm removes it
            assert not rootfs_mounted(bb, c)
    check_leftovers_then_clean(bb, seen)


def test_kill_rm_at_random_moments(bb):
    """SIGKILL of `hull rm -f` anywhere leaves a container ps -a shows (running, exited or
    dead), never an invisible directory."""
    rng = random.Random(SEED + 1)
    seen = set()
    t0 = time.monotonic()
    cid = bb.out("run", "-d", "busybox", "sleep", "100").strip()
    bb.run("rm", "-f", cid)
    span = time.monotonic() - t0
    for i in range(40):
        cid = bb.out("run", "-d", "busybox", "sh", "-c",
                     "mkdir -p /a/b/c/d && touch /a/b/c/d/f && exec sleep 100").strip()
        seen.add(cid)
        p = subprocess.Popen([bb.binary, "rm", "-f", cid], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=bb.env)
        time.sleep(rng.uniform(0, span))
        p.kill()
        p.wait()
        if cid in container_dirs(bb):
            assert cid in bb.out("ps", "-a", "-q", "--no-trunc").split(), (i, SEED)
            st = json.loads((bb.root / "containers" / cid / "state.json").read_text()) \
                if (bb.root / "containers" / cid / "state.json").exists() else {}
            if st.get("Status") == "running":  # whole: its monitor records what happens
                assert os.path.exists(f"/proc/{st['MonitorPid']}"), (i, SEED)
    check_leftovers_then_clean(bb, seen)


def test_interrupted_removal_is_listed_and_pruned(bb):
    """The states an interrupted rm leaves, made by hand: no state.json (dead), and no
    hull.json (only the directory): both listed, both removed by prune and by rm -f."""
    a = bb.out("create", "busybox", "true").strip()
    b = bb.out("create", "busybox", "true").strip()
    c = bb.out("create", "busybox", "true").strip()
    (bb.root / "containers" / a / "state.json").unlink()
    for x in (b, c):
        for f in ("state.json", "hull.json"):
            (bb.root / "containers" / x / f).unlink()
    listed = bb.out("ps", "-a", "--no-trunc")
    assert all(x in listed for x in (a, b, c))
    assert len([l for l in listed.splitlines() if "Dead" in l]) == 3
    r = bb.run("start", a, check=False)
    assert r.returncode == 125 and "marked for removal" in r.stderr
    bb.run("rm", "-f", c)
    assert "Removed 2 " in bb.out("system", "prune", "-f")
    assert container_dirs(bb) == [] and mounts_of(bb) == []


def test_stopped_containers_hold_no_mount(bb, tmp_path):
    cid = bb.out("run", "-d", "busybox", "sleep", "100").strip()
    assert rootfs_mounted(bb, cid)
    bb.run("stop", "-t", "0", cid)
    assert not rootfs_mounted(bb, cid)
    bb.run("start", cid)
    assert rootfs_mounted(bb, cid)
    assert bb.out("exec", cid, "echo", "ok") == "ok\n"
    bb.run("kill", cid)
    assert wait_for(lambda: not rootfs_mounted(bb, cid))
    fg = bb.out("create", "busybox", "sh", "-c", "echo hi > /kept").strip()
    assert not rootfs_mounted(bb, fg)
    bb.run("start", "-a", fg)
    assert not rootfs_mounted(bb, fg)
    bb.run("start", "-a", fg)  # the upper dir is kept: remounted with what it wrote
    bb.run("export", "-o", tmp_path / "fg.tar", fg)
    with tarfile.open(tmp_path / "fg.tar") as t:
        assert t.extractfile("./kept").read() == b"hi\n"
    assert not rootfs_mounted(bb, fg)
    assert bb.out("run", "--rm", "busybox", "true") == ""
    assert mounts_of(bb) == []
    bb.run("rm", cid, fg)


@pytest.fixture
def deep_image(hull_store, tmp_path):
    """busybox plus a file DEPTH directories down (parents implicit: one tar entry)."""
    root = make_rootfs(tmp_path / "r")
    tar = tmp_path / "deep.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."], check=True)
    path = "/".join(["d"] * DEPTH) + "/f"
    with tarfile.open(tar, "a", format=tarfile.GNU_FORMAT) as t:
        ti = tarfile.TarInfo(path)
        ti.size = 5
        t.addfile(ti, io.BytesIO(b"deep\n"))
    hull_store.run("import", tar, "deep")
    return hull_store, "/" + path


def test_copy_of_a_deep_tree(deep_image):
    """--rootfs-copy (and overlay's fallback) copies 2,000 levels without overflowing the
    stack; a failed creation leaves nothing."""
    h, path = deep_image
    assert h.out("run", "--rm", "--rootfs-copy", "deep", "cat", path) == "deep\n"
    r = h.run("run", "--rm", "--rootfs-copy", "deep", "/nothing", check=False)
    assert r.returncode == 127 and "/nothing" in r.stderr
    assert container_dirs(h) == [] and mounts_of(h) == []


def test_rm_of_a_tree_deeper_than_the_fd_limit(bb):
    """A container can make a tree deeper than RLIMIT_NOFILE: rm still removes it."""
    cid = bb.out("run", "-d", "busybox", "sh", "-c",
                 "i=0; while [ $i -lt 300 ]; do mkdir d && cd d || exit 1; i=$((i+1)); done; "
                 "touch f; echo made").strip()
    assert wait_for(lambda: bb.inspect(cid)["State"]["Status"] == "exited")
    assert bb.out("logs", cid) == "made\n"

    def low_nofile():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
    r = subprocess.run([bb.binary, "rm", cid], capture_output=True, text=True, env=bb.env,
                       preexec_fn=low_nofile, timeout=60)
    assert r.returncode == 0, r.stderr
    assert container_dirs(bb) == []


def test_lost_monitor_reads_exited_now(bb):
    """A monitor killed with its container: the exit is recorded as -1 with the time it was
    found so (not "56 years ago"), and the rootfs is unmounted."""
    cid = bb.out("run", "-d", "busybox", "sleep", "100").strip()
    st = json.loads((bb.root / "containers" / cid / "state.json").read_text())
    os.kill(st["MonitorPid"], 9)
    os.kill(st["Pid"], 9)
    assert wait_for(lambda: not os.path.exists(f"/proc/{st['Pid']}"))
    row = bb.out("ps", "-a").splitlines()[1]
    assert re.search(r"Exited \(-1\) (Less than a second|\d+ seconds?) ago", row), row
    assert bb.inspect(cid)["State"]["FinishedAt"] != ""
    assert not rootfs_mounted(bb, cid)
    bb.run("rm", cid)
    assert cgroups_of([cid]) == [] and container_dirs(bb) == []
