"""Fixtures for the engine tests: a private image store per test, a busybox-static root file
system made here, and images imported from it (no network anywhere)."""
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest

from engine_helpers import BUSYBOX, Hull, cleanup_store, make_rootfs  # noqa: F401


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("busybox")
    root = make_rootfs(base / "rootfs")
    out = base / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(out), "."],
                   check=True)
    return out


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
