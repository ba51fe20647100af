"""A namespace not listed in linux.namespaces is the runtime's own (runtime-spec
config-linux.md "Namespaces": "If a namespace type is not specified in the namespaces array,
the container MUST inherit the runtime namespace of that type"). Issue 12 item 6: hull-oci
refused a config without a mount namespace."""
import os
import subprocess

import pytest

from ocilib import host_mountpoints, sh

NS_FILES = {"mount": "mnt", "network": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}


def detach_left(workdir):
    """runc and crun leave the container's mounts in the runtime's namespace: undo them."""
    for m in sorted((m for m in host_mountpoints() if m.startswith(str(workdir))),
                    key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


@pytest.mark.parametrize("missing", sorted(NS_FILES))
def test_unlisted_namespace_is_the_runtimes(rt, bundle, workdir, missing):
    ns = [{"type": t} for t in NS_FILES if t != missing]
    bundle.config["linux"]["namespaces"] = ns
    if missing == "uts":
        del bundle.config["hostname"]  # a hostname needs a uts namespace of its own
    name = NS_FILES[missing]
    bundle.set_args(*sh(f"readlink /proc/self/ns/{name}; cat /proc/self/mountinfo | "
                        "grep -c ' /proc '; pwd"))
    cid = rt.new_id()
    try:
        r = rt.run(cid, bundle)
    finally:
        rt("delete", "--force", cid)
        if not rt.is_hull:
            detach_left(workdir)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[0] == os.readlink(f"/proc/self/ns/{name}")
    assert int(out[1]) >= 1, "the config's /proc mount is missing"
    assert out[2] == "/"


def test_no_mount_namespace_detached_on_delete(rt, bundle, workdir):
    """The mounts live in the runtime's namespace while the container runs (it has no
    other) and hull-oci detaches them on delete: nothing is left under the bundle."""
    bundle.config["linux"]["namespaces"] = [{"type": t} for t in ("pid", "uts", "ipc")]
    bundle.set_args("sleep", "1000")
    cid = rt.new_id()
    try:
        rt.run_detached(cid, bundle)
        ours = [m for m in host_mountpoints() if m.startswith(str(bundle.rootfs))]
        assert str(bundle.rootfs / "proc") in ours
        pid = rt.state(cid)["pid"]
        assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
        # chrooted into the rootfs, in our mount namespace
        assert os.readlink(f"/proc/{pid}/root") == os.path.realpath(bundle.rootfs)
    finally:
        r = rt("delete", "--force", cid)
        left = [m for m in host_mountpoints() if m.startswith(str(workdir))]
        if not rt.is_hull:
            detach_left(workdir)
    assert r.returncode == 0, r.stderr
    if rt.is_hull:
        assert left == [], f"mounts left after delete: {left}"


def test_exec_without_mount_namespace(rt, bundle, workdir):
    """exec into such a container lands in its root (the chroot), not the host's."""
    bundle.config["linux"]["namespaces"] = [{"type": t} for t in ("pid", "uts", "ipc")]
    bundle.set_args("sleep", "1000")
    (bundle.rootfs / "marker-inside").write_text("x")
    cid = rt.new_id()
    try:
        rt.run_detached(cid, bundle)
        r = rt("exec", cid, "/bin/sh", "-c", "ls /marker-inside && grep -c ' /proc ' "
               "/proc/self/mountinfo")
    finally:
        rt("delete", "--force", cid)
        if not rt.is_hull:
            detach_left(workdir)
    if not rt.is_hull and r.returncode != 0:
        pytest.xfail(f"{rt.name} execs into the runtime's root, not the container's")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "/marker-inside"
