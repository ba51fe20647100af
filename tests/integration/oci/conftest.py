"""Fixtures for the OCI runtime integration suite (tests/integration/oci).

The suite is runtime-agnostic: it drives whatever binary the `runtime_bin` fixture names:

    HULL_OCI_UNDER_TEST=/usr/sbin/runc /usr/bin/python3 -m pytest tests/integration/oci

Without HULL_OCI_UNDER_TEST the runtime is build*/src/cli/hull-oci (the `hull_oci` fixture).
Each test gets its own --root and busybox-static bundle under a tmp dir (`rt`, `bundle`);
teardown force-deletes what is left under that root and kills any process still running in
the tmp dir, so a failing test leaves nothing on the host.
"""
import ctypes
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile

import pytest

from ocilib import BUSYBOX, Bundle, Runtime, host_mountpoints, make_rootfs, procs_in


def runtime_binary(request) -> str:
    env = os.environ.get("HULL_OCI_UNDER_TEST")
    if env:
        return shutil.which(env) or env
    return request.getfixturevalue("hull_oci")


@pytest.fixture(scope="session")
def runtime_bin(request):
    path = runtime_binary(request)
    if not os.access(path, os.X_OK):
        pytest.fail(f"runtime under test {path} is not executable (build it, or set "
                    f"HULL_OCI_UNDER_TEST)")
    if os.path.basename(path) == "crun":
        request.getfixturevalue("crun_hugetlb")
    return path


HUGETLB = "/sys/fs/cgroup/hugetlb"


def drop_hugetlb_children(top):
    """rmdir the cgroups left in the hugetlb hierarchy, leaves first, so that the hierarchy
    is destroyed once unmounted. A v1 hierarchy with children outlives its last mount and
    keeps showing in every process's /proc/self/cgroup, which makes tools such as conmon
    create plain directories under /sys/fs/cgroup/hugetlb."""
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda x: -len(x[0])):
        if dirpath != top:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


@pytest.fixture(scope="session")
def crun_hugetlb():
    """crun 1.8.1 refuses a hybrid cgroup host ("cgroups in hybrid mode not supported") unless
    every v1 controller is mounted; this host lacks a hugetlb hierarchy. Move this pytest
    process into a private mount namespace and mount one there: the tests' runtimes see it,
    the rest of the host does not, and it goes away with the process."""
    if not os.path.isdir("/sys/fs/cgroup/memory") or os.path.ismount(HUGETLB):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        pytest.fail(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    made = not os.path.exists(HUGETLB)
    if made:
        os.mkdir(HUGETLB)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "hugetlb", HUGETLB], check=True)
    yield
    drop_hugetlb_children(HUGETLB)
    subprocess.run(["umount", HUGETLB], check=False)
    if made:
        # host processes may have made plain directories under it meanwhile (see
        # drop_hugetlb_children): they are meaningless once the hierarchy is gone
        shutil.rmtree(HUGETLB, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_rootfs_tmpl(tmp_path_factory):
    """One busybox rootfs per session; bundles copy it (cp -a keeps the symlinks)."""
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static not installed")
    d = tmp_path_factory.mktemp("rootfs-tmpl") / "rootfs"
    make_rootfs(d)
    return d


@pytest.fixture
def workdir():
    """A tmp dir outside pytest's tmp_path tree (short paths; removed even on failure)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="hull-ot-", dir="/tmp"))
    os.chmod(d, 0o755)  # user-namespace containers (uid 100000) must reach their rootfs
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def rt(runtime_bin, workdir):
    root = workdir / "state"
    r = Runtime(runtime_bin, root)
    yield r
    r.cleanup()
    for pid in procs_in(workdir, r.ids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def bundle(workdir, busybox_rootfs_tmpl):
    b = workdir / "bundle"
    b.mkdir()
    subprocess.run(["cp", "-a", str(busybox_rootfs_tmpl), str(b / "rootfs")], check=True)
    bun = Bundle(b)
    bun.write()
    return bun


@pytest.fixture
def make_bundle(workdir, busybox_rootfs_tmpl):
    """Factory for extra bundles in the same test (e.g. a namespace holder)."""
    n = [0]

    def make():
        n[0] += 1
        b = workdir / f"bundle{n[0]}"
        b.mkdir()
        subprocess.run(["cp", "-a", str(busybox_rootfs_tmpl), str(b / "rootfs")], check=True)
        bun = Bundle(b)
        bun.write()
        return bun
    return make


@pytest.fixture
def leftovers(workdir):
    """Call it after a failing command: asserts nothing was left behind."""
    # only mounts under our tmp dir count: other suites may mount elsewhere meanwhile, and a
    # runtime's leak would be on the bundle, the rootfs, the state dir or a symlink target here
    def ours():
        return [m for m in host_mountpoints() if m.startswith(str(workdir))]
    before = ours()

    def check(rt, cid=None):
        after = ours()
        assert after == before, f"mounts changed: {set(after) ^ set(before)}"
        procs = procs_in(workdir, [cid] if cid else [])
        assert not procs, f"processes left running in the bundle: {procs}"
        if cid is not None and rt.root.exists():
            assert cid not in os.listdir(rt.root), f"state for {cid} left under --root"
        if cid:
            cg = [c for c in os.listdir("/sys/fs/cgroup")
                  if os.path.exists(os.path.join("/sys/fs/cgroup", c, cid))]
            assert not cg, f"cgroup {cid} left in {cg}"
    return check


