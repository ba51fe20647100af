"""Fixtures for the `hull vm` tests: the tiny guest (assembled here), Debian's kernel, and
initramfs images built with `hull vm initramfs`.

Tests that need a working /dev/kvm are marked `kvm`. scripts/test runs them on the host when
its /dev/kvm works and inside the sandbox VM (nested KVM) when it does not, so the counts are
the same on every machine. Where they land without a working KVM anyway, they fail inside the
sandbox (it must provide one) and are skipped, with the reason, in a hand-run on the host."""
import lzma
import os
import pathlib
import shutil
import subprocess

import pytest

from vmhelpers import find_kernel, kvm_works

REPO = pathlib.Path(__file__).resolve().parents[3]
TINY_SRC = REPO / "tests/data/vm/tiny.S"


@pytest.fixture(scope="session")
def tiny_guest(tmp_path_factory):
    """Build the tiny guest variants: {'poweroff', 'reboot', 'spin', 'kbd', 'count': path}."""
    if not shutil.which("as") or not shutil.which("ld"):
        pytest.skip("binutils (as, ld) not installed")
    out = tmp_path_factory.mktemp("tiny")
    built = {}
    for name, defs in (("poweroff", []), ("reboot", ["--defsym", "REBOOT=1"]),
                       ("spin", ["--defsym", "SPIN=1"]), ("kbd", ["--defsym", "KBD=1"]),
                       ("count", ["--defsym", "COUNT=1"])):
        obj, binary = out / f"{name}.o", out / f"{name}.bin"
        subprocess.run(["as", "--32", *defs, "-o", str(obj), str(TINY_SRC)], check=True)
        subprocess.run(["ld", "-m", "elf_i386", "-Ttext=0", "--oformat", "binary", "-o",
                        str(binary), str(obj)], check=True)
        built[name] = str(binary)
    return built


def pytest_runtest_setup(item):
    if item.get_closest_marker("kvm") is None or kvm_works():
        return
    if os.environ.get("HULL_SANDBOX") == "1":
        pytest.fail("the sandbox VM has no working /dev/kvm (nested KVM)", pytrace=False)
    pytest.skip("no working /dev/kvm here: scripts/test runs the tests marked `kvm` inside "
                "the sandbox on such a host (tests/sandbox/run-pytest with "
                "HULL_SANDBOX_MARKERS='sandbox or kvm')")


@pytest.fixture(scope="session")
def kernel():
    k = find_kernel()
    if not k:
        pytest.skip("no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)")
    return k


@pytest.fixture(scope="session")
def vmlinux(kernel, tmp_path_factory):
    """The ELF vmlinux inside the bzImage (its XZ payload), for the PVH boot path. Test-only:
    the same approach as the kernel's scripts/extract-vmlinux."""
    data = pathlib.Path(kernel[0]).read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        pytest.skip("the kernel's payload is not XZ")
    out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    if not out.startswith(b"\x7fELF"):
        pytest.skip("the XZ payload is not an ELF vmlinux")
    path = tmp_path_factory.mktemp("pvh") / "vmlinux"
    path.write_bytes(out)
    return str(path)


@pytest.fixture
def make_initramfs(hull, kernel, tmp_path):
    """Build an initramfs whose /init is the given shell script, with the given modules and
    what --disk needs, which `hull vm initramfs` packs by default (virtio_pci, virtio_blk): the
    disk tests of test_boot.py and test_qcow2.py check that the guest sees its disks so."""
    def make(init_script: str, modules=("virtio-rng",)):
        init = tmp_path / "init"
        init.write_text(init_script)
        out = tmp_path / "initrd.cpio"
        cmd = [hull, "vm", "initramfs", "--output", str(out), "--init", str(init),
               "--module-dir", kernel[1]]
        for m in modules:
            cmd += ["--module", m]
        subprocess.run(cmd, check=True)
        return str(out)
    return make
