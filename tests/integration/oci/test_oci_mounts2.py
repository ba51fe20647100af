"""Mounts as runc and crun make them (issue 12 item 5): dangling symlink destinations,
rbind with bind, a tmpfs's mode, device binds in a user namespace, cgroup mount options."""
import os
import subprocess

import pytest

from ocilib import find_mount, mountinfo, sh
from test_oci_userns import userns


def peer_xfail(rt, names, reason):
    """A behaviour of newer runc/crun (crun 1.27, runc 1.2) that this host's peers lack."""
    if rt.name in names:
        pytest.xfail(reason)


def keep_mounts(bundle, *dests):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] in ("/proc", "/dev") + dests]


def test_dangling_symlink_destinations(rt, bundle, workdir):
    """The link's target is created inside the rootfs, for a directory (tmpfs) and for a
    file (bind of a file), with absolute and relative links."""
    peer_xfail(rt, ("crun",), "crun 1.8.1 does not follow a dangling destination link")
    src = workdir / "srcfile"
    src.write_text("hello\n")
    os.symlink("/target/dir", bundle.rootfs / "dlink")
    os.symlink("../tfile", bundle.rootfs / "etc/flink")
    os.symlink("/escape/" + str(workdir / "nothere").lstrip("/"), bundle.rootfs / "elink")
    keep_mounts(bundle)
    bundle.config["mounts"] += [
        {"destination": "/dlink", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/etc/flink", "type": "bind", "source": str(src),
         "options": ["bind"]},
        {"destination": "/elink", "type": "bind", "source": str(src), "options": ["bind"]},
    ]
    bundle.set_args(*sh("cat /etc/flink /tfile; test -d /target/dir && echo dir; cat /elink"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hello", "hello", "dir", "hello"]
    assert (bundle.rootfs / "tfile").is_file()
    assert (bundle.rootfs / "target/dir").is_dir()
    assert not (workdir / "nothere").exists()


@pytest.mark.parametrize("options", [["rbind", "bind"], ["bind", "rbind"], ["rbind", "ro",
                                                                            "bind"]])
def test_rbind_with_bind_stays_recursive(rt, bundle, workdir, options):
    src = workdir / "src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        (src / "sub/marker").write_text("submount\n")
        keep_mounts(bundle)
        bundle.config["mounts"].append({"destination": "/mnt/v", "type": "bind",
                                        "source": str(src), "options": options})
        bundle.set_args("cat", "/mnt/v/sub/marker")
        r = rt.run(rt.new_id(), bundle)
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "submount\n"


@pytest.mark.parametrize("mode", [0o700, 0o755, 0o1777, 0o2750])
def test_tmpfs_without_mode_keeps_the_mountpoints(rt, bundle, mode):
    if mode != 0o1777:
        peer_xfail(rt, ("crun",), "crun 1.8.1 leaves tmpfs at 1777")
    (bundle.rootfs / "data").mkdir()
    os.chmod(bundle.rootfs / "data", mode)
    keep_mounts(bundle)
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
        {"destination": "/made", "type": "tmpfs", "source": "tmpfs", "options": ["mode=700"]},
    ]
    bundle.set_args(*sh("stat -c %a /data /made; grep -c ' /data ' /proc/self/mountinfo"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [f"{mode:o}", "700", "1"]


def test_device_binds_in_userns_are_nosuid_noexec(rt, bundle):
    peer_xfail(rt, ("runc",), "runc 1.1 binds devices without nosuid,noexec (runc 1.2 does)")
    userns(bundle)
    bundle.set_args("cat", "/proc/self/mountinfo")
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    mounts = mountinfo(r.stdout)
    for d in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/tty"):
        m = find_mount(mounts, d)
        assert {"nosuid", "noexec"} <= m["opts"], (d, m["opts"])


def test_missing_host_device_in_userns_named(rt, bundle, leftovers):
    peer_xfail(rt, ("crun",), "crun 1.8.1 skips a device it cannot bind")
    userns(bundle)
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/hull-no-such-dev", "type": "c", "major": 240, "minor": 77}]
    bundle.write()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    assert "/dev/hull-no-such-dev" in r.stderr
    if rt.is_hull:
        assert "host" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    rt("delete", "--force", cid)
    leftovers(rt, cid)


def test_unknown_cgroup_mount_option_refused(rt, bundle, leftovers):
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("v1 host check (a v2 cgroupns mount hands options to the kernel)")
    bundle.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                    "source": "cgroup",
                                    "options": ["nosuid", "ro", "hull-bogus=1"]})
    bundle.write()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    if r.returncode == 0:
        rt("delete", "--force", cid)
        peer_xfail(rt, ("runc", "crun"), "runc 1.1 and crun 1.8.1 drop unknown cgroup "
                   "mount options")
    assert r.returncode != 0, r.stdout
    if rt.is_hull:
        assert "mounts[6]" in r.stderr and "hull-bogus=1" in r.stderr, r.stderr
    rt("delete", "--force", cid)
    leftovers(rt, cid)


@pytest.mark.parametrize("key", ["uidMappings", "gidMappings"])
def test_mount_idmaps_refused_not_ignored(rt, bundle, workdir, key, leftovers):
    """A mount with one of the two lists is refused naming the missing one, never made
    without the mapping (idmapped mounts themselves: test_oci_idmap.py)."""
    if not rt.is_hull:
        pytest.skip("runc 1.1 and crun 1.8.1 differ; hull-oci's own refusal")
    (workdir / "src").mkdir()
    bundle.config["mounts"].append({
        "destination": "/mnt/v", "type": "bind", "source": str(workdir / "src"),
        "options": ["bind"], key: [{"containerID": 0, "hostID": 100000, "size": 1}]})
    bundle.write()
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    other = "gidMappings" if key == "uidMappings" else "uidMappings"
    assert f"mounts[6].{other}: needed with {key}" in r.stderr, r.stderr
    leftovers(rt, cid)


@pytest.mark.parametrize("options", [["bind"], ["rbind"]])
def test_bind_source_unreachable_from_userns(rt, bundle, workdir, options):
    """A source under a 0700 directory of the host's root, which the container's root (uid
    100000 on the host) cannot reach: opened by the runtime before the switch (open_tree),
    its submounts too with rbind."""
    secret = workdir / "secret"
    (secret / "vol/sub").mkdir(parents=True)
    os.chmod(secret, 0o700)
    (secret / "vol/file").write_text("top\n")
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(secret / "vol/sub")], check=True)
    try:
        (secret / "vol/sub/file").write_text("sub\n")
        userns(bundle)
        bundle.config["mounts"].append({"destination": "/mnt", "type": "bind",
                                        "source": str(secret / "vol"), "options": options})
        bundle.set_args(*sh("cat /mnt/file; cat /mnt/sub/file 2>/dev/null || echo none"))
        r = rt.run(rt.new_id(), bundle)
    finally:
        subprocess.run(["umount", str(secret / "vol/sub")], check=True)
    if rt.name == "runc" and r.returncode != 0:
        pytest.xfail("runc 1.1 opens the source without its submounts (rbind)")
    if rt.name == "crun" and r.stdout.split() == ["top", "none"]:
        pytest.xfail("crun 1.8.1 drops the submounts of such an rbind")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["top", "sub" if options == ["rbind"] else "none"]
