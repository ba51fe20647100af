"""cgroup v1 (this host): linux.cgroupsPath, linux.resources as the container sees them, the
kernel enforcing them (OOM kill, pids.max, freezer), and the cgroup going away on delete.
Runtime-agnostic: HULL_OCI_UNDER_TEST=/usr/sbin/runc runs the same checks on runc."""
import json
import os
import time

import pytest

from cglib import CG, OOM_SCRIPT, cgdir, cgroup_of, read, unique_path, wait_for
from ocilib import sh

pytestmark = pytest.mark.skipif(not (CG / "memory").is_dir() or (CG / "cgroup.controllers").exists(),
                                reason="needs a cgroup v1 host")

CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


def limits(bundle, **res):
    bundle.config["linux"]["resources"] = res
    bundle.write()


def test_resources_visible_inside(rt, bundle):
    limits(bundle, memory={"limit": 64 << 20, "reservation": 32 << 20},
           cpu={"shares": 512, "quota": 50000, "period": 100000}, pids={"limit": 42})
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes "
                        "memory/memory.soft_limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us "
                        "cpu/cpu.cfs_period_us pids/pids.max; ls"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[:6] == [str(64 << 20), str(32 << 20), "512", "50000", "100000", "42"]
    # Its own cgroups, one directory per hierarchy: not the host's tree.
    assert {"memory", "cpu", "pids", "freezer", "devices"} <= set(out[6:])


