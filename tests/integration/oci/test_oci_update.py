"""update: runc's flags and --resources FILE|-, applied to a running container's cgroup; all or
nothing (a refused value leaves the old ones); a stopped container is an error. Runs on the
host (cgroup v1) and, in the sandbox, on cgroup v2."""
import json

import pytest

from cglib import CG, is_v2, read, unique_path

pytestmark = pytest.mark.skipif(not (CG / "memory").is_dir() and not is_v2(),
                                reason="needs cgroup v1 controllers or cgroup v2")


def mem_limit(pid):
    v = read(pid, "", "memory.max") if is_v2() else read(pid, "memory", "memory.limit_in_bytes")
    return -1 if v == "max" else int(v)


def pids_max(pid):
    return read(pid, "" if is_v2() else "pids", "pids.max")


def cpu_quota(pid):
    if is_v2():
        return read(pid, "", "cpu.max").split()
    return [read(pid, "cpu", "cpu.cfs_quota_us"), read(pid, "cpu", "cpu.cfs_period_us")]


@pytest.fixture
def running(rt, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20},
                                           "pids": {"limit": 30}}
    bundle.config["linux"]["cgroupsPath"] = unique_path()
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    return cid, rt.state(cid)["pid"]


def test_update_flags(rt, running):
    cid, pid = running
    r = rt("update", "--memory", "128m", "--pids-limit", "20", "--cpu-quota", "30000",
           "--cpu-period", "100000", cid)
    assert r.returncode == 0, r.stderr
    assert mem_limit(pid) == 128 << 20
    assert pids_max(pid) == "20"
    assert cpu_quota(pid) == ["30000", "100000"]


@pytest.mark.parametrize("val,want", [("1.5m", 3 << 19), ("96 MiB", 96 << 20), ("100663296b", 96 << 20),
                                      ("80M", 80 << 20)])
def test_update_memory_in_runcs_grammar(rt, running, val, want):
    """units.RAMInBytes, as runc reads --memory: fractions, a space, any case, iB/B."""
    cid, pid = running
    r = rt("update", "--memory", val, cid)
    assert r.returncode == 0, r.stderr
    assert mem_limit(pid) == want


def test_update_cpu_shares_and_cpuset(rt, running):
    cid, pid = running
    r = rt("update", "--cpu-share", "256", "--cpuset-cpus", "0", cid)
    assert r.returncode == 0, r.stderr
    if is_v2():
        assert read(pid, "", "cpu.weight") == str(1 + (256 - 2) * 9999 // 262142)
        assert read(pid, "", "cpuset.cpus") == "0"
    else:
        assert read(pid, "cpu", "cpu.shares") == "256"
        assert read(pid, "cpuset", "cpuset.cpus") == "0"


def test_update_resources_file_and_stdin(rt, running, workdir):
    cid, pid = running
    f = workdir / "res.json"
    f.write_text(json.dumps({"memory": {"limit": 100 << 20}, "pids": {"limit": 12}}))
    r = rt("update", "--resources", str(f), cid)
    assert r.returncode == 0, r.stderr
    assert mem_limit(pid) == 100 << 20 and pids_max(pid) == "12"
    r = rt("update", "-r", "-", cid, input=json.dumps({"pids": {"limit": 13}}))
    assert r.returncode == 0, r.stderr
    assert pids_max(pid) == "13"
    assert mem_limit(pid) == 100 << 20  # untouched: not in the document
    # a document larger than the first read buffer (4 KiB): the buffer grows
    r = rt("update", "-r", "-", cid, input=json.dumps({"pids": {"limit": 14}}) + " " * 20000)
    assert r.returncode == 0, r.stderr
    assert pids_max(pid) == "14"


def test_update_unlimited(rt, running):
    cid, pid = running
    assert rt("update", "--pids-limit", "-1", "--memory", "-1", cid).returncode == 0
    assert pids_max(pid) == "max"
    assert mem_limit(pid) == -1 or mem_limit(pid) > 1 << 60


def test_update_stopped_container_fails(rt, bundle):
    bundle.set_args("/bin/true")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    rt.wait_status(cid, "stopped")
    r = rt("update", "--memory", "100m", cid)
    assert r.returncode != 0
    if rt.is_hull:
        assert "stopped" in r.stderr


def test_update_invalid_value_changes_nothing(rt, running):
    """A cpuset outside the host's CPUs: refused before anything is written."""
    cid, pid = running
    r = rt("update", "--memory", "96m", "--cpuset-cpus", "0-200", cid)
    assert r.returncode != 0
    # runc 1.1.5 on cgroup v2 writes memory.max before it fails on cpuset.cpus.
    if rt.is_hull or not is_v2():
        assert mem_limit(pid) == 64 << 20
    if rt.is_hull:
        assert "cpu.cpus" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.skipif(is_v2(), reason="memory+swap ordering is a v1 matter")
def test_update_refused_write_restores_old_values(rt, bundle):
    """memory.limit above memory+swap is refused by the kernel: pids.max written before it
    in the same update must not stay changed."""
    if not (CG / "memory/memory.memsw.limit_in_bytes").exists():
        pytest.skip("no swap accounting")
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20, "swap": 64 << 20},
                                           "pids": {"limit": 30}}
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    r = rt("update", "-r", "-", cid,
           input=json.dumps({"pids": {"limit": 5}, "memory": {"limit": 512 << 20}}))
    assert r.returncode != 0
    assert pids_max(pid) == "30"
    assert mem_limit(pid) == 64 << 20
    if rt.is_hull:
        assert "memory.limit" in r.stderr


@pytest.mark.parametrize("args,field", [
    (["--memory", "12q"], "--memory"),
    (["--memory", "-2"], "--memory"),
    (["--memory", "1.m"], "--memory"),
    (["--pids-limit", "abc"], "--pids-limit"),
])
def test_update_bad_flag_values(rt, running, args, field):
    cid, pid = running
    r = rt("update", *args, cid)
    assert r.returncode != 0
    assert pids_max(pid) == "30"
    if rt.is_hull:
        assert field in r.stderr


def test_update_bad_resources_document(rt, running, workdir):
    cid, pid = running
    f = workdir / "bad.json"
    f.write_text(json.dumps({"memory": {"limit": -7}}))
    r = rt("update", "--resources", str(f), cid)
    assert r.returncode != 0
    assert mem_limit(pid) == 64 << 20
    if rt.is_hull:
        assert "bad.json: resources.memory.limit" in r.stderr


def test_update_pause_state_roundtrip(rt, running):
    cid, _ = running
    assert rt("pause", cid).returncode == 0
    assert rt.state(cid)["status"] == "paused"
    r = rt("list", "--format", "json")
    assert r.returncode == 0
    assert rt("update", "--pids-limit", "25", cid).returncode == 0
    assert rt("resume", cid).returncode == 0
    assert rt.state(cid)["status"] == "running"
