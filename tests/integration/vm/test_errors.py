"""Bad input to `hull vm`: one clear line on stderr naming what is wrong, exit 125, nothing
left behind."""
import os
import pathlib
import shutil
import subprocess

import pytest

from vmhelpers import find_kernel

KERNEL = (find_kernel() or ("/boot/vmlinuz-missing", ""))[0]


def run(hull, *args, **kw):
    return subprocess.run([hull, "vm", *args], capture_output=True, text=True, timeout=60, **kw)


def assert_error(r, *words):
    assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr  # one line
    for w in words:
        assert w in r.stderr, r.stderr
    assert r.stdout == ""


def test_not_a_kernel(hull, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello, I am not a kernel\n" * 100)
    assert_error(run(hull, "run", "--kernel", str(f)), str(f), "not a Linux kernel")


def test_missing_kernel(hull):
    assert_error(run(hull, "run", "--kernel", "/nonexistent/vmlinuz"), "/nonexistent/vmlinuz",
                 "No such file")


def test_kernel_required(hull):
    assert_error(run(hull, "run"), "--kernel")


def test_memory_larger_than_host(hull):
    assert_error(run(hull, "run", "--kernel", KERNEL, "--memory", "64T"), "--memory",
                 "larger than the host")


@pytest.mark.parametrize("mem", ["lots", "-1G", "12Q", "1G2"])
def test_memory_garbage(hull, mem):
    assert_error(run(hull, "run", "--kernel", KERNEL, "--memory", mem), "--memory", mem)


@pytest.mark.parametrize("cpus", ["0", "33", "two", "-1"])
def test_cpus_out_of_range(hull, cpus):
    assert_error(run(hull, "run", "--kernel", KERNEL, "--cpus", cpus), "--cpus")


def test_missing_disk(hull):
    assert_error(run(hull, "run", "--kernel", KERNEL, "--disk", "/nonexistent/disk.img"),
                 "/nonexistent/disk.img", "No such file")


def test_read_only_disk_needs_ro(hull, tmp_path):
    disk = tmp_path / "ro.img"
    disk.write_bytes(b"\0" * 65536)
    disk.chmod(0o444)
    assert_error(run(hull, "run", "--kernel", KERNEL, "--disk", str(disk)), str(disk),
                 "read-only", ",ro")


def test_disk_bad_option(hull, tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"\0" * 512)
    assert_error(run(hull, "run", "--kernel", KERNEL, "--disk", f"{disk},turbo"), "turbo")
    assert_error(run(hull, "run", "--kernel", KERNEL, "--disk", f"{disk},serial={'x' * 21}"),
                 "20 bytes")


@pytest.mark.parametrize("fmt", ["vmdk", "auto", ""])
def test_disk_bad_format(hull, tmp_path, fmt):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"\0" * 512)
    assert_error(run(hull, "run", "--kernel", KERNEL, "--disk", f"{disk},format={fmt}"),
                 str(disk), f"format={fmt}", "raw or qcow2")


def test_disk_qcow2_on_a_raw_file(hull, tmp_path):
    # format=qcow2 on a file that is not one: refused before the guest runs (hence
    # --allow-pvm is harmless here), naming the file.
    disk = tmp_path / "plain.raw"
    disk.write_bytes(b"\0" * 65536)
    assert_error(run(hull, "run", "--allow-pvm", "--kernel", KERNEL, "--disk",
                     f"{disk},format=qcow2"), str(disk), "not a qcow2 image")
    assert disk.read_bytes() == b"\0" * 65536


def test_disk_qcow2_missing_backing(hull, tmp_path):
    base = tmp_path / "base.raw"
    base.write_bytes(b"\0" * 65536)
    ov = tmp_path / "ov.qcow2"
    subprocess.run([hull, "img", "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
                    str(ov)], check=True, cwd=tmp_path, capture_output=True)
    base.unlink()
    before = ov.read_bytes()
    assert_error(run(hull, "run", "--allow-pvm", "--kernel", KERNEL, "--disk",
                     f"{ov},format=qcow2"), "base.raw")
    assert ov.read_bytes() == before


