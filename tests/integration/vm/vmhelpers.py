"""Helpers shared by the `hull vm` tests (plain functions, no fixtures)."""
import fcntl
import glob
import json
import os
import pathlib
import socket

REPO = pathlib.Path(__file__).resolve().parents[3]
# Runs a command as on a host without /dev/kvm (or, with --not-kvm, with an unusable one).
WITHOUT_KVM = str(REPO / "tests/sandbox/without-kvm")
KVM_GET_API_VERSION = 0xAE00


def host_lacks_hw_virt() -> bool:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                words = line.split(":", 1)[1].split()
                return "vmx" not in words and "svm" not in words
    return False


def kvm_works() -> bool:
    """/dev/kvm opens and answers KVM_GET_API_VERSION (PVM counts: the tests pass
    --allow-pvm). The same probe as scripts/test's, which routes the tests marked `kvm` to
    the sandbox when it fails."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


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


def vm_api(path, obj=None, raw=None, timeout=10):
    """One request on a VM's API socket (JSON lines): obj as JSON (default: status), or raw
    bytes as they are; the answer's JSON."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(raw if raw is not None else
                  (json.dumps(obj if obj is not None else {"op": "status"}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return json.loads(data)
