"""`hull top` on a VM container (guest18, docs/engine.md "hull run --vm"): the guest agent
answers a TOP frame with the processes that descend from it (guest/agent/top.c), the engine
decodes it without trusting it (src/engine/vm-top.c).

Host side, no KVM: the agent's test socket (hull-agent --unix) lists what it started and only
that, and `hull top` refuses ps options with one line. In the sandbox: one `-d` VM container
running sleep, `hull top` shows it, rm -f leaves nothing."""
import glob
import os
import pathlib
import signal
import struct
import subprocess
import sys
import time

import pytest

from vmhelpers import find_kernel, vmm_procs
from vmhelpers import agent_frame as frame, agent_read_frame as read_frame
from vmhelpers import agent_proc_payload, agent_session

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from engine_helpers import Hull, cleanup_store, make_rootfs  # noqa: E402

WAIT = 600  # a boot in the sandbox (nested KVM under TCG) is slow
TOP, TOP_REPLY, EXEC, SIGNAL, EXIT = 17, 18, 3, 7, 10


def top(path):
    """The agent's TOP_REPLY, decoded: [(pid, ppid, uid, cmd)], then the session closes."""
    s = agent_session(path)
    s.sendall(frame(TOP))
    t, body = read_frame(s)
    assert t == TOP_REPLY, (t, body)
    assert read_frame(s) is None  # the agent closes after its answer
    s.close()
    n, flags = struct.unpack_from("<II", body)
    assert flags == 0
    out, pos = [], 8
    for _ in range(n):
        pid, ppid, uid, cl, _ms, _rss = struct.unpack_from("<IIIIQQ", body, pos)
        out.append((pid, ppid, uid, body[pos + 32:pos + 32 + cl].decode()))
        pos += 32 + cl
    assert pos == len(body)
    return out


def test_agent_top_frame(build, tmp_path):
    """TOP on the agent's test socket lists the EXEC'd sleep (a child of the agent) and nothing
    of the host's; after the sleep is killed it is gone."""
    path = str(tmp_path / "agent.sock")
    p = subprocess.Popen([str(build / "guest/agent/hull-agent"), "--unix", path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        for _ in range(500):
            if os.path.exists(path):
                break
            time.sleep(0.01)
        assert top(path) == []
        ex = agent_session(path)
        ex.sendall(frame(EXEC, agent_proc_payload(["sleep", "1000"])))
        for _ in range(500):  # until the exec happened (the child's cmdline changed)
            procs = top(path)
            if any(c == "sleep 1000" for _p, _pp, _u, c in procs):
                break
            time.sleep(0.01)
        assert [(pp, u, c) for _p, pp, u, c in procs] == [(p.pid, 0, "sleep 1000")], procs
        ex.sendall(frame(SIGNAL, struct.pack("<I", signal.SIGKILL)))
        while (f := read_frame(ex)) is not None and f[0] != EXIT:
            pass
        assert f == (EXIT, struct.pack("<i", 137)), f
        ex.close()
        assert top(path) == []
        assert p.poll() is None
    finally:
        p.kill()
        p.wait(timeout=60)
        p.stderr.close()


def test_top_refuses_ps_options(hull, tmp_path):
    h = Hull(hull, tmp_path / "store")
    r = h.run("top", "nosuch", "aux", check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r
    assert "usage: hull top CONTAINER" in r.stderr, r
    cleanup_store(h)


# ---- in the sandbox: a VM ------------------------------------------------------------------

@pytest.mark.sandbox
@pytest.mark.slow
def test_top_vm_container(hull, tmp_path):
    if not os.path.exists("/bin/busybox"):
        pytest.skip("busybox-static not installed")
    if not find_kernel():
        pytest.skip("no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)")
    root = make_rootfs(tmp_path / "rootfs")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    h = Hull(hull, tmp_path / "store")
    api_dirs = set(glob.glob("/tmp/hull-vm-*"))
    try:
        h.run("import", tar, "bb")
        h.run("run", "-d", "--vm", "--network", "none", "--name", "t1", "-u", "alice", "bb",
              "sleep", "1000", timeout=WAIT)
        lines = h.run("top", "t1", timeout=WAIT).stdout.splitlines()
        assert lines[0].split() == ["UID", "PID", "PPID", "CMD"], lines
        rows = [ln.split(None, 3) for ln in lines[1:]]
        # the agent is PID 1 and not listed, nor are the kernel's threads
        assert any(r[0] == "1000" and r[2] == "1" and r[3] == "sleep 1000" for r in rows), lines
        assert all(r[3] != "/init" and not r[3].startswith("[") for r in rows), lines
        h.run("rm", "-f", "t1", timeout=WAIT)
        r = h.run("top", "t1", check=False)
        assert r.returncode == 125 and "t1" in r.stderr, r
        assert h.run("ps", "-a", "-q").stdout == ""
    finally:
        ids = h.run("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
        if ids:
            h.run("rm", "-f", *ids, check=False, timeout=WAIT)
        left = vmm_procs(h.root)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        cleanup_store(h)
    assert left == [], "hull-vmm processes left"
    assert sorted(set(glob.glob("/tmp/hull-vm-*")) - api_dirs) == []
    assert list((h.root / "vm/run").glob("*")) == []
