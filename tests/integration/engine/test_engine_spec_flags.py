"""The run/create flags that set one config.json field each (src/cli/create-spec.h's table):
--oom-score-adj, --memory-reservation, --memory-swappiness, --oom-kill-disable, --cpu-period,
--cpu-quota, --cpuset-mems, --blkio-weight. Seeded random combinations land in the fields the table names;
bad values and the cross-flag rules are one line naming the flag, exit 125, nothing created;
the values reach the kernel (cgroup v1 files on this host, oom_score_adj)."""
import json
import random

import pytest

MIB = 1 << 20


def config(h, flags):
    cid = h.out("create", *flags, "busybox", "true").strip()
    try:
        return json.loads((h.root / "containers" / cid / "config.json").read_text())
    finally:
        h.run("rm", cid)


def draw(rng):
    """Flags and the config.json fields they must give (path tuple -> value)."""
    flags, want = [], {}
    if rng.random() < 0.5:
        v = rng.randint(-1000, 1000)
        flags += ["--oom-score-adj", str(v)]
        want[("process", "oomScoreAdj")] = v
    mem = 0
    if rng.random() < 0.5:
        mem = rng.randint(8, 512) * MIB
        flags += ["-m", f"{mem // MIB}m"]
        want[("linux", "resources", "memory", "limit")] = mem
    if rng.random() < 0.5:
        r = rng.randint(1, (mem // MIB) if mem else 512) * MIB
        flags += ["--memory-reservation", f"{r // MIB}m"]
        want[("linux", "resources", "memory", "reservation")] = r
    if rng.random() < 0.5:
        v = rng.randint(0, 100)
        flags += ["--memory-swappiness", str(v)]
        want[("linux", "resources", "memory", "swappiness")] = v
    if rng.random() < 0.3:
        flags += ["--oom-kill-disable"]
        want[("linux", "resources", "memory", "disableOOMKiller")] = True
    if rng.random() < 0.5:
        p = rng.randint(1000, 1000000)
        flags += ["--cpu-period", str(p)]
        want[("linux", "resources", "cpu", "period")] = p
    if rng.random() < 0.5:
        q = rng.choice([-1, rng.randint(1000, 4000000)])
        flags += ["--cpu-quota", str(q)]
        want[("linux", "resources", "cpu", "quota")] = q
    if rng.random() < 0.5:
        w = rng.randint(10, 1000)
        flags += ["--blkio-weight", str(w)]
        want[("linux", "resources", "blockIO", "weight")] = w
    if rng.random() < 0.3:
        flags += ["--cpuset-mems", "0"]
        want[("linux", "resources", "cpu", "mems")] = "0"
    return flags, want


def get(cfg, path):
    for k in path:
        cfg = cfg[k]
    return cfg


@pytest.mark.parametrize("seed", range(12))
def test_random_combinations_land_in_their_fields(bb, seed):
    rng = random.Random(seed)
    flags, want = draw(rng)
    cfg = config(bb, flags)
    for path, value in want.items():
        assert get(cfg, path) == value, (flags, path)
    if ("process", "oomScoreAdj") not in want:
        assert "oomScoreAdj" not in cfg["process"]


def test_the_last_of_a_repeated_flag_wins_and_unset_values_set_nothing(bb):
    cfg = config(bb, ["--oom-score-adj", "5", "--oom-score-adj", "-7",
                      "--memory-swappiness", "10", "--memory-swappiness", "-1",
                      "--memory-reservation", "0", "--cpu-period", "0", "--cpu-quota", "0"])
    assert cfg["process"]["oomScoreAdj"] == -7
    assert cfg["linux"]["resources"] == {}


@pytest.mark.parametrize("flags,msg", [
    (["--oom-score-adj", "1001"], "--oom-score-adj 1001: must be a number from -1000 to 1000"),
    (["--oom-score-adj", "1x"], "--oom-score-adj 1x: must be a number"),
    (["--memory-swappiness", "101"], "--memory-swappiness 101: must be a number from -1 to 100"),
    (["--cpu-period", "999"], "--cpu-period 999: must be a number from 1000 to 1000000"),
    (["--cpu-quota", "10"], "--cpu-quota 10: must be at least 1000 microseconds"),
    (["--cpu-quota", "-2"], "--cpu-quota -2: must be a number from -1"),
    (["--cpus", "1", "--cpu-quota", "5000"], "--cpus: conflicts with --cpu-quota"),
    (["--cpu-period", "5000", "--cpus", "1"], "--cpus: conflicts with --cpu-period"),
    (["-m", "16m", "--memory-reservation", "32m"],
     "--memory-reservation: must not be above the memory limit (-m)"),
    (["--memory-reservation", "lots"], "--memory-reservation lots: invalid size"),
    (["--cpuset-mems", "0-"], "--cpuset-mems 0-: invalid list"),
    (["--oom-kill-disable=maybe"], "--oom-kill-disable"),
    (["--blkio-weight", "9"], "--blkio-weight 9: must be a number from 10 to 1000"),
])
def test_bad_values_name_the_flag_and_create_nothing(bb, flags, msg):
    before = sorted(p.name for p in (bb.root / "containers").iterdir() if p.name[0] != ".")
    r = bb.run("create", *flags, "busybox", "true", check=False)
    assert r.returncode == 125
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and msg in err[0], r.stderr
    assert sorted(p.name for p in (bb.root / "containers").iterdir() if p.name[0] != ".") == before


def test_values_reach_the_kernel(bb):
    out = bb.out("run", "--rm", "--network", "none", "--oom-score-adj", "321",
                 "-m", "64m", "--memory-reservation", "16m", "--memory-swappiness", "7",
                 "--cpu-period", "40000", "--cpu-quota", "20000",
                 "busybox", "sh", "-c",
                 "cat /proc/self/oom_score_adj; "
                 "for f in memory/memory.soft_limit_in_bytes memory/memory.swappiness "
                 "cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us memory.low cpu.max; do "
                 "[ -e /sys/fs/cgroup/$f ] && echo $f=$(cat /sys/fs/cgroup/$f); done; true")
    lines = out.split()
    assert lines[0] == "321"
    vals = dict(line.split("=", 1) for line in lines[1:])
    if "cpu.max" in vals:   # cgroup v2 (the sandbox's)
        assert vals["cpu.max"] == "20000 40000"
        assert vals["memory.low"] == str(16 * MIB)
    else:                   # this host's cgroup v1
        assert vals["memory/memory.soft_limit_in_bytes"] == str(16 * MIB)
        assert vals["memory/memory.swappiness"] == "7"
        assert vals["cpu/cpu.cfs_period_us"] == "40000"
        assert vals["cpu/cpu.cfs_quota_us"] == "20000"


def test_inspect_shows_what_was_given(bb):
    cid = bb.out("create", "--oom-score-adj", "-5", "--memory-reservation", "8m",
                 "--oom-kill-disable", "--cpu-period", "20000", "--cpuset-mems", "0",
                 "busybox", "true").strip()
    try:
        hc = bb.inspect(cid)["HostConfig"]
        assert (hc["OomScoreAdj"], hc["MemoryReservation"], hc["OomKillDisable"],
                hc["CpuPeriod"], hc["CpusetMems"]) == (-5, 8 * MIB, True, 20000, "0")
        assert "CpuQuota" not in hc and "MemorySwappiness" not in hc
        # the record read back (another hull process) gives the same
        again = bb.inspect(cid)["HostConfig"]
        assert {k: again[k] for k in ("OomScoreAdj", "CpusetMems")} == \
            {"OomScoreAdj": -5, "CpusetMems": "0"}
    finally:
        bb.run("rm", cid)
