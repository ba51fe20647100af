"""`hull vm initramfs` packs what `hull vm run --disk` needs (virtio_pci, virtio_blk and their
dependencies) without being asked, from --module-dir or else the running kernel's
/lib/modules/$(uname -r); with no module tree at all it builds the image and warns, in one
line, that the guest will not see its disk. The module trees are arranged in a private mount
namespace, so each case runs the same on every host."""
import os
import subprocess

DISK_MODULES = ("virtio_pci.ko", "virtio_blk.ko", "virtio.ko", "virtio_ring.ko")


def cpio_names(path):
    with open(path, "rb") as f:
        return subprocess.run(["cpio", "-it"], stdin=f, capture_output=True, text=True,
                              check=True).stdout.split()


def cpio_file(path, name):
    with open(path, "rb") as f:
        return subprocess.run(["cpio", "-i", "--to-stdout", name], stdin=f,
                              capture_output=True, text=True, check=True).stdout


def in_mount_ns(script, *args):
    """sh -c script in a private mount namespace ($1... are args)."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           "set -e\n" + script, "sh", *args],
                          capture_output=True, text=True, timeout=120)


def assert_disk_modules(out):
    base = {n.rsplit("/", 1)[-1] for n in cpio_names(out) if n.endswith(".ko")}
    assert set(DISK_MODULES) <= base, base
    order = cpio_file(out, "etc/hull-modules").split()
    names = [o.rsplit("/", 1)[-1] for o in order]
    # dependencies before the modules that need them
    assert names.index("virtio_ring.ko") < names.index("virtio.ko") < \
        names.index("virtio_pci.ko")
    assert names.index("virtio.ko") < names.index("virtio_blk.ko")


def test_disk_modules_by_default(hull, kernel, tmp_path):
    out = tmp_path / "initrd.cpio"
    r = subprocess.run([hull, "vm", "initramfs", "--output", str(out), "--module-dir",
                        kernel[1]], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stderr
    assert_disk_modules(out)


def test_running_kernels_tree_by_default(hull, kernel, tmp_path):
    # /lib/modules holds only a tree named after the running kernel (the guest kernel's,
    # bound there): with no --module-dir, hull takes it.
    out = tmp_path / "initrd.cpio"
    r = in_mount_ns('mount -t tmpfs hull-test /mnt\n'
                    'mkdir "/mnt/$(uname -r)"\n'
                    'mount --bind "$1" "/mnt/$(uname -r)"\n'
                    'mount --rbind /mnt /lib/modules\n'
                    'exec "$2" vm initramfs --output "$3"', kernel[1], hull, str(out))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert_disk_modules(out)


def test_no_module_tree_warns(hull, tmp_path):
    out = tmp_path / "initrd.cpio"
    r = in_mount_ns('mount -t tmpfs hull-test /lib/modules\n'
                    'exec "$1" vm initramfs --output "$2"', hull, str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("hull vm initramfs: warning: ")
    for w in ("/lib/modules/", "--disk", "virtio_blk"):
        assert w in r.stderr, r.stderr
    assert not [n for n in cpio_names(out) if n.endswith(".ko")]
    assert cpio_file(out, "etc/hull-modules") == ""
    assert os.listdir(tmp_path) == ["initrd.cpio"]
