"""config.json → Linux, checked from inside the container (issue 2 item 4): namespaces,
hostname, mounts and propagation, root, devices, masked/readonly paths, sysctl, rlimits,
user, env, cwd, oomScoreAdj, noNewPrivileges."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from ocilib import find_mount, mountinfo, sh

NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
            "cgroup": "cgroup", "user": "user", "time": "time"}


def run_ok(rt, bundle, *args, timeout=60):
    if args:
        bundle.set_args(*args)
    r = rt.run(rt.new_id(), bundle, timeout=timeout)
    assert r.returncode == 0, f"run failed ({r.returncode}): {r.stderr}"
    return r.stdout


def ns_inside(rt, bundle):
    out = run_ok(rt, bundle, *sh("for n in pid net ipc uts mnt cgroup user time; do "
                                 "echo $n $(readlink /proc/self/ns/$n); done"))
    return dict(line.split() for line in out.splitlines())


def host_ns(kind):
    return os.readlink(f"/proc/self/ns/{kind}")


def supports(rt, ns):
    r = rt("features")
    if r.returncode != 0:
        return True
    return ns in json.loads(r.stdout).get("linux", {}).get("namespaces", [])


def userns_config(bundle):
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # sysfs needs a network namespace owned by the user namespace: bind it from the host
    for m in bundle.config["mounts"]:
        if m["destination"] == "/sys":
            m.update(type="bind", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"])


# --- namespaces --------------------------------------------------------------------------

def test_default_namespaces_are_new(rt, bundle):
    ns = ns_inside(rt, bundle)
    for kind in ("pid", "net", "ipc", "uts", "mnt"):
        assert ns[kind] != host_ns(kind), kind
    for kind in ("cgroup", "user"):
        assert ns[kind] == host_ns(kind), kind


def test_new_network_namespace_has_only_lo(rt, bundle):
    out = run_ok(rt, bundle, "/bin/cat", "/proc/net/dev")
    ifaces = [ln.split(":")[0].strip() for ln in out.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_pid_namespace_process_is_pid1(rt, bundle):
    out = run_ok(rt, bundle, *sh("echo $$; ps -o pid | wc -l"))
    assert out.splitlines()[0] == "1"


def test_no_namespaces_shares_host(rt, bundle):
    bundle.config["linux"]["namespaces"] = [{"type": "mount"}]
    bundle.config.pop("hostname")  # a hostname needs a uts namespace
    ns = ns_inside(rt, bundle)
    for kind in ("pid", "net", "ipc", "uts"):
        assert ns[kind] == host_ns(kind), kind
    assert ns["mnt"] != host_ns("mnt")


def test_cgroup_namespace(rt, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    ns = ns_inside(rt, bundle)
    assert ns["cgroup"] != host_ns("cgroup")


def test_user_namespace_with_mappings(rt, bundle):
    userns_config(bundle)
    bundle.write()
    out = run_ok(rt, bundle, *sh("readlink /proc/self/ns/user; cat /proc/self/uid_map "
                                 "/proc/self/gid_map; id -u"))
    lines = out.splitlines()
    assert lines[0] != host_ns("user")
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2].split() == ["0", "100000", "65536"]
    assert lines[3] == "0"


def test_time_namespace(rt, bundle):
    if not rt.is_hull and not supports(rt, "time"):
        pytest.skip(f"{rt.name} does not support time namespaces (not in its features)")
    year = 86400 * 365
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"monotonic": {"secs": year, "nanosecs": 0},
                                             "boottime": {"secs": year, "nanosecs": 0}}
    bundle.write()
    out = run_ok(rt, bundle, *sh("readlink /proc/self/ns/time; cat /proc/uptime"))
    lines = out.splitlines()
    assert lines[0] != host_ns("time")
    assert float(lines[1].split()[0]) > year  # /proc/uptime follows CLOCK_BOOTTIME


def test_unknown_path_namespace_fails(rt, bundle, leftovers):
    bundle.config["linux"]["namespaces"] = [{"type": "network", "path": "/proc/self/ns/nope"},
                                            {"type": "mount"}]
    bundle.write()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    leftovers(rt, cid)


@pytest.fixture
def ns_holder():
    """A process in fresh net/ipc/uts/cgroup/pid namespaces, for joining by path."""
    p = subprocess.Popen(["unshare", "--net", "--ipc", "--uts", "--cgroup", "--pid", "--fork",
                          "sh", "-c", "hostname holder; exec sleep 1000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    child = None
    deadline = time.monotonic() + 5
    while child is None and time.monotonic() < deadline:
        try:
            kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
            if kids and open(f"/proc/{kids[0]}/cmdline", "rb").read().startswith(b"sleep"):
                child = int(kids[0])
        except OSError:
            pass
        time.sleep(0.02)
    yield child
    p.send_signal(signal.SIGKILL)
    if child:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()


def test_join_namespaces_by_path(rt, bundle, ns_holder):
    assert ns_holder
    kinds = {"network": "net", "ipc": "ipc", "uts": "uts", "cgroup": "cgroup", "pid": "pid"}
    bundle.config["linux"]["namespaces"] = [{"type": "mount"}] + [
        {"type": t, "path": f"/proc/{ns_holder}/ns/{f}"} for t, f in kinds.items()]
    bundle.config.pop("hostname")
    bundle.write()
    ns = ns_inside(rt, bundle)
    for t, f in kinds.items():
        assert ns[f] == os.readlink(f"/proc/{ns_holder}/ns/{f}"), t
    assert run_ok(rt, bundle, "/bin/hostname").strip() == "holder"


def test_join_mount_namespace_by_path(rt, bundle):
    """A mount namespace joined by path is the one the rootfs is set up in: a tmpfs that
    exists only in the holder's namespace is visible inside, and the host never sees it."""
    marker = bundle.path / "rootfs" / "mnt"
    marker.mkdir(exist_ok=True)
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          f"mount -t tmpfs holder {marker} && echo in-holder > {marker}/f && "
                          "exec sleep 1000"], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while (os.readlink(f"/proc/{p.pid}/ns/mnt") == host_ns("mnt")
               or not open(f"/proc/{p.pid}/cmdline", "rb").read().startswith(b"sleep")):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        holder_ns = os.readlink(f"/proc/{p.pid}/ns/mnt")
        for n in bundle.config["linux"]["namespaces"]:
            if n["type"] == "mount":
                n["path"] = f"/proc/{p.pid}/ns/mnt"
        bundle.set_args(*sh("readlink /proc/self/ns/mnt; cat /mnt/f"))
        out = run_ok(rt, bundle).split()
        assert out == [holder_ns, "in-holder"]
        assert not (marker / "f").exists()  # the host's view of the rootfs is untouched
    finally:
        p.kill()
        p.wait()


