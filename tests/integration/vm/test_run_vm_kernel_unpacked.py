"""guest18: a kernel unpacked with `dpkg -x PKG DIR` (Debian's cloud flavour measured without
installing it into /boot, docs/engine.md "The cloud kernel") has its modules at
DIR/lib/modules/<release>: `run --vm --kernel DIR/boot/vmlinuz-<release>` looks there when
/lib/modules/<release> is absent, and names that path when neither is there. Host side: no
boot (a copy of the host's bzImage with its release string renamed)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from vmhelpers import find_kernel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from engine_helpers import Hull, cleanup_store, make_rootfs  # noqa: E402


def test_unpacked_kernel_module_dir(hull, tmp_path):
    found = find_kernel()
    if not found or not os.path.exists("/bin/busybox"):
        pytest.skip("no /boot/vmlinuz-* with modules, or no busybox-static")
    vmlinuz, moddir = found
    rel = os.path.basename(moddir)
    fake = rel[:-1] + ("z" if rel[-1] != "z" else "y")  # same length: the header's offsets hold
    assert not os.path.exists(f"/lib/modules/{fake}")
    data = pathlib.Path(vmlinuz).read_bytes()
    assert data.count(rel.encode() + b" ") >= 1
    unpacked = tmp_path / "unpacked"
    (unpacked / "boot").mkdir(parents=True)
    kernel = unpacked / "boot" / f"vmlinuz-{fake}"
    kernel.write_bytes(data.replace(rel.encode() + b" ", fake.encode() + b" "))
    root = make_rootfs(tmp_path / "rootfs")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    h = Hull(hull, tmp_path / "store")
    try:
        h.run("import", tar, "bb")
        r = h.run("run", "--rm", "--vm", "--kernel", kernel, "bb", "true", check=False)
        # neither tree: the line names the unpacked one, beside the kernel
        want = f"{unpacked}/lib/modules/{fake}/modules.dep"
        assert r.returncode == 125 and r.stderr.count("\n") == 1 and want in r.stderr, r
        assert h.run("ps", "-a", "-q").stdout == ""
    finally:
        cleanup_store(h)
    shutil.rmtree(unpacked)
