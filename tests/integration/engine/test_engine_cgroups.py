"""Resource limits enforced end to end on this cgroup v1 host: hull writes linux.resources,
the runtime (src/container/cgroup*.c) applies them at create. The limits are read from the
host through the init's /proc/PID/cgroup (`hull inspect`'s pid); a process over the memory
limit is OOM-killed (137), a fork loop stops at the pids limit, `hull stats` shows the
memory cgroup's usage and limit."""
import pathlib
import re
import time

import pytest

CG = pathlib.Path("/sys/fs/cgroup")


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def cgroup_dir(pid: int, controller: str) -> pathlib.Path:
    """The v1 directory of pid's cgroup for controller (hierarchies mounted by name here)."""
    for line in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctls, path = line.split(":", 2)
        if controller in ctls.split(","):
            for mnt in (CG / ctls, CG / controller):
                if mnt.is_dir():
                    return mnt / path.lstrip("/")
    pytest.skip(f"no cgroup v1 {controller} hierarchy on this host")


@pytest.fixture
def limited(bb):
    cid = bb.out("run", "-d", "--name", "lim", "-m", "48m", "--memory-swap", "64m",
                 "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
                 "--pids-limit", "12", "busybox", "sleep", "300").strip()
    yield cid
    bb.run("rm", "-f", "lim", check=False)


def test_limits_are_applied_to_the_containers_cgroups(bb, limited):
    pid = int(bb.out("inspect", "-f", "{{.State.Pid}}", "lim"))
    mem = cgroup_dir(pid, "memory")
    assert mem != CG / "memory"  # a cgroup of its own, not the host's root
    assert int((mem / "memory.limit_in_bytes").read_text()) == 48 << 20
    memsw = mem / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        assert int(memsw.read_text()) == 64 << 20
    cpu = cgroup_dir(pid, "cpu")
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == 50000
    assert int((cpu / "cpu.cfs_period_us").read_text()) == 100000
    assert int((cpu / "cpu.shares").read_text()) == 512
    assert (cgroup_dir(pid, "cpuset") / "cpuset.cpus").read_text().strip() == "0"
    pids = cgroup_dir(pid, "pids")
    assert (pids / "pids.max").read_text().strip() == "12"
    assert str(pid) in (pids / "cgroup.procs").read_text().split()


def test_limits_are_visible_inside_read_only(bb):
    r = bb.run("run", "--rm", "-m", "48m", "--pids-limit", "12", "busybox", "sh", "-c",
               "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max;"
               " echo 1 > /sys/fs/cgroup/pids/pids.max", check=False)
    assert r.stdout.split() == [str(48 << 20), "12"]
    assert r.returncode != 0 and "Read-only file system" in r.stderr


def test_cgroups_go_away_with_the_container(bb, limited):
    pid = int(bb.out("inspect", "-f", "{{.State.Pid}}", "lim"))
    mem = cgroup_dir(pid, "memory")
    bb.run("rm", "-f", "lim")
    assert wait_for(lambda: not mem.exists())


def test_over_the_memory_limit_is_oom_killed(bb):
    # dd's 64 MiB buffer is filled from /dev/zero: far over 16m (no swap allowed either)
    r = bb.run("run", "--rm", "-m", "16m", "--memory-swap", "16m", "busybox",
               "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", check=False)
    assert r.returncode == 137, (r.returncode, r.stderr)
    # the same under a higher limit succeeds
    r = bb.run("run", "--rm", "-m", "128m", "busybox",
               "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", check=False)
    assert r.returncode == 0, r.stderr
    # a detached container's OOM kill is its recorded exit status
    bb.run("run", "-d", "--name", "oom", "-m", "16m", "--memory-swap", "16m", "busybox",
           "sh", "-c", "sleep 0.2; dd if=/dev/zero of=/dev/null bs=64M count=1")
    assert wait_for(lambda: bb.out("inspect", "-f", "{{.State.Status}}", "oom").strip()
                    == "exited")
    assert bb.out("inspect", "-f", "{{.State.ExitCode}}", "oom").strip() == "137"


GROW = "x=a; while :; do x=$x$x; done"  # doubles a shell variable until the OOM killer ends it


@pytest.mark.parametrize("detached", [False, True])
def test_oom_killed_is_recorded(bb, detached):
    """OOMKilled (docker's): true when the init was OOM-killed, read from the cgroup's count
    (v1 memory.oom_control here) before the runtime deletes it; false for a normal exit and
    for a killed child only."""
    check_oom_killed(bb, detached)


@pytest.mark.sandbox
@pytest.mark.parametrize("detached", [False, True])
def test_oom_killed_is_recorded_cgroup_v2(bb, detached):
    """The same from v2's memory.events, in the sandbox VM."""
    if not (CG / "cgroup.controllers").exists():
        pytest.skip("needs cgroup v2")
    check_oom_killed(bb, detached)