def test_join_user_namespace_by_path(rt, bundle):
    p = subprocess.Popen(["unshare", "--user", "--map-root-user", "sleep", "1000"],
                         stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{p.pid}/ns/user") == host_ns("user"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        userns_config(bundle)
        bundle.config["linux"]["namespaces"][-1]["path"] = f"/proc/{p.pid}/ns/user"
        bundle.config["linux"].pop("uidMappings")
        bundle.config["linux"].pop("gidMappings")
        bundle.set_args(*sh("readlink /proc/self/ns/user"))
        r = rt.run(rt.new_id(), bundle)
        # that namespace maps only uid 0 → 0: the runtime either runs in it or refuses
        # clearly; it must never silently run in the host's user namespace.
        if r.returncode == 0:
            assert r.stdout.strip() == os.readlink(f"/proc/{p.pid}/ns/user")
        else:
            assert r.stderr.strip()
    finally:
        p.kill()
        p.wait()


def test_hostname(rt, bundle):
    assert run_ok(rt, bundle, "/bin/hostname") == "hulltest\n"
    assert open("/proc/sys/kernel/hostname").read().strip() != "hulltest"


def test_domainname(rt, bundle):
    if rt.name == "runc":
        pytest.skip("runc 1.1 ignores domainname (added in runc 1.2)")
    bundle.config["domainname"] = "example.test"
    bundle.write()
    out = run_ok(rt, bundle, *sh("hostname; cat /proc/sys/kernel/domainname"))
    assert out.splitlines() == ["hulltest", "example.test"]
    assert open("/proc/sys/kernel/domainname").read().strip() != "example.test"


def test_hostname_without_uts_namespace_refused(rt, bundle, leftovers):
    bundle.config["linux"]["namespaces"] = [{"type": "mount"}, {"type": "pid"}]
    bundle.write()
    host = open("/proc/sys/kernel/hostname").read()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    assert open("/proc/sys/kernel/hostname").read() == host
    if rt.is_hull:
        assert "config.json" in r.stderr and "hostname" in r.stderr, r.stderr
    leftovers(rt, cid)


# --- mounts ------------------------------------------------------------------------------

def container_mounts(rt, bundle):
    return mountinfo(run_ok(rt, bundle, "/bin/cat", "/proc/self/mountinfo"))


def test_standard_filesystems(rt, bundle):
    ms = container_mounts(rt, bundle)
    assert find_mount(ms, "/proc")["fstype"] == "proc"
    sysfs = find_mount(ms, "/sys")
    assert sysfs["fstype"] == "sysfs" and "ro" in sysfs["opts"]
    assert {"nosuid", "nodev", "noexec"} <= sysfs["opts"]
    pts = find_mount(ms, "/dev/pts")
    assert pts["fstype"] == "devpts"
    assert {"mode=620", "ptmxmode=666", "gid=5"} <= pts["super"]
    assert find_mount(ms, "/dev/mqueue")["fstype"] == "mqueue"
    dev = find_mount(ms, "/dev")
    assert dev["fstype"] == "tmpfs" and "mode=755" in dev["super"]
    shm = find_mount(ms, "/dev/shm")
    assert {"nosuid", "nodev", "noexec"} <= shm["opts"]
    assert "size=65536k" in shm["super"]  # mode=1777 is tmpfs's default: not shown


def test_root_is_the_rootfs_and_host_is_gone(rt, bundle):
    out = run_ok(rt, bundle, *sh("ls /; test -e /etc/debian_version && echo HOST; true"))
    assert "HOST" not in out
    assert "bin" in out.split()


def test_tmpfs_options(rt, bundle):
    bundle.config["mounts"].append({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "noatime", "mode=700", "size=1m", "uid=5"]})
    bundle.write()
    m = find_mount(container_mounts(rt, bundle), "/scratch")
    assert m["fstype"] == "tmpfs"
    assert {"nosuid", "nodev", "noexec", "noatime"} <= m["opts"]
    assert {"mode=700", "size=1024k", "uid=5"} <= m["super"]


