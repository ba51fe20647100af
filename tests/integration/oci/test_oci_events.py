"""events: runc's JSON lines ({"type":"stats","id":..,"data":{cpu,memory,pids,blkio,..}}),
--stats once, --interval, and an "oom" event when the kernel's OOM killer strikes."""
import json
import subprocess
import time

import pytest

from cglib import CG, OOM_SCRIPT, is_v2
from ocilib import sh

pytestmark = pytest.mark.skipif(not (CG / "memory").is_dir() and not is_v2(),
                                reason="needs cgroup v1 controllers or cgroup v2")


def test_events_stats_once(rt, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}
    bundle.set_args(*sh("sleep 1000 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; wait"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    time.sleep(0.3)
    r = rt("events", "--stats", cid, timeout=20)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    d = ev["data"]
    assert d["memory"]["usage"]["limit"] == 64 << 20
    assert d["memory"]["usage"]["usage"] > 0
    assert d["pids"]["current"] >= 2
    assert d["pids"]["limit"] == 50
    assert d["cpu"]["usage"]["total"] > 0
    assert "blkio" in d


def test_events_interval_streams_until_stopped(rt, bundle):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    p = subprocess.Popen(rt.cmd("events", "--interval", "200ms", cid), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        second = json.loads(p.stdout.readline())
        assert first["type"] == second["type"] == "stats"
        assert first["id"] == cid
    finally:
        assert rt("kill", cid, "KILL").returncode == 0
    # hull ends the stream once the container has stopped (runc 1.1.5 keeps going).
    if rt.is_hull:
        p.wait(timeout=30)
    else:
        p.kill()
        p.wait()


def test_events_oom(rt, bundle):
    res = {"memory": {"limit": 32 << 20}}
    if not is_v2():
        res["memory"]["swap"] = 32 << 20
    bundle.config["linux"]["resources"] = res
    bundle.set_args(*sh(f"sleep 1; {OOM_SCRIPT}; sleep 1000"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    p = subprocess.Popen(rt.cmd("events", "--interval", "30s", cid), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = None
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            if ev["type"] == "oom":
                seen = ev
                break
        assert seen and seen["id"] == cid
    finally:
        p.kill()
        p.wait()


def test_events_on_stopped_container_fails(rt, bundle):
    bundle.set_args("/bin/true")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    rt.wait_status(cid, "stopped")
    r = rt("events", "--stats", cid, timeout=20)
    assert r.returncode != 0


def test_events_unknown_container(rt):
    r = rt("events", "--stats", "nosuch-container", timeout=20)
    assert r.returncode != 0
    if rt.is_hull:
        assert "nosuch-container" in r.stderr