def check_oom_killed(bb, detached):
    lim = ["-m", "8m", "--memory-swap", "8m"]
    try:
        if detached:
            bb.run("run", "-d", "--name", "oomk", *lim, "busybox", "sh", "-c", GROW)
            assert wait_for(lambda: bb.out("inspect", "-f", "{{.State.Status}}",
                                           "oomk").strip() == "exited", 60)
        else:
            r = bb.run("run", "--name", "oomk", *lim, "busybox", "sh", "-c", GROW, check=False)
            assert r.returncode == 137, (r.returncode, r.stderr)
        assert bb.out("inspect", "-f", "{{.State.ExitCode}}", "oomk").strip() == "137"
        assert bb.out("inspect", "-f", "{{.State.OOMKilled}}", "oomk").strip() == "true"
        # a start that exits normally clears it
        bb.run("rm", "oomk")
        bb.run("run", "--name", "oomk", *lim, "busybox", "true")
        assert bb.out("inspect", "-f", "{{.State.OOMKilled}}", "oomk").strip() == "false"
        bb.run("rm", "oomk")
        # a child OOM-killed while the init goes on to exit 0: not the init's death
        r = bb.run("run", "--name", "oomk", *lim, "busybox", "sh", "-c",
                   f"sh -c '{GROW}'; exit 0", check=False)
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert bb.out("inspect", "-f", "{{.State.OOMKilled}}", "oomk").strip() == "false"
    finally:
        bb.run("rm", "-f", "oomk", check=False)
    assert bb.run("inspect", "oomk", check=False).returncode != 0


def test_fork_loop_stops_at_the_pids_limit(bb):
    # An inner shell starts 40 background sleeps under --pids-limit 8 (bounded: never a real
    # fork bomb) and dies at the first fork refused; the init shell then reports and stays.
    bb.run("run", "-d", "--name", "forks", "--pids-limit", "8", "busybox", "sh", "-c",
           "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done; echo all'; "
           "echo spawned; exec sleep 60")
    try:
        assert wait_for(lambda: "spawned" in bb.out("logs", "forks"))
        logs = bb.run("logs", "forks")
        assert "all" not in logs.stdout and "can't fork" in logs.stderr
        pid = int(bb.out("inspect", "-f", "{{.State.Pid}}", "forks"))
        pids = cgroup_dir(pid, "pids")
        assert int((pids / "pids.events").read_text().split()[1]) > 0  # "max N": refusals
        # the init and the six sleeps that got in (the inner shell took the eighth place)
        n = int((pids / "pids.current").read_text())
        assert n == 7
        assert len(bb.out("top", "forks").splitlines()) - 1 == n
        row = bb.out("stats", "--no-stream", "forks").splitlines()[1]
        assert row.split()[-1] == str(n)
    finally:
        bb.run("rm", "-f", "forks", check=False)


def test_stats_shows_the_memory_cgroup(bb, limited):
    lines = bb.out("stats", "--no-stream").splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["CONTAINER ID", "NAME", "CPU %",
                                            "MEM USAGE / LIMIT", "MEM %", "PIDS"]
    row = re.split(r"\s{2,}", lines[1])
    assert row[0] == limited[:12] and row[1] == "lim"
    m = re.fullmatch(r"([\d.]+)(B|KiB|MiB) / 48MiB", row[3])
    assert m, row
    pid = int(bb.out("inspect", "-f", "{{.State.Pid}}", "lim"))
    usage = int((cgroup_dir(pid, "memory") / "memory.usage_in_bytes").read_text())
    shown = float(m.group(1)) * {"B": 1, "KiB": 1024, "MiB": 1 << 20}[m.group(2)]
    assert 0 < shown <= usage * 1.1
    assert row[5] == "1"
    # without -m the limit shown is the host's memory
    bb.run("run", "-d", "--name", "free", "busybox", "sleep", "300")
    row = re.split(r"\s{2,}", bb.out("stats", "--no-stream", "free").splitlines()[1])
    host = pathlib.Path("/proc/meminfo").read_text().split()[1]  # MemTotal in kB
    assert row[3].endswith("GiB") and abs(float(row[3].split(" / ")[1][:-3]) * (1 << 20)
                                          - int(host)) < int(host) * 0.01
    bb.run("rm", "-f", "free")


def test_mknod_in_dev_cannot_reach_host_devices(bb):
    # CAP_MKNOD is in the default set and /dev is the container's own tmpfs: the runtime's
    # device cgroup is what keeps a node made there (here /dev/mem's numbers) from opening
    r = bb.run("run", "--rm", "busybox", "sh", "-c",
               "mknod /dev/x c 1 1 && echo made && head -c 1 /dev/x", check=False)
    assert r.stdout == "made\n"
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