def test_bind_and_readonly_bind_remount(rt, bundle, workdir):
    src = workdir / "hostdir"
    src.mkdir()
    (src / "f").write_text("host-data\n")
    bundle.config["mounts"] += [
        {"destination": "/rw", "type": "bind", "source": str(src), "options": ["bind"]},
        {"destination": "/ro", "type": "bind", "source": str(src),
         "options": ["bind", "ro", "nosuid", "nodev", "noexec"]},
    ]
    bundle.write()
    out = run_ok(rt, bundle, *sh("cat /ro/f; echo x > /ro/new 2>/dev/null && echo RO-WRITABLE; "
                                 "echo w > /rw/written; cat /proc/self/mountinfo"))
    assert out.startswith("host-data\n")
    assert "RO-WRITABLE" not in out
    ms = mountinfo(out)
    ro = find_mount(ms, "/ro")
    assert {"ro", "nosuid", "nodev", "noexec"} <= ro["opts"]
    rw = find_mount(ms, "/rw")
    assert "rw" in rw["opts"]
    assert (src / "written").read_text() == "w\n"
    assert not (src / "new").exists()


def test_rbind_takes_submounts(rt, bundle, workdir):
    """rbind brings submounts; plain "ro" makes the top mount read-only (runc semantics:
    recursive read-only is the separate "rro" option)."""
    src = workdir / "tree"
    (src / "sub").mkdir(parents=True)
    bundle.config["mounts"] += [
        {"destination": "/tree", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
        # the host's /dev has submounts (pts, shm, mqueue...): rbind must bring them, read-only
        {"destination": "/hostdev", "type": "bind", "source": "/dev", "options": ["rbind", "ro"]},
    ]
    bundle.write()
    ms = container_mounts(rt, bundle)
    assert "ro" in find_mount(ms, "/tree")["opts"]
    assert "ro" in find_mount(ms, "/hostdev")["opts"]
    host_sub = [m for m in mountinfo(open("/proc/self/mountinfo").read())
                if m["mountpoint"].startswith("/dev/")]
    if host_sub:
        inner = [m for m in ms if m["mountpoint"].startswith("/hostdev/")]
        assert inner, "rbind did not bring the submounts of /dev"


def test_recursive_readonly_rro(rt, bundle):
    r = rt("features")
    if r.returncode != 0 or "rro" not in json.loads(r.stdout).get("mountOptions", []):
        pytest.skip(f"{rt.name} does not list rro in its features")
    bundle.config["mounts"].append(
        {"destination": "/hostdev", "type": "bind", "source": "/dev", "options": ["rbind", "rro"]})
    bundle.write()
    inner = [m for m in container_mounts(rt, bundle) if m["mountpoint"].startswith("/hostdev")]
    assert len(inner) > 1
    for m in inner:
        assert "ro" in m["opts"], m


@pytest.fixture
def locked_tmpfs(workdir):
    """A host tmpfs mounted nosuid,nodev,noexec (private: host mounts are private here)."""
    d = workdir / "locked"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nosuid,nodev,noexec,size=1m", "tmpfs",
                    str(d)], check=True)
    (d / "f").write_text("locked\n")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def test_readonly_bind_keeps_locked_flags_in_userns(rt, bundle, locked_tmpfs):
    """In a user namespace the source's nosuid/nodev/noexec are locked: a read-only remount
    that drops them fails with EPERM. Done right, the remount keeps them."""
    userns_config(bundle)
    (bundle.rootfs / "locked").mkdir()  # root in the userns cannot mkdir in this rootfs
    bundle.config["mounts"].append({"destination": "/locked", "type": "bind",
                                    "source": str(locked_tmpfs), "options": ["bind", "ro"]})
    bundle.write()
    bundle.set_args(*sh("cat /locked/f; cat /proc/self/mountinfo"))
    r = rt.run(rt.new_id(), bundle)
    if rt.name == "runc" and r.returncode != 0 and "operation not permitted" in r.stderr:
        pytest.xfail("runc 1.1.5 drops locked flags on the ro remount (runc issue #1229)")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("locked\n")
    m = find_mount(mountinfo(out), "/locked")
    assert {"ro", "nosuid", "nodev", "noexec"} <= m["opts"], m


