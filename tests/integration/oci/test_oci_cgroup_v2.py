"""cgroup v2 (the sandbox VM: tests/sandbox): linux.resources mapped to the unified hierarchy
(memory.max, cpu.max, cpu.weight, pids.max, io.*, hugetlb, unified keys, the eBPF device
filter), the kernel enforcing them, cgroup.freeze for pause, removal on delete; and the
update/events tests of test_oci_update.py and test_oci_events.py, run again on v2."""
import os
import time

import pytest

from cglib import CG, OOM_SCRIPT, cgroup_of, read, unique_path, wait_for
from ocilib import sh

# The update and events tests, collected again here so that they run on v2 in the sandbox.
from test_oci_update import (running, test_update_bad_flag_values,  # noqa: F401
                             test_update_bad_resources_document, test_update_cpu_shares_and_cpuset,
                             test_update_flags, test_update_invalid_value_changes_nothing,
                             test_update_pause_state_roundtrip,
                             test_update_resources_file_and_stdin,
                             test_update_stopped_container_fails, test_update_unlimited)
from test_oci_events import (test_events_interval_streams_until_stopped,  # noqa: F401
                             test_events_oom, test_events_stats_once)

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                       reason="needs a pure cgroup v2 host (run in tests/sandbox)"),
]

CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


def with_cgroupns(bundle):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    bundle.config["mounts"].append(CGROUP_MOUNT)


def test_v2_resources_visible_inside(rt, bundle):
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20, "reservation": 16 << 20, "swap": 96 << 20},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42}}
    with_cgroupns(bundle)
    bundle.set_args(*sh("cd /sys/fs/cgroup; cat memory.max memory.low memory.swap.max "
                        "cpu.weight cpu.max pids.max cpuset.cpus cpuset.mems; "
                        "cat /proc/self/cgroup"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("\n")
    assert out[:8] == [str(64 << 20), str(16 << 20), str(32 << 20), "39", "50000 100000", "42",
                       "0", "0"]
    assert out[8] == "0::/"


def test_v2_cgroups_path_and_delete(rt, bundle):
    path = unique_path()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.set_args("/bin/sleep", "100")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    assert cgroup_of(pid)[""] == path
    assert (CG / path.lstrip("/")).is_dir()
    assert rt("delete", "--force", cid).returncode == 0
    assert not (CG / path.lstrip("/")).exists()


def test_v2_bind_mount_without_cgroupns(rt, bundle):
    """Without a cgroup namespace hull binds the container's own directory; runc 1.1.5
    mounts a fresh cgroup2 there, which shows the root of the hierarchy."""
    if not rt.is_hull:
        pytest.skip("hull's behaviour (runc shows the hierarchy's root)")
    bundle.config["mounts"].append(CGROUP_MOUNT)
    bundle.config["linux"]["resources"] = {"pids": {"limit": 17}}
    bundle.set_args(*sh("cat /sys/fs/cgroup/pids.max"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["17"]


def test_v2_oom_kill(rt, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    bundle.set_args(*sh(OOM_SCRIPT + "; echo status=$?"))
    r = rt.run(rt.new_id(), bundle, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "status=137" in r.stdout


def test_v2_fork_bomb_stops_at_pids_limit(rt, bundle):
    bundle.config["linux"]["resources"] = {"pids": {"limit": 8}}
    bundle.set_args(*sh("sh -c 'for i in $(seq 1 30); do sleep 30 & done' 2>/dev/null; "
                        "echo forked; exec sleep 30"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    assert wait_for(lambda: "forked" in (bundle.path / "stdout").read_text(), timeout=60)
    assert int(read(pid, "", "pids.current")) <= 8
    assert int(read(pid, "", "pids.events").split()[1]) > 0


def test_v2_pause_resume(rt, bundle):
    bundle.set_args(*sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/count; done"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)

    def count():
        try:
            return int((bundle.rootfs / "tmp/count").read_text().strip() or 0)
        except (OSError, ValueError):
            return 0
    assert wait_for(lambda: count() > 5, timeout=30)
    assert rt("pause", cid).returncode == 0
    assert rt.state(cid)["status"] == "paused"
    pid = rt.state(cid)["pid"]
    assert read(pid, "", "cgroup.freeze") == "1"
    a = count()
    time.sleep(1)
    assert count() == a
    assert rt("resume", cid).returncode == 0
    assert wait_for(lambda: count() > a, timeout=30)


def test_v2_device_filter(rt, bundle):
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    bundle.set_args(*sh("echo x > /dev/null && echo null-ok; mknod /dev/kmsg2 c 1 11 && mknod /dev/null2 c 1 3 && "
                        "echo mknod-ok; head -c1 /dev/kmsg2 2>&1; echo; echo x > /dev/null2 && echo null2-ok"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert "null-ok" in r.stdout and "mknod-ok" in r.stdout and "null2-ok" in r.stdout
    assert "Operation not permitted" in r.stdout


def test_v2_unified_keys(rt, bundle):
    bundle.config["linux"]["resources"] = {"unified": {"pids.max": "7", "memory.high": "50000000"}}
    with_cgroupns(bundle)
    bundle.set_args(*sh("cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.high"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["7", "49999872"]


def test_v2_unified_unknown_key_fails(rt, bundle, leftovers):
    bundle.config["linux"]["resources"] = {"unified": {"nosuch.file": "1"}}
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    if rt.is_hull:
        assert "unified.nosuch.file" in r.stderr
    leftovers(rt, cid)


def test_v2_hugetlb(rt, bundle):
    if "hugetlb" not in (CG / "cgroup.controllers").read_text().split() or \
            not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no hugetlb controller with 2MB pages")
    bundle.config["linux"]["resources"] = {"hugepageLimits": [{"pageSize": "2MB",
                                                               "limit": 4 << 20}]}
    with_cgroupns(bundle)
    bundle.set_args(*sh("cat /sys/fs/cgroup/hugetlb.2MB.max"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(4 << 20)]


def test_v2_realtime_is_an_error(rt, bundle, leftovers):
    if not rt.is_hull:
        pytest.skip("hull's check")
    bundle.config["linux"]["resources"] = {"cpu": {"realtimeRuntime": 1000,
                                                   "realtimePeriod": 1000000}}
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0 and "cpu.realtimeRuntime" in r.stderr
    leftovers(rt, cid)


def test_v2_update_swap_alone_uses_the_memory_limit(rt, bundle):
    """v1's memory+swap becomes memory.swap.max = swap - memory.max, also when update gives
    only --memory-swap."""
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    r = rt("update", "--memory-swap", str(200 << 20), cid)
    assert r.returncode == 0, r.stderr
    assert read(pid, "", "memory.swap.max") == str(136 << 20)
    assert read(pid, "", "memory.max") == str(64 << 20)


def test_v2_blkio_weight(rt, bundle):
    """blockIO.weight: io.bfq.weight as is, else io.weight converted from [10, 1000] to
    [1, 10000] (runc's conversion: 500 -> 4950)."""
    bundle.config["linux"]["resources"] = {"blockIO": {"weight": 500}}
    with_cgroupns(bundle)
    bundle.set_args(*sh("cat /sys/fs/cgroup/io.bfq.weight 2>/dev/null || "
                        "cat /sys/fs/cgroup/io.weight 2>/dev/null || echo none"))
    r = rt.run(rt.new_id(), bundle)
    if r.returncode != 0 and "io.weight" in r.stderr:
        pytest.skip(f"no io weight here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    if r.stdout.strip() == "none":
        pytest.skip("no io.weight / io.bfq.weight file")
    assert r.stdout.split()[:2] in (["default", "500"], ["default", "4950"])
