"""The host_untouched check (conftest.py, hostcheck.py) catches what it must: the comparison on
made-up snapshots, and the fixture itself on a module that changes a sysctl and replaces
/dev/null, run in a pytest of its own inside private ipc and mount namespaces (so the host
never sees the change)."""
import os
import pathlib
import stat
import subprocess
import sys

import pytest

import hostcheck

NULL = (stat.S_IFCHR, 0o666, 0, 0, os.makedev(1, 3))


def snap(sysctl=None, device=None, cgroup=None):
    return {"sysctl": sysctl or {}, "device": device or {"/dev/null": NULL},
            "cgroup": cgroup or {}}


def test_compare_finds_each_kind_of_change():
    before = snap({"kernel.msgmax": b"8192\n", "vm.swappiness": b"60\n"},
                  cgroup={"/sys/fs/cgroup/pids/x/pids.max": b"max\n"})
    assert hostcheck.compare(before, before) == []
    after = snap({"kernel.msgmax": b"8191\n", "vm.swappiness": b"60\n"},
                 {"/dev/null": (stat.S_IFREG, 0o644, 0, 0, 0)},
                 {"/sys/fs/cgroup/pids/x/pids.max": b"10\n"})
    diffs = hostcheck.compare(before, after)
    assert diffs == [
        "sysctl kernel.msgmax: b'8192\\n' -> b'8191\\n'",
        "cgroup /sys/fs/cgroup/pids/x/pids.max: b'max\\n' -> b'10\\n'",
        "device /dev/null: char 666 0:0 1:3 -> regular file 644 0:0 0:0",
    ]


def test_compare_ignores_keys_that_come_and_go():
    # an interface of a test's network namespace: not a setting of the host
    before = snap({"net.ipv4.conf.veth0.forwarding": b"1\n"})
    assert hostcheck.compare(before, snap()) == []
    assert hostcheck.compare(snap(), before) == []
    # a device that disappears is a change
    assert hostcheck.compare(snap(), snap(device={"/dev/null": None})) == [
        "device /dev/null: char 666 0:0 1:3 -> missing"]


@pytest.mark.parametrize("key", ["kernel.random.uuid", "kernel.random.entropy_avail",
                                 "fs.dentry-state", "fs.file-nr", "kernel.ns_last_pid",
                                 "net.ipv4.conf.eth0.forwarding", "net.ipv4.ip_forward"])
def test_self_changing_sysctls_ignored(key):
    assert hostcheck.sysctl_key_ignored(key)
    assert key not in hostcheck.sysctls()


def test_snapshot_of_this_host():
    s = hostcheck.snapshot()
    assert s["device"]["/dev/null"][0] == stat.S_IFCHR
    assert "kernel.msgmax" in s["sysctl"] and "kernel.domainname" in s["sysctl"]
    assert hostcheck.compare(s, hostcheck.snapshot()) == []


def test_demo_change():
    """Run only by test_fixture_catches_a_change, in private namespaces."""
    if os.environ.get("HULL_HOSTCHECK_DEMO") != "1":
        pytest.skip("only inside test_fixture_catches_a_change")
    with open("/proc/sys/kernel/msgmax", "r+") as f:
        v = int(f.read())
        f.seek(0)
        f.write(str(v - 1))
    fake = pathlib.Path(os.environ["HULL_HOSTCHECK_FAKE"])
    subprocess.run(["mount", "--bind", str(fake), "/dev/null"], check=True)


def test_fixture_catches_a_change(tmp_path):
    before = hostcheck.snapshot()
    fake = tmp_path / "null"
    fake.write_text("")
    env = dict(os.environ, HULL_HOSTCHECK_DEMO="1", HULL_HOSTCHECK_FAKE=str(fake),
               HULL_HOST_CHECK="1")
    r = subprocess.run(["unshare", "--ipc", "--mount", "--propagation", "private", "--",
                        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                        f"{__file__}::test_demo_change"],
                       capture_output=True, text=True, env=env, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "test_hostcheck changed the host" in out, out
    assert "sysctl kernel.msgmax" in out, out
    assert "device /dev/null: char 666 0:0 1:3 -> regular file" in out, out
    # and the real host saw none of it
    assert hostcheck.compare(before, hostcheck.snapshot()) == []