def test_bind_file(rt, bundle, workdir):
    f = workdir / "hostfile"
    f.write_text("file-bind\n")
    bundle.config["mounts"].append(
        {"destination": "/etc/bound", "type": "bind", "source": str(f), "options": ["rbind", "ro"]})
    bundle.write()
    assert run_ok(rt, bundle, "/bin/cat", "/etc/bound") == "file-bind\n"


def test_mount_destination_created(rt, bundle):
    bundle.config["mounts"].append({"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"})
    bundle.write()
    assert find_mount(container_mounts(rt, bundle), "/a/b/c")["fstype"] == "tmpfs"


@pytest.mark.parametrize("prop,expect", [("shared", "shared:"), ("private", None),
                                         ("rshared", "shared:"), ("rprivate", None)])
def test_mount_propagation_flags(rt, bundle, prop, expect):
    bundle.config["mounts"].append({"destination": "/prop", "type": "tmpfs", "source": "tmpfs",
                                    "options": [prop]})
    bundle.write()
    m = find_mount(container_mounts(rt, bundle), "/prop")
    opt = " ".join(m["optional"])
    if expect:
        assert expect in opt, m
    else:
        assert "shared:" not in opt and "master:" not in opt, m


def test_slave_propagation(rt, bundle):
    """A bind of a shared mount made a slave receives from it: master:N in mountinfo. The bind
    source is resolved before pivot_root, where <rootfs>/s already is the shared tmpfs."""
    bundle.config["mounts"] += [
        {"destination": "/s", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]},
        {"destination": "/sl", "type": "bind", "source": str(bundle.rootfs / "s"),
         "options": ["bind", "slave"]},
    ]
    bundle.write()
    sl = find_mount(container_mounts(rt, bundle), "/sl")
    assert sl["fstype"] == "tmpfs", sl
    assert any(o.startswith("master:") for o in sl["optional"]), sl


@pytest.mark.parametrize("prop,expect", [("shared", "shared:"), ("private", None),
                                         ("rslave", None)])
