"""--console virtio: the guest's /dev/hvc0 on hull's virtio-console (virtio 1.x over PCI,
device id 3), in the sandbox. The guest's init writes to hvc0 and reads a line from it; the
test reads hull's stdout and types into its stdin. The UART still prints the kernel's
messages."""
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BOOT_TIMEOUT = 600

HVC_INIT = INIT_PROLOGUE + r"""
echo "HULL-TEST: hvc=$(cat /sys/class/tty/hvc0/dev 2>/dev/null)"
exec 3<>/dev/hvc0
echo "HULL-HVC: hello from hvc0" >&3
read -r line <&3
echo "HULL-TEST: got=$line"
echo "HULL-HVC: bye, $line" >&3
exec 3>&-
poweroff -f
"""


def test_virtio_console_output_and_input(hull, kernel, vmlinux, make_initramfs):
    initrd = make_initramfs(HVC_INIT, modules=("virtio_pci", "virtio_console"))
    p = subprocess.Popen([hull, "vm", "run", "--kernel", vmlinux, "--initrd", initrd,
                          "--memory", "256M", "--console", "virtio", "--stats",
                          "--cmdline", "console=ttyS0 quiet"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out = []
    try:
        deadline = time.time() + BOOT_TIMEOUT
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            out.append(line)
            if "HULL-HVC: hello from hvc0" in line:
                break
        assert out and "HULL-HVC: hello from hvc0" in out[-1], "".join(out)[-3000:]
        p.stdin.write("typed-by-the-test\n")
        p.stdin.flush()
        rest, err = p.communicate(timeout=BOOT_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = "".join(out) + rest
    assert p.returncode == 0, text[-3000:] + err
    assert "HULL-TEST: hvc=" in text and "HULL-TEST: hvc=\n" not in text  # hvc0 exists
    assert "insmod" not in text
    assert "HULL-TEST: got=typed-by-the-test" in text   # the guest read our input on hvc0
    assert "HULL-HVC: bye, typed-by-the-test" in text  # and wrote through it again
    # Transmit kicks are served on the vCPU's MMIO exit (the driver spins for the answer),
    # not through an ioeventfd: at least the two writes above were such exits.
    stats = dict(kv.split("=", 1) for kv in
                 err.split("hull-vm-stats: ", 1)[1].split("\n", 1)[0].split())
    assert int(stats["exits.mmio"]) >= 2, stats
