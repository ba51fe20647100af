"""Fixtures of the registry tests: a private store, a busybox image in it, and a registry on
127.0.0.1 started for the test and killed after it (checked)."""
import shutil
import subprocess

import pytest

from registry_helpers import Hull, Registry, store_listing  # noqa: F401


@pytest.fixture
def h(hull, tmp_path):
    hh = Hull(hull, tmp_path / "store", tmp_path / "auth.json")
    yield hh
    subprocess.run(["rm", "-rf", "--one-file-system", str(hh.root)], check=True)
    assert not hh.root.exists()


@pytest.fixture
def bb(h, tmp_path):
    """localhost/bb:latest: a busybox-static root file system, one layer."""
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    (root / "etc").mkdir()
    (root / "etc/hello").write_text("hello from the registry test\n")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."], check=True)
    h.run("import", tar, "localhost/bb:latest")
    return "localhost/bb:latest"


def _registry(tmp_path, name, **kw):
    d = tmp_path / name
    d.mkdir()
    return Registry(d, **kw)


@pytest.fixture
def registry(tmp_path):
    r = _registry(tmp_path, "reg")
    yield r
    r.stop()
    assert r.proc.poll() is not None


@pytest.fixture
def make_registry(tmp_path):
    made = []

    def make(name, **kw):
        r = _registry(tmp_path, name, **kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()
        assert r.proc.poll() is not None