def test_rootfs_propagation(rt, bundle, prop, expect):
    bundle.config["linux"]["rootfsPropagation"] = prop
    bundle.write()
    m = find_mount(container_mounts(rt, bundle), "/")
    opt = " ".join(m["optional"])
    if expect and rt.name == "runc":
        pytest.xfail("runc 1.1 leaves the root private after pivot_root whatever "
                     "rootfsPropagation says")
    if expect:
        assert expect in opt, m
    else:
        assert "shared:" not in opt, m


def test_readonly_root(rt, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.write()
    out = run_ok(rt, bundle, *sh("touch /x 2>/dev/null && echo WRITABLE; touch /dev/shm/ok && "
                                 "echo shm-ok; cat /proc/self/mountinfo"))
    assert "WRITABLE" not in out
    assert "shm-ok" in out
    assert "ro" in find_mount(mountinfo(out), "/")["opts"]
    assert not (bundle.rootfs / "x").exists()


def test_no_pivot(rt, bundle):
    bundle.set_args(*sh("ls /; test -e /etc/debian_version && echo HOST; cat /proc/self/mountinfo"))
    r = rt("run", "--no-pivot", "--bundle", str(bundle.path), rt.new_id(), input="")
    assert r.returncode == 0, r.stderr
    assert "HOST" not in r.stdout
    assert "bin" in r.stdout.split()
    assert find_mount(mountinfo(r.stdout), "/proc")["fstype"] == "proc"


def test_cgroup_mount(rt, bundle):
    bundle.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                    "source": "cgroup",
                                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    bundle.write()
    ms = container_mounts(rt, bundle)
    cg = [m for m in ms if m["mountpoint"] == "/sys/fs/cgroup" or
          m["mountpoint"].startswith("/sys/fs/cgroup/")]
    assert any(m["fstype"] in ("cgroup", "cgroup2") for m in cg), cg
    for m in cg:
        if m["fstype"] in ("cgroup", "cgroup2"):
            assert "ro" in m["opts"], m


def test_mount_symlink_escape_stays_in_rootfs(rt, bundle, workdir):
    """A destination that is a symlink to a host path is resolved inside the rootfs: the
    runtime either mounts at <rootfs>/<target> or refuses; the host path never gets it."""
    target = workdir / "host-target"
    target.mkdir()
    src = workdir / "bind-src"
    src.mkdir()
    (src / "marker").write_text("bound\n")
    os.symlink(str(target), bundle.rootfs / "evil")
    bundle.config["mounts"].append({"destination": "/evil", "type": "bind", "source": str(src),
                                    "options": ["bind"]})
    bundle.set_args(*sh("cat /evil/marker; cat /proc/self/mountinfo"))
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    if r.returncode == 0:
        assert r.stdout.startswith("bound\n")
        mps = [m["mountpoint"] for m in mountinfo(r.stdout)]
        assert str(target) in mps  # the symlink target, taken inside the rootfs
        assert (bundle.rootfs / str(target).lstrip("/")).is_dir()
    else:
        assert r.stderr.strip()
    assert os.listdir(target) == []
    assert str(target) not in [m["mountpoint"] for m in
                               mountinfo(open("/proc/self/mountinfo").read())]


def test_mount_symlink_escape_existing_target(rt, bundle, workdir):
    """Same, with the target also present inside the rootfs: it must get the mount."""
    target = workdir / "host-target"
    target.mkdir()
    (bundle.rootfs / str(target).lstrip("/")).mkdir(parents=True)
    src = workdir / "bind-src"
    src.mkdir()
    (src / "marker").write_text("bound\n")
    os.symlink(str(target), bundle.rootfs / "evil")
    bundle.config["mounts"].append({"destination": "/evil", "type": "bind", "source": str(src),
                                    "options": ["bind"]})
    out = run_ok(rt, bundle, *sh(f"cat {target}/marker; cat /proc/self/mountinfo"))
    assert out.startswith("bound\n")
    assert str(target) in [m["mountpoint"] for m in mountinfo(out)]
    assert os.listdir(target) == []


def test_mount_dotdot_destination_stays_in_rootfs(rt, bundle, workdir):
    bundle.config["mounts"].append({"destination": "/../../../../../../tmp/dotdot",
                                    "type": "tmpfs", "source": "tmpfs"})
    bundle.write()
    r = rt.run(rt.new_id(), bundle)
    if r.returncode == 0:
        assert not os.path.ismount("/tmp/dotdot")
        assert (bundle.rootfs / "tmp/dotdot").is_dir()
    assert not os.path.exists("/tmp/dotdot")


# --- /dev --------------------------------------------------------------------------------

def test_default_devices_and_symlinks(rt, bundle):
    out = run_ok(rt, bundle, *sh(
        "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; "
        "for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done; "
        "echo hi > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c"))
    lines = out.splitlines()
    dev = {ln.split()[0]: ln for ln in lines}
    for name, mm in (("null", "1:3"), ("zero", "1:5"), ("full", "1:7"), ("random", "1:8"),
                     ("urandom", "1:9"), ("tty", "5:0")):
        assert f"character special file {mm} 666" in dev[f"/dev/{name}"], dev[f"/dev/{name}"]
    assert dev["/dev/fd"].split()[1] == "/proc/self/fd"
    assert dev["/dev/stdin"].split()[1] == "/proc/self/fd/0"
    assert dev["/dev/stdout"].split()[1] == "/proc/self/fd/1"
    assert dev["/dev/stderr"].split()[1] == "/proc/self/fd/2"
    assert dev["/dev/ptmx"].split()[1] == "pts/ptmx"
    assert "null-ok" in lines and lines[-1].strip() == "4"


def test_dev_holds_only_the_default_devices(rt, bundle):
    """No host device (kvm, disks, ...) leaks into the container's /dev."""
    names = set(run_ok(rt, bundle, "/bin/ls", "-A", "/dev").split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue",
            "fd", "stdin", "stdout", "stderr", "ptmx"} <= names
    extra = names - {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm",
                     "mqueue", "fd", "stdin", "stdout", "stderr", "ptmx", "core", "console"}
    assert not extra, f"unexpected entries in /dev: {sorted(extra)}"


def test_linux_devices(rt, bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640,
         "uid": 7, "gid": 8},
        {"path": "/dev/sub/myloop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600},
    ]
    bundle.write()
    out = run_ok(rt, bundle, *sh("stat -c '%F %t:%T %a %u %g' /dev/mynull /dev/sub/myloop"))
    a, b = out.splitlines()
    assert a == "character special file 1:3 640 7 8"
    assert b.startswith("block special file 7:0 600")


# --- masked / readonly paths, sysctl -------------------------------------------------------

def test_masked_and_readonly_paths(rt, bundle):
    # /proc/kcore and /proc/sysrq-trigger do not exist on every kernel (not on this host's):
    # use files that do, plus one that does not (must be skipped quietly).
    masked_file = "/proc/kcore" if os.path.exists("/proc/kcore") else "/proc/timer_list"
    bundle.config["linux"]["maskedPaths"] = [masked_file, "/proc/keys", "/sys/firmware",
                                             "/proc/does-not-exist"]
    bundle.config["linux"]["readonlyPaths"] = ["/proc/sys", "/proc/acpi", "/proc/nope"]
    bundle.write()
    out = run_ok(rt, bundle, *sh(
        f"echo masked=$(head -c 16 {masked_file} | wc -c); echo keys=$(wc -c < /proc/keys); "
        "echo firmware=$(ls /sys/firmware | wc -l); "
        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo SYS-WRITABLE; "
        "cat /proc/self/mountinfo"))
    assert "masked=0" in out
    assert "keys=0" in out
    assert "firmware=0" in out
    assert "SYS-WRITABLE" not in out
    ms = mountinfo(out)
    assert "ro" in find_mount(ms, "/proc/sys")["opts"]
    assert "ro" in find_mount(ms, "/proc/acpi")["opts"]
    find_mount(ms, masked_file)
    find_mount(ms, "/proc/keys")
    assert find_mount(ms, "/sys/firmware")["fstype"] == "tmpfs"
    assert "ro" in find_mount(ms, "/sys/firmware")["opts"]


def test_sysctl(rt, bundle):
    host_fwd = open("/proc/sys/net/ipv4/ip_forward").read()
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096",
                                        "net/ipv4/tcp_syncookies": "0"}
    bundle.write()
    out = run_ok(rt, bundle, *sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax "
                                 "/proc/sys/net/ipv4/tcp_syncookies"))
    assert out.split() == ["1", "4096", "0"]
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host_fwd


