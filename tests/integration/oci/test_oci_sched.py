"""process.scheduler, process.ioPriority, linux.personality, linux.memoryPolicy (issue 4
item 6), seen from inside the container (/proc/self/stat, ionice, uname, numa_maps).

runc 1.1.5 predates these runtime-spec 1.2 fields and ignores them: the tests that need the
setting applied are hull-only (skipped on runc with that reason)."""
import pytest

from ocilib import sh


def hull_only(rt):
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 does not implement this runtime-spec 1.2 field")


def stat_fields(text):
    """/proc/<pid>/stat fields after the comm: index 0 is field 3 (state)."""
    return text[text.rindex(")") + 2:].split()


def nice_policy(text):
    f = stat_fields(text)
    return int(f[16]), int(f[38])  # fields 19 (nice) and 41 (policy)


def run_with(rt, bundle, script, proc=None, lnx=None):
    bundle.config["process"].update(proc or {})
    bundle.config["linux"].update(lnx or {})
    bundle.set_args(*sh(script))
    return rt.run(rt.new_id(), bundle, timeout=30)


@pytest.mark.parametrize("sched,nice,policy", [
    ({"policy": "SCHED_OTHER", "nice": 7}, 7, 0),
    ({"policy": "SCHED_BATCH", "nice": -5}, -5, 3),
    ({"policy": "SCHED_IDLE"}, 0, 5),
])
def test_scheduler(rt, bundle, sched, nice, policy):
    hull_only(rt)
    r = run_with(rt, bundle, "cat /proc/self/stat", proc={"scheduler": sched})
    assert r.returncode == 0, r.stderr
    assert nice_policy(r.stdout) == (nice, policy)


def test_realtime_refused_or_applied_never_hangs(rt, bundle):
    """SCHED_FIFO: on a cgroup v1 host whose cpu cgroup has cpu.rt_runtime_us = 0 the kernel
    says EPERM: one clear line naming the field. Where a budget exists it applies."""
    hull_only(rt)
    r = run_with(rt, bundle, "cat /proc/self/stat",
                 proc={"scheduler": {"policy": "SCHED_FIFO", "priority": 10}})
    if r.returncode == 0:
        assert nice_policy(r.stdout)[1] == 1
    else:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "config.json: process.scheduler: SCHED_FIFO" in lines[0]
        assert "rt_runtime_us" in lines[0], lines


@pytest.mark.parametrize("cls,prio,want", [
    ("IOPRIO_CLASS_BE", 6, "best-effort: prio 6"),
    ("IOPRIO_CLASS_IDLE", 0, "idle"),
    ("IOPRIO_CLASS_RT", 2, "realtime: prio 2"),
])
def test_io_priority(rt, bundle, cls, prio, want):
    hull_only(rt)
    r = run_with(rt, bundle, "ionice -p $$",
                 proc={"ioPriority": {"class": cls, "priority": prio}})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(want), r.stdout


def test_personality_linux32(rt, bundle):
    hull_only(rt)
    r = run_with(rt, bundle, "uname -m", lnx={"personality": {"domain": "LINUX32"}})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("i686", "i386"), r.stdout


def test_personality_flag(rt, bundle):
    """ADDR_NO_RANDOMIZE (0x40000) shows in /proc/self/personality."""
    hull_only(rt)
    r = run_with(rt, bundle, "cat /proc/self/personality",
                 lnx={"personality": {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}})
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip(), 16) == 0x40000, r.stdout


def test_memory_policy_bind(rt, bundle):
    hull_only(rt)
    r = run_with(rt, bundle, "cat /proc/self/numa_maps",
                 lnx={"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0"}})
    assert r.returncode == 0, r.stderr
    assert "bind:0" in r.stdout, r.stdout[:300]


@pytest.mark.parametrize("proc,lnx,field", [
    ({"scheduler": {"policy": "SCHED_NOPE"}}, {}, "process.scheduler.policy"),
    ({"scheduler": {"policy": "SCHED_OTHER", "nice": 40}}, {}, "process.scheduler.nice"),
    ({"scheduler": {"policy": "SCHED_FIFO"}}, {}, "process.scheduler.priority"),
    ({"scheduler": {"policy": "SCHED_OTHER", "flags": ["X"]}}, {}, "process.scheduler.flags[0]"),
    ({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 5}}, {},
     "process.scheduler"),
    ({"ioPriority": {"class": "IOPRIO_CLASS_X"}}, {}, "process.ioPriority.class"),
    ({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}, {},
     "process.ioPriority.priority"),
    ({}, {"personality": {"domain": "WIN32"}}, "linux.personality.domain"),
    ({}, {"personality": {"domain": "LINUX", "flags": ["NOPE"]}}, "linux.personality.flags[0]"),
    ({}, {"memoryPolicy": {"mode": "MPOL_NOPE"}}, "linux.memoryPolicy.mode"),
    ({}, {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "3-1"}}, "linux.memoryPolicy.nodes"),
    ({}, {"memoryPolicy": {"mode": "MPOL_BIND"}}, "linux.memoryPolicy.nodes"),
    ({}, {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0",
                           "flags": ["MPOL_F_X"]}}, "linux.memoryPolicy.flags[0]"),
])
def test_bad_input(rt, bundle, leftovers, proc, lnx, field):
    hull_only(rt)
    bundle.config["process"].update(proc)
    bundle.config["linux"].update(lnx)
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"config.json: {field}" in lines[0], r.stderr
    leftovers(rt, cid)
