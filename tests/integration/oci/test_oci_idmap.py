"""Idmapped bind mounts (issue 12 item 5): a mount's uidMappings/gidMappings (runtime-spec
1.1) and crun's "idmap"/"ridmap" options.

The mappings are written as given into the uid_map of the user namespace the mount is
idmapped with: an id of the filesystem (on the host's disk) in the containerID range shows
as the id in the hostID range, and the reverse for a file created through the mount. With
no mappings on the mount, the container's own user namespace is used: the host's ids show
inside the container as the same numbers."""
import os
import subprocess

import pytest

from ocilib import sh
from test_oci_mounts2 import keep_mounts, peer_xfail
from test_oci_userns import BASE, userns


def shared_dir(workdir, uid=0, gid=0, mode=0o755):
    src = workdir / "shared"
    src.mkdir()
    (src / "f").write_text("data\n")
    for p in (src, src / "f"):
        os.chown(p, uid, gid)
    os.chmod(src, mode)
    return src


def idmapped(src, dest="/mnt/v", options=("bind",), uid=None, gid=None):
    m = {"destination": dest, "type": "bind", "source": str(src), "options": list(options)}
    if uid is not None:
        m["uidMappings"] = uid
    if gid is not None:
        m["gidMappings"] = gid
    return m


def one(c, h, n=1):
    return [{"containerID": c, "hostID": h, "size": n}]


def run_with(rt, bundle, mount, script, user=None):
    keep_mounts(bundle)
    # made by the host's root: a user namespace's root may not create it
    (bundle.rootfs / mount["destination"].lstrip("/")).mkdir(parents=True, exist_ok=True)
    bundle.config["mounts"].append(mount)
    if user is not None:
        bundle.config["process"]["user"] = {"uid": user, "gid": user}
    bundle.set_args(*sh(script))
    return rt.run(rt.new_id(), bundle)


def test_mappings_without_a_user_namespace(rt, bundle, workdir):
    """No user namespace for the container (crun accepts it): host 1000 shows as 2000, and a
    file uid 2000 creates through the mount is 1000's on the host."""
    peer_xfail(rt, ("runc",), "runc 1.1.5 has no idmapped mounts")
    src = shared_dir(workdir, 1000, 1000)
    r = run_with(rt, bundle, idmapped(src, uid=one(1000, 2000), gid=one(1000, 2000)),
                 "stat -c '%u:%g' /mnt/v/f; echo hi > /mnt/v/new; stat -c '%u:%g' /mnt/v/new",
                 user=2000)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2000:2000", "2000:2000"]
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert not os.path.ismount(src)


def test_mappings_with_a_user_namespace(rt, bundle, workdir):
    """In a user namespace (0 is host BASE): host 1000 mapped to BASE shows as root inside,
    and root's new file is 1000's on the host."""
    peer_xfail(rt, ("runc",), "runc 1.1.5 has no idmapped mounts")
    userns(bundle)
    src = shared_dir(workdir, 1000, 1000)
    r = run_with(rt, bundle, idmapped(src, uid=one(1000, BASE), gid=one(1000, BASE)),
                 "id -u; stat -c '%u:%g' /mnt/v/f; echo hi > /mnt/v/new")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "0:0"]
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_idmap_option_uses_the_containers_namespace(rt, bundle, workdir):
    """"idmap" without mappings: the container's own mapping. The host's root-owned 0755
    directory is root's inside, and writable by the container's root."""
    peer_xfail(rt, ("runc",), "runc 1.1.5 has no idmapped mounts")
    userns(bundle)
    src = shared_dir(workdir, 0, 0)
    os.chown(src / "f", 1000, 1000)
    r = run_with(rt, bundle, idmapped(src, options=("bind", "idmap")),
                 "stat -c '%u:%g' /mnt/v /mnt/v/f; echo hi > /mnt/v/new")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0:0", "1000:1000"]
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_without_idmap_the_host_root_dir_is_not_writable(rt, bundle, workdir):
    """The control for the test above: a plain bind shows nobody and refuses the write."""
    userns(bundle)
    src = shared_dir(workdir, 0, 0)
    r = run_with(rt, bundle, idmapped(src), "stat -c %u /mnt/v; echo hi > /mnt/v/new")
    assert r.returncode != 0
    assert r.stdout.split() == ["65534"]
    assert not (src / "new").exists()


@pytest.mark.parametrize("opt,sub_owner", [("ridmap", "0"), ("idmap", "65534")])
def test_ridmap_covers_submounts(rt, bundle, workdir, opt, sub_owner):
    """rbind of a tree with a tmpfs submount: ridmap idmaps the submount too, idmap only
    the top (the submount's root stays unmapped: nobody inside)."""
    peer_xfail(rt, ("runc",), "runc 1.1.5 has no idmapped mounts")
    peer_xfail(rt, ("crun",), "crun 1.8.1 has no ridmap, and idmaps the submounts of an "
               "rbind for idmap too (the two differ from crun 1.9 on)")
    userns(bundle)
    src = shared_dir(workdir, 0, 0)
    (src / "sub").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", str(src / "sub")],
                   check=True)
    try:
        r = run_with(rt, bundle, idmapped(src, options=("rbind", opt)),
                     "stat -c %u /mnt/v /mnt/v/sub")
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", sub_owner]


BAD = [
    ("overlap", one(0, 1000, 10) + one(5, 3000, 10), one(0, 1000), "uidMappings[1]"),
    ("overlap-host", one(0, 1000), one(0, 1000, 10) + one(100, 1005, 2), "gidMappings[1]"),
    ("size-0", one(0, 1000, 0), one(0, 1000), "uidMappings[0]"),
    ("uid-only", one(0, 1000), None, "gidMappings"),
]


@pytest.mark.parametrize("name,uid,gid,field", BAD, ids=[b[0] for b in BAD])
def test_bad_mappings_refused(rt, bundle, workdir, name, uid, gid, field):
    if rt.name != "hull-oci":
        pytest.skip("the message names hull-oci's field")
    src = shared_dir(workdir)
    r = run_with(rt, bundle, idmapped(src, uid=uid, gid=gid), "echo hi > /mnt/v/new")
    index = len(bundle.config["mounts"]) - 1
    assert r.returncode != 0
    assert f"config.json: mounts[{index}].{field}" in r.stderr, r.stderr
    assert not (src / "new").exists()


def test_idmap_without_user_namespace_or_mappings_refused(rt, bundle, workdir):
    if rt.name != "hull-oci":
        pytest.skip("the message is hull-oci's")
    src = shared_dir(workdir)
    r = run_with(rt, bundle, idmapped(src, options=("bind", "idmap")), "true")
    assert r.returncode != 0
    assert "mounts[" in r.stderr and "user namespace" in r.stderr, r.stderr


def test_idmap_on_a_non_bind_mount_refused(rt, bundle):
    if rt.name != "hull-oci":
        pytest.skip("the message is hull-oci's")
    r = run_with(rt, bundle, {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                              "options": ["idmap"]}, "true")
    assert r.returncode != 0
    assert "bind mounts only" in r.stderr, r.stderr