def test_missing_initrd(hull):
    assert_error(run(hull, "run", "--kernel", KERNEL, "--initrd", "/nonexistent/initrd"),
                 "--initrd", "/nonexistent/initrd")


def test_bad_console(hull):
    assert_error(run(hull, "run", "--kernel", KERNEL, "--console", "hdmi"), "--console", "hdmi")


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare")
def test_missing_dev_kvm(hull, tiny_guest, tmp_path):
    # A private mount namespace with an empty /dev: as on a host without KVM.
    script = f"mount -t tmpfs none /dev && exec {hull} vm run --raw --allow-pvm --kernel " \
             f"{tiny_guest['poweroff']} --memory 2M"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert_error(r, "/dev/kvm", "KVM is not available")


def test_unknown_subcommand(hull):
    r = run(hull, "fly")
    assert r.returncode == 125 and "unknown command 'fly'" in r.stderr


def test_initramfs_contents(hull, kernel, tmp_path):
    init = tmp_path / "init"
    init.write_text("#!/bin/sh\necho hi\n")
    out = tmp_path / "initrd.cpio"
    r = run(hull, "initramfs", "--output", str(out), "--init", str(init), "--module-dir",
            kernel[1], "--module", "virtio_blk", "--file", f"{init}:/opt/copy")
    assert r.returncode == 0, r.stderr
    names = subprocess.run(["cpio", "-it"], stdin=open(out, "rb"), capture_output=True,
                           text=True, check=True).stdout.split()
    for n in ("init", "bin/busybox", "bin/sh", "dev/console", "etc/hull-modules", "opt/copy",
              "lib/modules/kernel/drivers/block/virtio_blk.ko",
              "lib/modules/kernel/drivers/virtio/virtio_ring.ko"):
        assert n in names, n
    order = subprocess.run(["cpio", "-i", "--to-stdout", "etc/hull-modules"],
                           stdin=open(out, "rb"), capture_output=True, text=True,
                           check=True).stdout.split()
    # dependencies before the module that needs them
    assert order[-1].endswith("/virtio_blk.ko")
    assert any(o.endswith("/virtio_ring.ko") for o in order[:-1])


def test_initramfs_missing_module(hull, kernel, tmp_path):
    out = tmp_path / "initrd.cpio"
    r = run(hull, "initramfs", "--output", str(out), "--module-dir", kernel[1], "--module",
            "no_such_module")
    assert_error(r, "no_such_module", "modules.dep")
    assert not out.exists()  # nothing half-written
    assert os.listdir(tmp_path) == []


def test_truncated_bzimage(hull, kernel, tmp_path):
    # Cut after 1 MiB: the setup header is intact, the payload is not (its syssize says more).
    # hull reads the file (pread into guest RAM), never maps it, and names it in one line.
    k = tmp_path / "vmlinuz-cut"
    k.write_bytes(pathlib.Path(kernel[0]).read_bytes()[:1 << 20])
    assert_error(run(hull, "run", "--allow-pvm", "--memory", "256M", "--kernel", str(k)),
                 str(k), "truncated bzImage")


def test_bzimage_header_then_garbage(hull, kernel, tmp_path):
    # A real setup header followed by random bytes is still refused only by what can be
    # checked (syssize): cut it to the header plus 4 KiB of garbage.
    head = pathlib.Path(kernel[0]).read_bytes()[:0x4000]
    k = tmp_path / "vmlinuz-garbage"
    k.write_bytes(head + os.urandom(4096))
    assert_error(run(hull, "run", "--allow-pvm", "--memory", "256M", "--kernel", str(k)),
                 str(k), "truncated bzImage")


def test_truncated_vmlinux(hull, vmlinux, tmp_path):
    k = tmp_path / "vmlinux-cut"
    k.write_bytes(pathlib.Path(vmlinux).read_bytes()[:8 << 20])
    assert_error(run(hull, "run", "--allow-pvm", "--memory", "256M", "--kernel", str(k)),
                 str(k), "outside the file")


def test_console_virtio_needs_linux(hull, tiny_guest):
    assert_error(run(hull, "run", "--raw", "--allow-pvm", "--memory", "2M", "--console",
                     "virtio", "--kernel", tiny_guest["poweroff"]), "--console virtio")
