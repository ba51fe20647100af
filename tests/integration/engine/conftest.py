"""Fixtures for the engine tests: a private image store per test, a busybox-static root file
system made here, and images imported from it (no network anywhere)."""
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest

from engine_helpers import BUSYBOX, make_rootfs  # noqa: F401 (fixtures below use them)


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("busybox")
    root = make_rootfs(base / "rootfs")
    out = base / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(out), "."],
                   check=True)
    return out


class Hull:
    """Runs the hull binary against a private store."""

    def __init__(self, binary: str, root: pathlib.Path):
        self.binary = binary
        self.root = root
        self.env = dict(os.environ, HULL_ROOT=str(root))

    def run(self, *args, check=True, input=None, timeout=60, **kw):
        r = subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True,
                           env=self.env, input=input, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(map(str, args))} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def out(self, *args, **kw) -> str:
        return self.run(*args, **kw).stdout

    def inspect(self, name):
        return json.loads(self.out("inspect", name))[0]

    def store_snapshot(self):
        """What must not change when an operation fails."""
        snap = {}
        for sub in ("blobs/sha256", "layers"):
            d = self.root / sub
            snap[sub] = sorted(os.listdir(d)) if d.exists() else []
        idx = self.root / "index.json"
        snap["index"] = idx.read_text() if idx.exists() else None
        return snap

    def tmp_is_empty(self) -> bool:
        d = self.root / "tmp"
        return not d.exists() or os.listdir(d) == []


def cleanup_store(h: Hull):
    """Stop and remove containers (unmounting their rootfs) before the directory goes."""
    if not h.root.exists():
        return
    subprocess.run([h.binary, "rm", "-f", *h.run("ps", "-a", "-q", "--no-trunc",
                                                 check=False).stdout.split()],
                   capture_output=True, env=h.env)
    subprocess.run(["sh", "-c", f"grep -o ' {h.root}/[^ ]*' /proc/mounts | xargs -r -n1 umount -l"],
                   capture_output=True)
    # rm -rf, not pytest's own clean-up later: shutil.rmtree recurses once per level and
    # fails on the 2,000-level trees some tests store
    subprocess.run(["rm", "-rf", "--one-file-system", str(h.root)], capture_output=True)


@pytest.fixture
def hull_store(hull, tmp_path):
    h = Hull(hull, tmp_path / "store")
    yield h
    cleanup_store(h)


@pytest.fixture
def bb(hull_store, rootfs_tar):
    """The store with localhost/busybox:latest imported; returns the Hull helper."""
    hull_store.run("import", rootfs_tar, "busybox", "--change", 'CMD ["/bin/sh"]')
    return hull_store


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    """podman with a private storage (vfs), so tests never touch the host's images."""
    if not shutil.which("podman"):
        pytest.skip("podman not installed")
    base = tmp_path_factory.mktemp("podman")
    # This host: crun 1.8.1 refuses its hybrid cgroup layout, and root lacks
    # CAP_SYS_RESOURCE, so podman's default ulimits fail; runc with explicit ulimits and the
    # cgroupfs manager works. A private containers.conf keeps that out of the host's config.
    conf = base / "containers.conf"
    conf.write_text('[containers]\n'
                    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                    '[engine]\n'
                    'cgroup_manager = "cgroupfs"\n'
                    'runtime = "runc"\n'
                    'events_logger = "file"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    cmd = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
           "--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]

    def run(*args, check=True, **kw):
        r = subprocess.run(cmd + list(map(str, args)), capture_output=True, text=True,
                           env=env, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {' '.join(map(str, args))}: {r.returncode}\n{r.stderr}")
        return r
    yield run
    # Not `podman system reset`: it also wipes the host-wide /run/libpod.
    subprocess.run(cmd + ["rm", "-a", "-f"], capture_output=True, env=env)
    shutil.rmtree(base, ignore_errors=True)
