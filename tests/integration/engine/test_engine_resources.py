"""Resource flags of hull run/create (-m, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus,
--pids-limit, --memory-reservation, --memory-swappiness, --oom-kill-disable, --cpu-period,
--cpu-quota, --cpuset-mems): parsed as docker parses them and written into linux.resources as podman
writes them (compared with the config.json podman generates on this host)."""
import json
import pathlib

import pytest

FLAG_SETS = [
    ["-m", "64m"],
    ["-m", "64m", "--memory-swap", "-1"],
    ["-m", "64m", "--memory-swap", "200m"],
    ["--memory", "1000000b"],
    ["--cpus", "0.5"],
    ["--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0"],
    ["-m", "64m", "--cpus", "0.5", "--pids-limit", "10"],
    ["--pids-limit", "100"],
    # the one-field flags of cli/create-spec.h
    ["--memory-reservation", "32m"],
    ["-m", "64m", "--memory-reservation", "32m", "--memory-swappiness", "10"],
    ["--oom-kill-disable"],
    ["--cpu-period", "50000", "--cpu-quota", "25000"],
    ["--cpuset-mems", "0", "--cpuset-cpus", "0"],
]


def hull_resources(h, flags):
    cid = h.out("create", *flags, "busybox", "true").strip()
    cfg = json.loads((h.root / "containers" / cid / "config.json").read_text())
    h.run("rm", cid)
    return cfg["linux"]["resources"]


@pytest.fixture
def podman_bb(bb, podman, tmp_path):
    arch = tmp_path / "bb.tar"
    bb.run("save", "-o", arch, "busybox")
    podman("load", "-i", arch)
    return podman


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: " ".join(f))
def test_resources_as_podman_writes_them(bb, podman_bb, flags):
    res = hull_resources(bb, flags)
    name = "res-" + "".join(c for c in "-".join(flags) if c.isalnum())
    podman_bb("rm", "-f", name, check=False)
    podman_bb("create", "--name", name, *flags, "localhost/busybox:latest", "true")
    try:
        # init: podman writes config.json, then has runc create the container (which may
        # fail here: runc cannot lower the limit below what its init already uses)
        podman_bb("init", name, check=False)
        static = json.loads(podman_bb("inspect", name).stdout)[0]["StaticDir"]
        want = json.loads((pathlib.Path(static) / "config.json").read_text())
    finally:
        podman_bb("rm", "-f", name, check=False)
    want = want["linux"]["resources"]
    want.pop("devices", None)
    if "--pids-limit" not in flags:
        # podman's containers.conf default (pids_limit = 2048); docker and hull have none
        assert want.pop("pids") == {"limit": 2048}
    assert res == want


@pytest.mark.parametrize("value,size", [
    ("64m", 64 << 20), ("64M", 64 << 20), ("64mb", 64 << 20), ("64MiB", 64 << 20),
    ("64 m", 64 << 20), ("1.5g", 3 << 29), ("1.5k", 1536), ("4096", 4096), ("100b", 100),
    ("2t", 2 << 40),
])
def test_sizes_parse_as_docker(bb, value, size):
    res = hull_resources(bb, ["-m", value])
    assert res["memory"] == {"limit": size, "swap": 2 * size}


def test_zero_means_no_limit(bb):
    assert hull_resources(bb, ["-m", "0", "--pids-limit", "0", "--cpu-shares", "0"]) == {}
    assert hull_resources(bb, ["--pids-limit", "-1"]) == {}


def test_inspect_shows_the_host_config(bb):
    cid = bb.out("create", "-m", "64m", "--memory-swap", "100m", "--cpus", "0.25",
                 "--cpu-shares", "100", "--cpuset-cpus", "0-1", "--pids-limit", "7",
                 "busybox", "true").strip()
    hc = bb.inspect(cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["CpuShares"], hc["CpusetCpus"],
            hc["PidsLimit"]) == (64 << 20, 100 << 20, 250000000, 100, "0-1", 7)
    cid = bb.out("create", "-m", "64m", "--memory-swap", "-1", "busybox", "true").strip()
    assert bb.inspect(cid)["HostConfig"]["MemorySwap"] == -1


@pytest.mark.parametrize("flags,flag", [
    (["-m", "64x"], "-m 64x"), (["-m", "-1"], "-m -1"), (["-m", "1."], "-m 1."),
    (["-m", ".5m"], "-m .5m"), (["-m", "1e3"], "-m 1e3"), (["-m", "64mm"], "-m 64mm"),
    (["-m", "99999999999p"], "-m 99999999999p"), (["--memory", ""], "-m "),
    (["--memory-swap", "1g"], "--memory-swap 1g"),
    (["-m", "64m", "--memory-swap", "32m"], "--memory-swap 32m"),
    (["-m", "1m", "--memory-swap", "x"], "--memory-swap x"),
    (["--cpus", "0"], "--cpus 0"), (["--cpus", "1,5"], "--cpus 1,5"),
    (["--cpu-shares", "-1"], "--cpu-shares -1"), (["-c", "300000"], "--cpu-shares 300000"),
    (["--cpu-shares", "1.5"], "--cpu-shares 1.5"),
    (["--cpuset-cpus", "3-1"], "--cpuset-cpus 3-1"), (["--cpuset-cpus", "0,"], "--cpuset-cpus 0,"),
    (["--cpuset-cpus", "x"], "--cpuset-cpus x"), (["--cpuset-cpus", "99999"], "--cpuset-cpus 99999"),
    (["--pids-limit", "-2"], "--pids-limit -2"),
    (["--pids-limit", "99999999999999999999"], "--pids-limit 99999999999999999999"),
])
def test_bad_values_are_flag_errors(bb, flags, flag):
    for cmd in ("create", "run"):
        r = bb.run(cmd, *flags, "busybox", "true", check=False)
        assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and flag + ":" in lines[0], r.stderr
        assert r.stdout == ""
    assert bb.out("ps", "-a", "-q") == ""