def test_cgroup_mount_is_the_containers_own(rt, bundle):
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("ls /sys/fs/cgroup/memory | grep -c '^memory.limit_in_bytes$'; "
                        "ls /sys/fs/cgroup/memory/ | grep -c process_api; "
                        "touch /sys/fs/cgroup/memory/x 2>/dev/null && echo writable || echo ro"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    # memory.limit_in_bytes of its cgroup; no sibling cgroups of the host in sight.
    assert r.stdout.split() == ["1", "0", "ro"]


def test_absolute_cgroups_path(rt, bundle):
    path = unique_path()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.set_args("/bin/sleep", "100")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    cg = cgroup_of(pid)
    for ctrl in ("memory", "pids", "cpu", "freezer", "devices"):
        assert cg[ctrl] == path, (ctrl, cg)
    assert (CG / "memory" / path.lstrip("/")).is_dir()
    assert rt("delete", "--force", cid).returncode == 0
    assert not (CG / "memory" / path.lstrip("/")).exists()
    assert not (CG / "pids" / path.lstrip("/")).exists()


def test_relative_cgroups_path_is_under_the_callers_cgroup(rt, bundle):
    name = unique_path().lstrip("/")
    bundle.config["linux"]["cgroupsPath"] = f"sub/{name}"
    bundle.set_args("/bin/sleep", "100")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    ours = cgroup_of(os.getpid())
    theirs = cgroup_of(pid)
    for ctrl in ("memory", "pids"):
        assert theirs[ctrl] == ours[ctrl].rstrip("/") + f"/sub/{name}"
    mounts = {c: CG / (c.replace("name=", "") or "unified") for c in theirs}
    dirs = {c: m / theirs[c].lstrip("/") for c, m in mounts.items() if os.path.ismount(m)}
    assert rt("delete", "--force", cid).returncode == 0
    for c, d in dirs.items():
        assert not d.exists(), c
        try:
            os.rmdir(d.parent)  # "sub", which delete leaves (as runc does)
        except OSError:
            pass


def test_cgroup_removed_after_normal_delete(rt, bundle):
    path = unique_path()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.set_args("/bin/true")
    cid = rt.new_id()
    rt.create(cid, bundle)
    assert (CG / "pids" / path.lstrip("/")).is_dir()
    assert rt("start", cid).returncode == 0
    rt.wait_status(cid, "stopped")
    assert rt("delete", cid).returncode == 0
    assert not (CG / "pids" / path.lstrip("/")).exists()
    assert not (CG / "memory" / path.lstrip("/")).exists()


def test_memory_hog_is_oom_killed(rt, bundle):
    limits(bundle, memory={"limit": 32 << 20, "swap": 32 << 20})
    bundle.set_args(*sh(OOM_SCRIPT + "; echo status=$?"))
    r = rt.run(rt.new_id(), bundle, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "status=137" in r.stdout  # SIGKILL from the OOM killer


def test_fork_bomb_stops_at_pids_limit(rt, bundle):
    limits(bundle, pids={"limit": 8})
    # busybox sh exits when a background fork fails: fork from an inner shell.
    bundle.set_args(*sh("sh -c 'for i in $(seq 1 30); do sleep 30 & done' 2>/dev/null; "
                        "echo forked; exec sleep 30"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    assert wait_for(lambda: "forked" in (bundle.path / "stdout").read_text(), timeout=20)
    cur = int(read(pid, "pids", "pids.current"))
    assert cur <= 8
    assert int(read(pid, "pids", "pids.events").split()[1]) > 0  # "max N": forks refused
    r = rt("ps", "--format", "json", cid)
    assert r.returncode == 0 and len(json.loads(r.stdout)) == cur


def counter_script(path="/tmp/count"):
    return sh(f"i=0; while true; do i=$((i+1)); echo $i > {path}; done")


def read_count(bundle):
    try:
        return int((bundle.rootfs / "tmp/count").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_pause_stops_progress_and_resume_continues(rt, bundle):
    bundle.set_args(*counter_script())
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    assert wait_for(lambda: read_count(bundle) > 10)
    assert rt("pause", cid).returncode == 0
    assert rt.state(cid)["status"] == "paused"
    listed = json.loads(rt("list", "--format", "json").stdout)
    assert [c["status"] for c in listed if c["id"] == cid] == ["paused"]
    a = read_count(bundle)
    time.sleep(0.5)
    assert read_count(bundle) == a
    pid = rt.state(cid)["pid"]
    assert read(pid, "freezer", "freezer.state") == "FROZEN"
    assert rt("resume", cid).returncode == 0
    assert rt.state(cid)["status"] == "running"
    assert wait_for(lambda: read_count(bundle) > a + 10)


def test_pause_twice_and_resume_running_fail(rt, bundle):
    bundle.set_args("/bin/sleep", "100")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    assert rt("resume", cid).returncode != 0
    assert rt("pause", cid).returncode == 0
    # runc accepts a second pause; hull says it is paused already.
    r = rt("pause", cid)
    if rt.is_hull:
        assert r.returncode != 0 and "already paused" in r.stderr
    assert rt("resume", cid).returncode == 0


def test_delete_force_of_paused_container(rt, bundle):
    path = unique_path()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.set_args("/bin/sleep", "100")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    assert rt("pause", cid).returncode == 0
    r = rt("delete", cid)
    assert r.returncode != 0
    assert rt("delete", "--force", cid).returncode == 0
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}/stat") or
                    open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z")
    assert not (CG / "freezer" / path.lstrip("/")).exists()


def test_kill_all_reaches_every_process(rt, bundle):
    bundle.set_args(*sh("sleep 1000 & sleep 1000 & wait"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    procs = cgdir(pid, "pids") / "cgroup.procs"
    assert wait_for(lambda: len(procs.read_text().split()) == 3)
    assert rt("kill", "--all", cid, "KILL").returncode == 0
    rt.wait_status(cid, "stopped")


def test_cpuset_and_swappiness(rt, bundle):
    limits(bundle, cpu={"cpus": "0", "mems": "0"}, memory={"swappiness": 10})
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems "
                        "/sys/fs/cgroup/memory/memory.swappiness; grep Cpus_allowed_list "
                        "/proc/self/status"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["0", "0", "10"]
    assert r.stdout.split()[-1] == "0"


def test_disable_oom_killer(rt, bundle):
    limits(bundle, memory={"limit": 32 << 20, "disableOOMKiller": True})
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["oom_kill_disable", "1"]


def test_device_rules(rt, bundle):
    """devices cgroup: deny-all, then runc's default devices (which come after the config's
    rules, so a rule there cannot take /dev/null away). A node made with mknod (allowed: "m")
    for another device cannot be opened."""
    bundle.config["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]}
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("cat /sys/fs/cgroup/devices/devices.list; "
                        "echo x > /dev/null && echo null-ok; "
                        "mknod /dev/kmsg2 c 1 11 && mknod /dev/null2 c 1 3 && echo mknod-ok; "
                        "head -c1 /dev/kmsg2 2>&1; echo; echo x > /dev/null2 && echo null2-ok; "
                        "head -c1 /dev/zero >/dev/null && echo zero-ok"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert "null-ok" in r.stdout and "zero-ok" in r.stdout and "mknod-ok" in r.stdout
    assert "null2-ok" in r.stdout
    assert "Operation not permitted" in r.stdout
    assert "c 1:5 rwm" in r.stdout
    assert "a *:* rwm" not in r.stdout


def test_rt_runtime(rt, bundle):
    """cpu.rt_runtime_us: the host's root has 950000; a child may take a share of it."""
    parent = CG / "cpu"
    if int((parent / "cpu.rt_runtime_us").read_text()) <= 0:
        pytest.skip("no realtime budget on this host")
    own = cgroup_of(os.getpid())["cpu"]
    if own != "/":
        pytest.skip("the caller's cpu cgroup has no realtime budget to share")
    limits(bundle, cpu={"realtimePeriod": 1000000, "realtimeRuntime": 1000})
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1000"]


# ---- bad input: one clear line (hull names config.json and the field), non-zero exit, and
# nothing left behind: no state, no cgroup directory. Every case fails on runc too.
BAD = [
    ({"memory": {"limit": -5}}, "linux.resources.memory.limit"),
    ({"pids": {"limit": 18446744073709551616}}, "config.json"),
    ({"cpu": {"shares": 1 << 40}}, "linux.resources.cpu.shares"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 250, "minor": 250, "rate": 1000}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0]"),
    ({"cpu": {"cpus": "0-511"}}, "linux.resources.cpu.cpus"),
    ({"unified": {"pids.max": "5"}}, "linux.resources.unified"),
]


@pytest.mark.parametrize("res,field", BAD, ids=[f for _, f in BAD])
def test_bad_resources(rt, bundle, leftovers, res, field):
    path = unique_path()
    bundle.config["linux"]["resources"] = res
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    if rt.is_hull:
        assert field in r.stderr
        assert r.stderr.count("\n") == 1, r.stderr
    rt("delete", "--force", cid)  # runc leaves a stopped container behind
    for ctrl in ("memory", "cpu", "pids", "blkio", "cpuset"):
        assert not (CG / ctrl / path.lstrip("/")).exists(), ctrl
    leftovers(rt, cid)


def a_block_device():
    """major:minor of a real disk of this host (not zram/loop), or None."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "zram", "ram")):
            continue
        dev = open(f"/sys/block/{name}/dev").read().strip()
        return tuple(int(x) for x in dev.split(":"))
    return None


def test_blkio_throttle(rt, bundle):
    dev = a_block_device()
    if not dev:
        pytest.skip("no block device")
    maj, mn = dev
    bundle.config["linux"]["resources"] = {"blockIO": {
        "throttleReadBpsDevice": [{"major": maj, "minor": mn, "rate": 1 << 20}],
        "throttleWriteIOPSDevice": [{"major": maj, "minor": mn, "rate": 100}]}}
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "
                        "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == [f"{maj}:{mn} {1 << 20}", f"{maj}:{mn} 100"]


def test_hugetlb_without_hierarchy_is_an_error(rt, bundle, leftovers):
    if (CG / "hugetlb").is_dir() and os.path.ismount(CG / "hugetlb"):
        pytest.skip("this host has a hugetlb hierarchy")
    bundle.config["linux"]["resources"] = {"hugepageLimits": [{"pageSize": "2MB",
                                                               "limit": 1 << 21}]}
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    if rt.is_hull:
        assert "linux.resources.hugepageLimits" in r.stderr
    rt("delete", "--force", cid)  # runc leaves a stopped container behind
    leftovers(rt, cid)


def test_blkio_weight(rt, bundle):
    """blkio.weight (CFQ, gone) or blkio.bfq.weight (BFQ; only non-root cgroups have it):
    set when the host has one, else a clear error naming the field."""
    bundle.config["linux"]["resources"] = {"blockIO": {"weight": 500}}
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.set_args(*sh("cat /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight "
                        "2>/dev/null; true"))
    r = rt.run(rt.new_id(), bundle)
    if r.returncode == 0:
        assert "500" in r.stdout.split()
    elif rt.is_hull:
        assert "linux.resources.blockIO.weight" in r.stderr