def test_sysctl_of_host_namespace_refused(rt, bundle, leftovers):
    """kernel.* outside ipc/uts, or net.* without a network namespace, would change the host."""
    bundle.config["linux"]["namespaces"] = [{"type": "mount"}, {"type": "pid"}]
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    bundle.write()
    before = open("/proc/sys/net/ipv4/ip_forward").read()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    assert open("/proc/sys/net/ipv4/ip_forward").read() == before
    leftovers(rt, cid)


# --- process ---------------------------------------------------------------------------

def limits(text):
    out = {}
    for line in text.splitlines()[1:]:
        m = re.match(r"(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)", line)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_rlimits(rt, bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
        {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]
    bundle.write()
    lim = limits(run_ok(rt, bundle, "/bin/cat", "/proc/self/limits"))
    assert lim["Max open files"] == ("1000", "2000")
    assert lim["Max processes"] == ("500", "600")
    assert lim["Max core file size"] == ("0", "0")


def test_rlimit_above_hard_limit_fails_naming_it(rt, bundle, leftovers):
    """root lacks CAP_SYS_RESOURCE here: raising the hard limit is EPERM."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("hard RLIMIT_NOFILE is unlimited here")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard + 1))
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        pytest.skip("this process may raise its hard limit (CAP_SYS_RESOURCE)")
    except (ValueError, OSError):
        pass
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 1000,
                                            "hard": hard + 1000}]
    bundle.write()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    msg = r.stderr.strip()
    assert msg
    if rt.is_hull:
        assert len(msg.splitlines()) == 1, msg
        assert "RLIMIT_NOFILE" in msg and "config.json" in msg, msg
        assert "ermi" in msg or "EPERM" in msg, msg
    else:
        assert "rlimit" in msg.lower(), msg
    leftovers(rt, cid)


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].split()
    raise AssertionError(f"{name} not in /proc/self/status")


def test_user_uid_gid_groups_umask(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20],
                                        "umask": 0o027}
    bundle.write()
    st = run_ok(rt, bundle, *sh("cat /proc/self/status; touch /tmp/u; stat -c '%a %u %g' /tmp/u"))
    assert status_field(st, "Uid") == ["1000"] * 4
    assert status_field(st, "Gid") == ["1001"] * 4
    assert sorted(status_field(st, "Groups")) == ["10", "20"]
    assert status_field(st, "Umask") == ["0027"]
    assert st.splitlines()[-1] == "640 1000 1001"


def test_default_umask_0022(rt, bundle):
    st = run_ok(rt, bundle, "/bin/cat", "/proc/self/status")
    assert status_field(st, "Umask") == ["0022"]
    assert status_field(st, "Groups") in ([], ["0"])


def test_env_and_args(rt, bundle):
    bundle.config["process"]["env"] = ["PATH=/bin", "FOO=bar baz", "EMPTY="]
    bundle.write()
    out = run_ok(rt, bundle, *sh('echo "[$FOO][$EMPTY][$0]"; env | sort'))
    lines = out.splitlines()
    assert lines[0] == "[bar baz][][/bin/sh]"
    assert "FOO=bar baz" in lines and "PATH=/bin" in lines


def test_args_resolved_through_path(rt, bundle):
    bundle.config["process"]["env"] = ["PATH=/nowhere:/bin"]
    bundle.write()
    assert run_ok(rt, bundle, "echo", "via-path") == "via-path\n"


def test_cwd(rt, bundle):
    bundle.config["process"]["cwd"] = "/tmp"
    bundle.write()
    assert run_ok(rt, bundle, *sh("pwd; readlink /proc/self/cwd")).split() == ["/tmp", "/tmp"]


def test_oom_score_adj(rt, bundle):
    bundle.config["process"]["oomScoreAdj"] = 500
    bundle.write()
    assert run_ok(rt, bundle, "/bin/cat", "/proc/self/oom_score_adj").strip() == "500"


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(rt, bundle, nnp):
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.write()
    st = run_ok(rt, bundle, "/bin/cat", "/proc/self/status")
    assert status_field(st, "NoNewPrivs") == (["1"] if nnp else ["0"])
