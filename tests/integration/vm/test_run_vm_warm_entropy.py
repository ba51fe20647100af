"""cloud18: clones restored from one warm snapshot part random state on every kernel, with
VMGENID (Debian's stock kernel) or without it (the cloud flavour): the engine sends the agent
fresh bytes of the host's getrandom (ENTROPY, docs/vm-agent.md) and the agent reseeds the
guest's CRNG with them before the process runs, and says so on the console. boot_id: the
kernel makes it on its first read, which no one does before the snapshot (the agent never
reads it), so each clone's is its own, made after the reseed (docs/engine.md "Fast start").

The cloud kernel is the one `bench/vm-kernels fetch` unpacks under /var/cache (or
$HULL_TEST_CLOUD_KERNEL): without it only the stock kernel's case runs."""
import glob
import os
import time

import pytest

import test_run_vm as trv

RESEEDED = "hull-agent: reseeded the random generator with 64 bytes from the host"
PROBE = "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo; " \
        "cat /proc/sys/kernel/random/boot_id"


def cloud_kernel():
    env = os.environ.get("HULL_TEST_CLOUD_KERNEL")
    if env:
        return env
    found = sorted(glob.glob("/var/cache/hull-bench/kernels/*/root/boot/vmlinuz-*-cloud-*"))
    return found[-1] if found else None


def kernels():
    stock = trv.find_kernel()
    return [stock[0] if stock else None, cloud_kernel()]


@pytest.fixture
def store(hull, tmp_path):
    if not os.path.exists(trv.BUSYBOX):
        pytest.skip("busybox-static not installed")
    s = trv.Store(hull, tmp_path)
    yield s
    s.cleanup()
    assert s.run("ps", "-a", "-q").stdout == ""


def probe(store, kernel, name):
    """One detached run, read while its VM lives (the console log goes with the VM): how it
    started, (urandom hex, boot_id), and its console log."""
    store.run("run", "-d", "--vm", "--network", "none", "--kernel", kernel, "--name", name,
              "bb", "sh", "-c", PROBE + "; sleep 120")
    try:
        start = store.run("inspect", "--format", "{{.Start}}", name).stdout.strip()
        cid = store.run("inspect", "--format", "{{.Id}}", name).stdout.strip()
        out = ""
        for _ in range(120):  # bounded: 60 s
            out = store.run("logs", name).stdout
            if len(out.split()) == 2:
                break
            time.sleep(0.5)
        logs = glob.glob(str(store.vm_dir() / "run" / f"{cid}*" / "console.log"))
        assert len(logs) == 1, (cid, logs)
        with open(logs[0], errors="replace") as f:
            console = f.read()
    finally:
        store.run("rm", "-f", name)
    rnd, boot_id = out.split()
    assert len(rnd) == 32 and len(boot_id) == 36, out
    return start, (rnd, boot_id), console


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("which", ["stock", "cloud"])
def test_warm_clones_reseeded(store, which):
    kernel = kernels()[which == "cloud"]
    if not kernel:
        pytest.skip(f"no {which} kernel (cloud: bench/vm-kernels fetch, on the host)")
    start, first, console = probe(store, kernel, "e0")
    assert start == "cold+snapshot"
    assert RESEEDED not in console  # a boot has its own random state: nothing sent
    seen = [first]
    for i in (1, 2):
        start, got, console = probe(store, kernel, f"e{i}")
        assert start == "restored"
        assert console.count(RESEEDED) == 1, console[-2000:]
        seen.append(got)
    # no two runs of the snapshot share random bytes or boot_id
    assert len({s[0] for s in seen}) == 3, seen
    assert len({s[1] for s in seen}) == 3, seen
