"""Helpers shared by the `hull vm` tests (plain functions, no fixtures)."""
import glob
import os


def host_lacks_hw_virt() -> bool:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                words = line.split(":", 1)[1].split()
                return "vmx" not in words and "svm" not in words
    return False


def kvm_usable() -> bool:
    return os.path.exists("/dev/kvm") and not host_lacks_hw_virt()


def find_kernel():
    """Debian's kernel and its module tree, newest first: (vmlinuz, /lib/modules/VER)."""
    for vmlinuz in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        ver = vmlinuz.split("vmlinuz-", 1)[1]
        moddir = f"/lib/modules/{ver}"
        if os.path.exists(f"{moddir}/modules.dep"):
            return vmlinuz, moddir
    return None


# The guest init's common prologue: mount, load the modules hull packed, in order.
INIT_PROLOGUE = """#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" || echo "HULL-TEST: insmod $m failed"; done < /etc/hull-modules
"""
