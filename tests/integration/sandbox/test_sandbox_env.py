"""The environment inside the sandbox VM: what tests marked `sandbox` may rely on.

These run inside the VM (tests/sandbox/run-pytest); on the host they are deselected.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import struct
import subprocess

import pytest

from sandbox_helpers import REPO

pytestmark = pytest.mark.sandbox

CONTROLLERS = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}


def mounts():
    """{mount point: (fstype, options)} from /proc/self/mounts (the last mount wins)."""
    out = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, fstype, opts, *_ = line.split()
            out[mnt.replace("\\040", " ")] = (fstype, opts.split(","))
    return out


def test_cgroup2_with_every_controller():
    assert mounts()["/sys/fs/cgroup"][0] == "cgroup2"
    root = "/sys/fs/cgroup"
    have = set(open(f"{root}/cgroup.controllers").read().split())
    assert CONTROLLERS <= have
    enabled = set(open(f"{root}/cgroup.subtree_control").read().split())
    assert CONTROLLERS <= enabled


def test_cgroup2_child_limits_apply(tmp_path):
    cg = "/sys/fs/cgroup/sandbox-env-test"
    os.mkdir(cg)
    try:
        assert CONTROLLERS <= set(open(f"{cg}/cgroup.controllers").read().split())
        with open(f"{cg}/memory.max", "w") as f:
            f.write("33554432")
        with open(f"{cg}/pids.max", "w") as f:
            f.write("5")
        assert open(f"{cg}/memory.max").read().strip() == "33554432"
        # A shell in the cgroup cannot have more than 5 processes.
        r = subprocess.run(["sh", "-c", f"echo $$ > {cg}/cgroup.procs; "
                            "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait"],
                           capture_output=True, text=True, timeout=60)
        assert "fork" in r.stderr.lower() or "resource temporarily unavailable" in r.stderr.lower(), r.stderr
        assert int(dict(line.split() for line in open(f"{cg}/pids.events"))["max"]) >= 1
    finally:
        subprocess.run(["sh", "-c", f"kill $(cat {cg}/cgroup.procs) 2>/dev/null"])
        for _ in range(100):
            try:
                os.rmdir(cg)
                break
            except OSError:
                subprocess.run(["sleep", "0.1"])


# KVM ioctls (linux/kvm.h), and the sizes of the structs they take.
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = 0x4020AE46  # struct kvm_userspace_memory_region, 32 bytes
KVM_RUN = 0xAE80
KVM_SET_REGS = 0x4090AE82  # struct kvm_regs, 144 bytes
KVM_GET_SREGS = 0x8138AE83  # struct kvm_sregs, 312 bytes
KVM_SET_SREGS = 0x4138AE84
KVM_EXIT_IO, KVM_EXIT_HLT = 2, 5


def test_dev_kvm_runs_a_real_mode_guest():
    """Nested SVM works: a guest writes a byte to an I/O port, then halts."""
    assert "svm" in open("/proc/cpuinfo").read()
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    try:
        assert fcntl.ioctl(kvm, KVM_GET_API_VERSION, 0) == 12
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        mem = mmap.mmap(-1, 0x10000)
        code = bytes([0xB0, 0x42, 0xE6, 0x10, 0xF4])  # mov al,0x42; out 0x10,al; hlt
        mem[0x1000:0x1000 + len(code)] = code
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION, struct.pack("=IIQQQ", 0, 0, 0, 0x10000, addr))
        vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
        size = fcntl.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)
        run = mmap.mmap(vcpu, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        sregs = bytearray(312)
        fcntl.ioctl(vcpu, KVM_GET_SREGS, sregs)
        struct.pack_into("=Q", sregs, 0, 0)  # cs.base
        struct.pack_into("=H", sregs, 12, 0)  # cs.selector
        fcntl.ioctl(vcpu, KVM_SET_SREGS, bytes(sregs))
        regs = [0] * 18
        regs[16], regs[17] = 0x1000, 0x2  # rip, rflags
        fcntl.ioctl(vcpu, KVM_SET_REGS, struct.pack("=18Q", *regs))

        fcntl.ioctl(vcpu, KVM_RUN, 0)
        assert struct.unpack_from("=I", run, 8)[0] == KVM_EXIT_IO
        direction, size_, port, count, off = struct.unpack_from("=BBHIQ", run, 32)
        assert (direction, size_, port, count) == (1, 1, 0x10, 1)  # out, 1 byte
        assert run[off] == 0x42
        fcntl.ioctl(vcpu, KVM_RUN, 0)
        assert struct.unpack_from("=I", run, 8)[0] == KVM_EXIT_HLT
        run.close()
        os.close(vcpu)
        os.close(vm)
    finally:
        os.close(kvm)


def test_host_root_is_read_only():
    fstype, opts = mounts()["/"]
    assert fstype == "9p" and "ro" in opts
    for path in (REPO / "sandbox-write-test", "/usr/sandbox-write-test"):
        with pytest.raises(OSError) as e:
            open(path, "w")
        assert e.value.errno == errno.EROFS
    # The repository and the build directory are there, at their host paths.
    assert (REPO / "tests/sandbox/run").exists()
    if os.environ.get("HULL_BUILD_DIR"):
        assert os.path.isdir(os.environ["HULL_BUILD_DIR"])


@pytest.mark.parametrize("path", ["/tmp", "/run", "/var/tmp", "/root", "/dev/shm", "/etc", "/var/lib",
                                  "/var/lib/hull", "/var/lib/containers", "/var/log"])
def test_writable_paths(path):
    p = os.path.join(path, f"sandbox-write-test-{os.getpid()}")
    with open(p, "w") as f:
        f.write("x")
    os.unlink(p)


def test_tmp_is_a_fresh_tmpfs_and_overlay_works_on_it(tmp_path):
    m = mounts()
    assert m["/tmp"][0] == "tmpfs" and m["/run"][0] == "tmpfs"
    assert m["/var/lib/hull"][0] == "tmpfs"
    for d in ("lower", "upper", "work", "merged"):
        (tmp_path / d).mkdir()
    (tmp_path / "lower/f").write_text("lower")
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,workdir={tmp_path}/work",
                    str(tmp_path / "merged")], check=True)
    try:
        (tmp_path / "merged/f").write_text("upper")
        assert (tmp_path / "lower/f").read_text() == "lower"
        assert (tmp_path / "upper/f").read_text() == "upper"
    finally:
        subprocess.run(["umount", str(tmp_path / "merged")], check=True)


def test_modules_load_on_demand():
    """veth and bridge are loaded at boot; dummy is loaded by the kernel through modprobe."""
    names = ("sbveth0", "sbbr0", "sbdummy0")
    try:
        subprocess.run(["ip", "link", "add", "sbveth0", "type", "veth", "peer", "name", "sbveth1"],
                       check=True)
        subprocess.run(["ip", "link", "add", "sbbr0", "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "add", "sbdummy0", "type", "dummy"], check=True)
        out = subprocess.run(["ip", "-o", "link"], check=True, capture_output=True, text=True).stdout
        for n in names:
            assert n in out
    finally:
        for n in names:
            subprocess.run(["ip", "link", "del", n], capture_output=True)


def test_environment_is_minimal():
    assert os.environ.get("HULL_SANDBOX") == "1"
    assert os.environ.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert os.getcwd() == str(REPO)
    assert os.geteuid() == 0
    assert subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip() == "hull-sandbox"


def test_namespaces_user_pid_net():
    """The command is not merely chrooted (a chroot forbids CLONE_NEWUSER): / is the root of
    its mount namespace, so user namespaces work, as rootless containers need."""
    r = subprocess.run(["unshare", "-U", "-r", "id", "-u"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr
    r = subprocess.run(["unshare", "-m", "-p", "-n", "-f", "--mount-proc", "sh", "-c", "echo $$"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_device_modules_load_on_first_open(tmp_path):
    """/dev/loop-control exists before the loop module is loaded (modules.devname)."""
    assert os.path.exists("/dev/net/tun") and os.path.exists("/dev/fuse")
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(4 << 20)
    r = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    dev = r.stdout.strip()
    try:
        assert dev.startswith("/dev/loop")
    finally:
        subprocess.run(["losetup", "-d", dev])
