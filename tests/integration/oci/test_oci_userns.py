"""User namespaces (issue 4 item 3): mappings written as given, a container root that is
unprivileged on the host, devices and mounts that still work inside, hostile mappings, exec
into such a container. Runtime-agnostic (HULL_OCI_UNDER_TEST=runc) except where noted."""
import json
import os
import time

import pytest

from ocilib import find_mount, mountinfo, sh, wait_cmdline

BASE = 100000


def userns(bundle, uid=None, gid=None, netns=True):
    c = bundle.config
    c["linux"]["namespaces"].append({"type": "user"})
    if not netns:
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"]
                                    if n["type"] != "network"]
    c["linux"]["uidMappings"] = uid if uid is not None else \
        [{"containerID": 0, "hostID": BASE, "size": 65536}]
    c["linux"]["gidMappings"] = gid if gid is not None else \
        [{"containerID": 0, "hostID": BASE, "size": 65536}]
    bundle.write()


def start(rt, bundle, script):
    bundle.set_args(*sh(script + "; sleep 1000; exit 0"))
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    wait_cmdline(pid, b"/bin/sh")
    return cid, pid


def status_ids(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(field)


def test_root_inside_is_unprivileged_outside(rt, bundle):
    userns(bundle)
    cid, pid = start(rt, bundle, "true")
    assert status_ids(pid, "Uid") == [BASE] * 4
    assert status_ids(pid, "Gid") == [BASE] * 4
    r = rt("exec", cid, "/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["0", "0"]
    assert lines[2].split() == ["0", str(BASE), "65536"]
    # the exec'd process is in the same user namespace, as host uid BASE
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")


def test_root_owned_host_files_stay_out_of_reach(rt, bundle, workdir):
    secret = workdir / "secret"
    secret.write_text("host-secret\n")
    os.chmod(secret, 0o600)
    shared = workdir / "shared"
    shared.write_text("host-data\n")
    os.chmod(shared, 0o644)
    userns(bundle)
    bundle.config["mounts"] += [
        {"destination": "/tmp/secret", "type": "bind", "source": str(secret),
         "options": ["bind", "rw"]},
        {"destination": "/tmp/shared", "type": "bind", "source": str(shared),
         "options": ["bind", "rw"]},
    ]
    # the targets go under /tmp: the container's root may not create files in / (host root's)
    bundle.set_args(*sh("cd /tmp; cat secret || echo no-read; cat shared; "
                        "echo evil > shared || echo no-write; "
                        "chmod 666 shared || echo no-chmod; stat -c %u shared"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["no-read", "host-data", "no-write", "no-chmod", "65534"]
    assert shared.read_text() == "host-data\n"
    assert os.stat(shared).st_mode & 0o777 == 0o644


def test_several_ranges(rt, bundle):
    uid = [{"containerID": 0, "hostID": BASE, "size": 1000},
           {"containerID": 1000, "hostID": 3 * BASE, "size": 1000}]
    gid = [{"containerID": 0, "hostID": BASE, "size": 2000}]
    userns(bundle, uid, gid)
    cid, pid = start(rt, bundle, "touch /tmp/f && chown 1500:1500 /tmp/f")
    with open(f"/proc/{pid}/uid_map") as f:
        assert [ln.split() for ln in f] == [["0", str(BASE), "1000"],
                                            ["1000", str(3 * BASE), "1000"]]
    # The shell is up before its chown has run: wait for it.
    want, got = (3 * BASE + 500, BASE + 1500), None
    for _ in range(100):
        if os.path.exists(bundle.rootfs / "tmp/f"):
            st = os.stat(bundle.rootfs / "tmp/f")
            got = (st.st_uid, st.st_gid)
            if got == want:
                break
        time.sleep(0.05)
    assert got == want
    # a uid outside every range cannot be used
    r = rt("exec", cid, "/bin/sh", "-c", "chown 5000 /tmp/f || echo unmapped")
    assert "unmapped" in r.stdout


def test_devices_are_bind_mounted(rt, bundle):
    userns(bundle)
    devs = []
    if os.path.exists("/dev/fuse"):
        devs.append({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229})
    bundle.config["linux"]["devices"] = devs
    bundle.set_args(*sh("echo x > /dev/null && head -c 4 /dev/zero | wc -c; "
                        "head -c 8 /dev/urandom | wc -c; ls -l /dev/fuse 2>/dev/null | "
                        "cut -c1; cat /proc/self/mountinfo"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["4", "8"]
    mounts = mountinfo(r.stdout)
    for d in ("/dev/null", "/dev/zero", "/dev/urandom") + (("/dev/fuse",) if devs else ()):
        find_mount(mounts, d)  # a bind mount of the host's node, not a mknod
    if devs:
        assert lines[2] == "c"


@pytest.mark.parametrize("netns", [True, False])
def test_proc_sys_mqueue_mounts(rt, bundle, netns):
    """sysfs needs a network namespace owned by the user namespace; without one the runtime
    binds the host's /sys instead (runc does the same)."""
    if not netns and not rt.is_hull:
        pytest.skip("runc 1.1.5 fails the sysfs mount here instead of binding /sys")
    userns(bundle, netns=netns)
    bundle.set_args(*sh("ls /sys/kernel >/dev/null && echo sys-ok; ls /proc/self/ns >/dev/null "
                        "&& echo proc-ok; ls -d /dev/mqueue && echo mq-ok; "
                        "touch /sys/x 2>/dev/null || echo sys-ro; cat /proc/self/mountinfo"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert {"sys-ok", "proc-ok", "mq-ok", "sys-ro"} <= set(lines)
    sysm = find_mount(mountinfo(r.stdout), "/sys")
    assert sysm["fstype"] == "sysfs"
    if netns:
        assert sysm["root"] == "/"


def test_exec_into_userns_container(rt, bundle, workdir):
    userns(bundle)
    cid, pid = start(rt, bundle, "true")
    pidfile = workdir / "e.pid"
    with open(workdir / "e.err", "w") as err:
        r = rt("exec", "-d", "--pid-file", str(pidfile), cid, "/bin/sleep", "999",
               stdout=err, stderr=err)
    assert r.returncode == 0, (workdir / "e.err").read_text()
    epid = int(pidfile.read_text())
    wait_cmdline(epid, b"/bin/sleep")
    assert os.readlink(f"/proc/{epid}/ns/user") == os.readlink(f"/proc/{pid}/ns/user")
    assert status_ids(epid, "Uid") == [BASE] * 4
    r = rt("exec", "--user", "1000:1000", cid, "/bin/sh", "-c", "id -u")
    assert r.stdout.strip() == "1000"


HOSTILE = [
    ("overlap-inside", [{"containerID": 0, "hostID": BASE, "size": 1000},
                        {"containerID": 500, "hostID": 3 * BASE, "size": 10}],
     "uidMappings[1]"),
    ("overlap-outside", [{"containerID": 0, "hostID": BASE, "size": 1000},
                         {"containerID": 5000, "hostID": BASE + 999, "size": 10}],
     "uidMappings[1]"),
    ("overflow", [{"containerID": 4294967295, "hostID": BASE, "size": 2}], "uidMappings[0]"),
    ("zero-size", [{"containerID": 0, "hostID": BASE, "size": 0}], "uidMappings[0]"),
    ("too-many", [{"containerID": i, "hostID": BASE + i, "size": 1} for i in range(341)],
     "uidMappings"),
]


@pytest.mark.parametrize("name,uid,field", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_mappings(rt, bundle, leftovers, name, uid, field):
    userns(bundle, uid)
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    if rt.is_hull:
        assert "config.json" in r.stderr and field in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    leftovers(rt, cid)


def test_userns_without_mappings_as_crun(rt, bundle):
    """No uidMappings/gidMappings: crun maps the caller's id to container root (here root:
    "0 0 1", /etc/subuid has no range for root); runc refuses. hull follows crun."""
    if not rt.is_hull:
        pytest.skip("runc refuses a user namespace without mappings")
    if os.path.exists("/etc/subuid") and \
            any(ln.startswith("root:") for ln in open("/etc/subuid")):
        pytest.skip("the default mapping depends on root's /etc/subuid range")
    userns(bundle)
    del bundle.config["linux"]["uidMappings"]
    del bundle.config["linux"]["gidMappings"]
    for m in bundle.config["mounts"]:  # gid 5 does not exist with a one-id mapping
        if m["destination"] == "/dev/pts":
            m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
    bundle.set_args(*sh("cat /proc/self/uid_map /proc/self/gid_map; id -u"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert [ln.split() for ln in r.stdout.splitlines()] == [["0", "0", "1"], ["0", "0", "1"],
                                                            ["0"]]
