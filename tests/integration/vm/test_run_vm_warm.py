"""`hull run --vm` from the warm snapshot (docs/engine.md "Fast start"): the first run of an
image boots and snapshots the guest at its ready agent, later runs restore it. Each VM costs a
boot or a restore in the sandbox: the checks share few runs."""
import os
import subprocess
import threading
import time

import pytest

import test_run_vm as trv

WARM_CASES = trv.CASES + [
    (["-t"], ["sh", "-c", "tty >/dev/null && echo a-tty; exit 2"], None),
]


@pytest.fixture
def store(hull, tmp_path):
    if not os.path.exists(trv.BUSYBOX):
        pytest.skip("busybox-static not installed")
    if not trv.find_kernel():
        pytest.skip("no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)")
    s = trv.Store(hull, tmp_path)
    yield s
    s.cleanup()
    assert s.run("ps", "-a", "-q").stdout == ""


def warm_dirs(store):
    return sorted(p for p in store.vm_dir().glob("*/warm-*"))


def named_run(store, name, *cmd, env=None):
    """A VM run kept until rm: how it started (inspect's Start) and its result."""
    t = time.monotonic()
    # --network none: the warm snapshot serves runs without a NIC (docs/engine.md "Fast start")
    r = subprocess.run([store.hull, "run", "--vm", "--network", "none", "--name", name, "bb",
                        *cmd],
                       capture_output=True, text=True, env=env or store.env,
                       stdin=subprocess.DEVNULL, timeout=trv.RUN_TIMEOUT)
    start = store.run("inspect", "--format", "{{.Start}}", name).stdout.strip()
    print(f"{name}: {start} in {time.monotonic() - t:.1f} s")
    store.run("rm", name)
    return start, r


@pytest.mark.sandbox
@pytest.mark.slow
def test_run_vm_warm(store):
    uuid = ["cat", "/proc/sys/kernel/random/uuid"]
    start, first = named_run(store, "w0", *uuid)
    assert (start, first.returncode) == ("cold+snapshot", 0), first
    assert len(warm_dirs(store)) == 1
    uuids = {first.stdout}
    for i in (1, 2):
        start, r = named_run(store, f"w{i}", *uuid)
        assert (start, r.returncode, r.stderr) == ("restored", 0, ""), r
        uuids.add(r.stdout)
    # the generation ID reseeds the clone's RNG: no two runs share random state
    assert len(uuids) == 3, uuids
    # HULL_VM_COLD forces a boot
    start, r = named_run(store, "wc", "true", env=dict(store.env, HULL_VM_COLD="1"))
    assert (start, r.returncode) == ("cold", 0), r

    # restored as a container: env, cwd, -u, exit 3, signal death, stdin, -t
    for opts, cmd, stdin in WARM_CASES:
        ctr = store.run("run", "--rm", *opts, "bb", *cmd, check=False, input=stdin)
        vm = store.run("run", "--rm", "--vm", "--network", "none", *opts, "bb", *cmd,
                       check=False, input=stdin)
        assert (vm.returncode, vm.stdout) == (ctr.returncode, ctr.stdout), \
            (opts, cmd, ctr, vm)
        assert "warning" not in vm.stderr, vm
    vm = store.run("run", "--rm", "--vm", "--network", "none", "bb", "sh", "-c", "kill -9 $$",
                   check=False)
    assert (vm.returncode, vm.stdout, vm.stderr) == (137, "", ""), vm
    # the guest's wall clock is the host's, not the snapshot's
    vm = store.run("run", "--rm", "--vm", "--network", "none", "bb", "busybox", "date", "+%s")
    host = int(subprocess.run(["date", "+%s"], capture_output=True, text=True).stdout)
    assert abs(int(vm.stdout) - host) < 120, (vm.stdout, host)
    assert trv.vmm_procs(store) == []
    assert trv.leftovers(store) == []

    # a damaged snapshot is rebuilt, never restored
    snap = warm_dirs(store)[0]
    state = snap / "state"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    start, r = named_run(store, "wd", "echo", "ok")
    assert (start, r.returncode, r.stdout) == ("cold+snapshot", 0, "ok\n"), r
    assert warm_dirs(store) == [snap] and state.read_bytes() != bytes(data)
    start, r = named_run(store, "wr", "echo", "ok")
    assert (start, r.stdout) == ("restored", "ok\n"), r

    # two concurrent first runs: both succeed, one snapshot
    subprocess.run(["rm", "-rf", str(snap)], check=True)
    results = [None, None]

    def run(i):
        results[i] = store.run("run", "--rm", "--vm", "--network", "none", "bb", "echo",
                               f"c{i}", check=False)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(r.returncode, r.stdout) for r in results] == [(0, "c0\n"), (0, "c1\n")], results
    assert len(warm_dirs(store)) == 1
    start, r = named_run(store, "wl", "true")
    assert start == "restored", r
    assert store.run("ps", "-a", "-q").stdout == ""
    assert trv.vmm_procs(store) == []
    assert trv.leftovers(store) == []
