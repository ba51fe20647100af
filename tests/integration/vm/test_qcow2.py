"""virtio-blk on QCOW2 (`--disk PATH,format=qcow2`): Debian's kernel in the sandbox boots with a
QCOW2 overlay over a raw base, reads the base through it and writes into it; qemu-img then
finds the overlay clean, the write in it and the base untouched. Also a read-only QCOW2 disk."""
import hashlib
import subprocess

import pytest

from test_boot import boot
from vmhelpers import INIT_PROLOGUE

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

MiB = 1024 * 1024

QCOW2_INIT = INIT_PROLOGUE + r"""
echo "HULL-TEST: vda_sectors=$(cat /sys/block/vda/size)"
echo "HULL-TEST: base=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 16)"
echo "HULL-TEST: base_far=$(dd if=/dev/vda bs=512 skip=6000 count=1 2>/dev/null | head -c 16)"
if echo "guest-wrote-this" | dd of=/dev/vda bs=512 seek=1 conv=sync,fsync 2>/dev/null &&
   echo "guest-far-write!" | dd of=/dev/vda bs=512 seek=7000 conv=sync,fsync 2>/dev/null
then echo "HULL-TEST: write=ok"; else echo "HULL-TEST: write=failed"; fi
echo "HULL-TEST: reread=$(dd if=/dev/vda bs=512 skip=1 count=1 iflag=direct 2>/dev/null | head -c 16)"
echo "HULL-TEST: vdb_ro=$(cat /sys/block/vdb/ro)"
echo "HULL-TEST: vdb=$(dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -c 16)"
if echo x | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null
then echo "HULL-TEST: ro_write=accepted"; else echo "HULL-TEST: ro_write=refused"; fi
echo "HULL-TEST: done=yes"
poweroff -f
"""


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_of(qcow2, out):
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(out)],
                   check=True)
    return out.read_bytes()


@pytest.mark.parametrize("irqfd", [True, False], ids=["irqfd", "signal-msi"])
def test_qcow2_overlay_over_raw_base(hull, kernel, make_initramfs, tmp_path, monkeypatch,
                                     irqfd):
    # --no-irqfd keeps the KVM_SIGNAL_MSI fallback (KVM without irqfd) tested.
    extra = [] if irqfd else ["--no-irqfd"]
    base = tmp_path / "base.raw"
    data = bytearray(8 * MiB)
    data[0:16] = b"base-disk-magic!"
    data[6000 * 512:6000 * 512 + 16] = b"base-far-content"
    base.write_bytes(bytes(data))
    base_sum = sha(base)
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run([hull, "img", "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw",
                    str(overlay)], check=True, cwd=tmp_path)
    # A read-only QCOW2 (no backing file) with its own content.
    ro_raw = tmp_path / "ro-src.raw"
    ro_raw.write_bytes(b"read-only-qcow2!" + b"\0" * (MiB - 16))
    ro = tmp_path / "ro.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(ro_raw), str(ro)],
                   check=True)
    ro_sum = sha(ro)

    initrd = make_initramfs(QCOW2_INIT)
    r, m = boot(hull, kernel[0], initrd, "--memory", "256M",
                "--disk", f"{overlay},format=qcow2", "--disk", f"{ro},ro,format=qcow2",
                "--stats", *extra)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert m.get("done") == "yes", r.stdout[-3000:]
    assert m["vda_sectors"] == str(8 * MiB // 512)
    assert m["base"] == "base-disk-magic!"  # read through the overlay from its backing file
    assert m["base_far"] == "base-far-content"
    assert m["write"] == "ok"
    assert m["reread"] == "guest-wrote-this"
    assert m["vdb_ro"] == "1" and m["ro_write"] == "refused"
    assert m["vdb"] == "read-only-qcow2!"

    # --stats: virtio interrupts went through irqfds, none through KVM_SIGNAL_MSI
    stats = [ln for ln in r.stderr.splitlines() if ln.startswith("hull-vm-stats:")]
    assert len(stats) == 1, r.stderr
    st = dict(w.split("=", 1) for w in stats[0].split()[1:])
    if irqfd:
        assert int(st["msi_irqfd"]) > 0 and int(st["msi_ioctl"]) == 0, st
    else:
        assert int(st["msi_irqfd"]) == 0 and int(st["msi_ioctl"]) > 0, st
    assert int(st["exits.io-serial"]) > 0 and float(st["first_output_ms"]) > 0, st

    assert sha(base) == base_sum  # the backing file is untouched
    assert sha(ro) == ro_sum
    chk = subprocess.run(["qemu-img", "check", "-f", "qcow2", str(overlay)],
                         capture_output=True, text=True)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert "No errors were found" in chk.stdout
    img = raw_of(overlay, tmp_path / "overlay-as.raw")
    assert img[0:16] == b"base-disk-magic!"
    assert img[512:528] == b"guest-wrote-this"
    assert img[7000 * 512:7000 * 512 + 16] == b"guest-far-write!"
    assert img[6000 * 512:6000 * 512 + 16] == b"base-far-content"
    # qemu-img compare: the overlay now differs from its base, first at sector 1
    cmp = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", str(base),
                          str(overlay)], capture_output=True, text=True)
    assert cmp.returncode == 1, cmp.stdout + cmp.stderr
    assert "offset 512" in cmp.stdout, cmp.stdout
