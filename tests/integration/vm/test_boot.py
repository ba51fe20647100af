"""Debian's stock kernel on hull's VMM, in the sandbox (the host's KVM is PVM: a real guest
would crawl there). Each test boots the unmodified kernel with an initramfs from
`hull vm initramfs` whose init checks the machine and powers off, reboots or panics."""
import subprocess
import warnings

import pytest

from vmhelpers import INIT_PROLOGUE

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BOOT_TIMEOUT = 600


def boot(hull, kernel_path, initrd, *args):
    r = subprocess.run([hull, "vm", "run", "--kernel", kernel_path, "--initrd", initrd,
                        "--cmdline", "console=ttyS0 quiet", *args],
                       capture_output=True, text=True, timeout=BOOT_TIMEOUT)
    marks = {}
    for line in r.stdout.splitlines():
        if line.startswith("HULL-TEST: ") and "=" in line:
            k, v = line[len("HULL-TEST: "):].split("=", 1)
            marks[k] = v.strip()
    return r, marks


CHECK_INIT = INIT_PROLOGUE + r"""
echo "HULL-TEST: cpus=$(grep -c ^processor /proc/cpuinfo)"
echo "HULL-TEST: memtotal_kb=$(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
echo "HULL-TEST: serial=$(cat /sys/block/vda/serial)"
echo "HULL-TEST: vdb_ro=$(cat /sys/block/vdb/ro)"
echo "HULL-TEST: vda_sectors=$(cat /sys/block/vda/size)"
echo "HULL-TEST: content=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 16)"
if echo "written-by-the-guest" | dd of=/dev/vda bs=512 seek=1 conv=sync,fsync 2>/dev/null
then echo "HULL-TEST: write=ok"; else echo "HULL-TEST: write=failed"; fi
if echo x | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null
then echo "HULL-TEST: ro_write=accepted"; else echo "HULL-TEST: ro_write=refused"; fi
echo "HULL-TEST: discard=$(cat /sys/block/vda/queue/discard_max_bytes)"
echo "HULL-TEST: rng=$(cat /sys/class/misc/hw_random/rng_current)"
echo "HULL-TEST: rng_bytes=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c)"
echo "HULL-TEST: done=yes"
poweroff -f
"""


def test_stock_kernel_disks_rng_poweroff(hull, kernel, make_initramfs, tmp_path):
    vda = tmp_path / "vda.img"
    vda.write_bytes(b"hull-disk-magic!" + b"\0" * (4 * 1024 * 1024 - 16))
    vdb = tmp_path / "vdb.img"
    vdb.write_bytes(b"read-only-disk" + b"\0" * (1024 * 1024 - 14))
    initrd = make_initramfs(CHECK_INIT)
    r, m = boot(hull, kernel[0], initrd, "--cpus", "2", "--memory", "256M",
                "--disk", f"{vda},serial=hull-test-vda", "--disk", f"{vdb},ro", "--rng")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert m.get("done") == "yes", r.stdout[-3000:]
    assert m["cpus"] == "2"
    assert 180 * 1024 < int(m["memtotal_kb"]) <= 256 * 1024
    assert m["serial"] == "hull-test-vda"
    assert m["vda_sectors"] == str(4 * 1024 * 1024 // 512)
    assert m["content"] == "hull-disk-magic!"
    assert m["write"] == "ok"
    assert m["vdb_ro"] == "1" and m["ro_write"] == "refused"
    assert int(m["discard"]) > 0
    assert m["rng"].startswith("virtio_rng")
    assert m["rng_bytes"] == "32"
    data = vda.read_bytes()
    assert data[512:532] == b"written-by-the-guest"
    assert vdb.read_bytes()[:14] == b"read-only-disk"
    assert "insmod" not in r.stdout  # every module loaded


def test_eight_cpus_memory_above_pci_hole(hull, kernel, make_initramfs):
    init = INIT_PROLOGUE + r"""
echo "HULL-TEST: cpus=$(grep -c ^processor /proc/cpuinfo)"
echo "HULL-TEST: memtotal_kb=$(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)"
poweroff -f
"""
    initrd = make_initramfs(init, modules=())
    # Eight nested vCPUs on the sandbox's two TCG ones: the guest has been seen to reset during
    # early boot (exit 3, before its init prints; docs/sandbox.md). Such a reset is retried
    # twice, and reported as a warning with where the vCPU was (--stats' hull-vm-stop line) and the
    # console's last lines; any other outcome counts at once.
    for attempt in range(3):
        r, m = boot(hull, kernel[0], initrd, "--cpus", "8", "--memory", "3584M", "--stats")
        if not (r.returncode == 3 and "HULL-TEST" not in r.stdout):
            break
        detail = [x for x in r.stderr.splitlines() if x.startswith("hull-vm-stop: ")]
        warnings.warn(f"8-vCPU boot, attempt {attempt + 1}: early reset: "
                      f"{detail[-1][len('hull-vm-stop: '):] if detail else r.stderr[-300:]}"
                      f"; console: {r.stdout[-600:]!r}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert m["cpus"] == "8"
    # 3.5 GiB: 3 GiB below the hole, 512 MiB from 4 GiB (MemTotal lacks the kernel's own)
    assert int(m["memtotal_kb"]) > 3 * 1024 * 1024


def test_reboot_exit_status(hull, kernel, make_initramfs):
    initrd = make_initramfs(INIT_PROLOGUE + "echo HULL-TEST: up=1\nreboot -f\n", modules=())
    r, m = boot(hull, kernel[0], initrd, "--memory", "256M")
    assert m.get("up") == "1", r.stdout[-2000:]
    assert r.returncode == 3, r.stderr


def test_panic_exit_status(hull, kernel, make_initramfs):
    # init exits: "Attempted to kill init", a panic; hull adds panic=-1 so the guest resets.
    initrd = make_initramfs(INIT_PROLOGUE + "echo HULL-TEST: up=1\nexit 7\n", modules=())
    r, m = boot(hull, kernel[0], initrd, "--memory", "256M")
    assert m.get("up") == "1", r.stdout[-2000:]
    assert "Kernel panic" in r.stdout
    assert r.returncode == 4, r.stderr


def test_pvh_vmlinux(hull, vmlinux, make_initramfs):
    initrd = make_initramfs(INIT_PROLOGUE + "echo HULL-TEST: pvh=up\npoweroff -f\n", modules=())
    r, m = boot(hull, vmlinux, initrd, "--memory", "256M", "--cpus", "2")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert m.get("pvh") == "up"
