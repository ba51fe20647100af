"""uint64 fields of config.json up to 2^64-1 (issue 12 item 8): jansson alone refused the
whole document ("too big integer")."""
import os

import pytest

from ocilib import sh

U64_MAX = 18446744073709551615


@pytest.mark.parametrize("soft", [U64_MAX, 2 ** 63, 4096])
def test_rlimit_uint64_max_is_unlimited(rt, bundle, soft):
    bundle.config["process"]["rlimits"].append(
        {"type": "RLIMIT_CORE", "hard": U64_MAX, "soft": soft})
    bundle.set_args(*sh("ulimit -H -c; ulimit -S -c"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    hard, cur = r.stdout.split()
    assert hard == "unlimited"
    if soft == U64_MAX:
        assert cur == "unlimited"
    elif soft == 4096:
        assert cur == "8"  # busybox counts 512-byte blocks


def test_too_big_for_an_int64_field_is_named(rt, bundle, leftovers):
    bundle.config["process"]["oomScoreAdj"] = 2 ** 63
    bundle.write()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    if rt.is_hull:
        assert "process.oomScoreAdj" in r.stderr and "too big" in r.stderr, r.stderr
    rt("delete", "--force", cid)
    leftovers(rt, cid)


def test_seccomp_arg_uint64_max(rt, bundle):
    """A seccomp argument value of 2^64-1 (uint64 in the spec) loads and matches nothing
    that the program does."""
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": U64_MAX, "op": "SCMP_CMP_EQ"}]}]}
    bundle.set_args("echo", "ok")
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


# ---- exec --cgroup (runc's flag): a sub-cgroup of the container's -------------------------

def v1_container(rt, bundle):
    from cglib import unique_path
    path = unique_path()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.set_args("sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    return cid, path


@pytest.fixture
def v1_only(rt):
    from cglib import is_v1
    if rt.name == "crun":
        pytest.xfail("crun 1.8.1 ignores exec --cgroup on this hybrid host")
    if not is_v1():
        pytest.skip("a cgroup v1 host (the v2 case runs in the sandbox)")


def test_exec_cgroup_sub_v1(rt, bundle, v1_only):
    from cglib import CG
    cid, path = v1_container(rt, bundle)
    sub = CG / "pids" / path.lstrip("/") / "side"
    sub.mkdir()
    try:
        r = rt("exec", "--cgroup", "pids:side", cid, "cat", "/proc/self/cgroup")
        assert r.returncode == 0, r.stderr
        lines = dict(line.split(":", 2)[1:] for line in r.stdout.splitlines())
        assert lines["pids"] == path + "/side"
        assert lines["memory"] == path  # the others: the container's own
    finally:
        sub.rmdir()
        rt("delete", "--force", cid)


@pytest.mark.parametrize("arg,what", [
    ("pids:../escape", ".."), ("../x", ".."), ("pids:a/../../b", ".."),
    ("hullnosuchctrl:side", "hullnosuchctrl"), ("pids:nosuchsub", "nosuchsub")])
def test_exec_cgroup_checks(rt, bundle, v1_only, arg, what):
    cid, _ = v1_container(rt, bundle)
    try:
        r = rt("exec", "--cgroup", arg, cid, "true")
    finally:
        rt("delete", "--force", cid)
    assert r.returncode != 0, r.stdout
    if rt.is_hull:
        assert what in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.sandbox
@pytest.mark.skipif(not os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                    reason="cgroup v2 host (the sandbox)")
def test_exec_cgroup_sub_v2(rt, bundle):
    from cglib import CG, unique_path
    path = unique_path()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.set_args("sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    sub = CG / path.lstrip("/") / "side"
    try:
        bad = rt("exec", "--cgroup", "../up", cid, "true")
        missing = rt("exec", "--cgroup", "nosuchsub", cid, "true")
        sub.mkdir()
        r = rt("exec", "--cgroup", "side", cid, "cat", "/proc/self/cgroup")
    finally:
        if sub.exists():
            sub.rmdir()
        rt("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("/side"), r.stdout
    assert bad.returncode != 0 and missing.returncode != 0
    if rt.is_hull:
        assert ".." in bad.stderr and "nosuchsub" in missing.stderr
