"""Graceful stop of Debian's stock kernel, in the sandbox: SIGTERM to `hull vm run` presses
Ctrl-Alt-Del on hull's i8042 (the kernel's i8042 and atkbd drivers bind to it through the
DSDT's PNP0303); what follows is the guest's choice, and the exit status says which."""
import subprocess
import time

import pytest

from vmhelpers import INIT_PROLOGUE

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BOOT_TIMEOUT = 600

# busybox init as PID 1 (it disables the kernel's C-A-D reboot and takes SIGINT instead):
# Ctrl-Alt-Del runs /bin/poweroff, which runs the shutdown actions, then powers off.
INITTAB = """::sysinit:/etc/rc
::ctrlaltdel:/bin/poweroff
::shutdown:/bin/echo HULL-TEST: shutdown-action
"""
RC = r"""#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "HULL-TEST: kbd=$(cat /sys/bus/serio/devices/serio0/description 2>/dev/null)"
echo "HULL-TEST: input=$(grep -l 'AT Translated Set 2 keyboard' /sys/class/input/*/name | wc -l)"
echo "HULL-TEST: ready"
"""
BUSYBOX_INIT = "#!/bin/sh\n/bin/busybox --install -s /bin\nexec /bin/busybox init\n"

# A shell as PID 1 that disables the kernel's C-A-D and ignores SIGINT: it never stops.
STUBBORN_INIT = INIT_PROLOGUE + r"""
echo 0 > /proc/sys/kernel/ctrl-alt-del
trap '' INT
echo "HULL-TEST: ready"
while :; do sleep 1; done
"""

# A shell as PID 1 that leaves C-A-D enabled: the kernel restarts at once.
PLAIN_INIT = INIT_PROLOGUE + r"""
echo "HULL-TEST: ready"
while :; do sleep 1; done
"""


def initramfs(hull, kernel, tmp_path, init, files=()):
    init_f = tmp_path / "init"
    init_f.write_text(init)
    out = tmp_path / "initrd.cpio"
    cmd = [hull, "vm", "initramfs", "--output", str(out), "--init", str(init_f),
           "--module-dir", kernel[1]]
    for host, guest in files:
        cmd += ["--file", f"{host}:{guest}"]
    subprocess.run(cmd, check=True)
    return str(out)


def boot_then_sigterm(hull, kernel_path, initrd, *args, grace=None):
    cmd = [hull, "vm", "run", "--kernel", kernel_path, "--initrd", initrd,
           "--cmdline", "console=ttyS0 quiet", "--memory", "256M", *args]
    if grace:
        cmd += ["--shutdown-timeout", str(grace)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    try:
        deadline = time.time() + BOOT_TIMEOUT
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            out.append(line)
            if line.startswith("HULL-TEST: ready"):
                break
        assert out and out[-1].startswith("HULL-TEST: ready"), "".join(out)[-3000:]
        t0 = time.time()
        p.terminate()  # SIGTERM
        rest, err = p.communicate(timeout=BOOT_TIMEOUT)
        took = time.time() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, "".join(out) + rest, err, took


def test_sigterm_busybox_init_powers_off(hull, kernel, vmlinux, tmp_path):
    (tmp_path / "inittab").write_text(INITTAB)
    (tmp_path / "rc").write_text(RC)
    (tmp_path / "rc").chmod(0o755)
    initrd = initramfs(hull, kernel, tmp_path, BUSYBOX_INIT,
                       [(tmp_path / "inittab", "/etc/inittab"), (tmp_path / "rc", "/etc/rc")])
    rc, out, err, took = boot_then_sigterm(hull, vmlinux, initrd, grace=300)
    assert rc == 0, out[-3000:] + err
    assert "HULL-TEST: kbd=i8042 KBD port" in out
    assert "HULL-TEST: input=1" in out
    assert "HULL-TEST: shutdown-action" in out  # init ran its shutdown, then powered off
    assert "did not shut down" not in err


def test_sigterm_plain_shell_init_reboots(hull, kernel, vmlinux, tmp_path):
    # Nobody disabled C-A-D: Linux restarts at once (exit status 3), well before the deadline.
    initrd = initramfs(hull, kernel, tmp_path, PLAIN_INIT)
    rc, out, err, took = boot_then_sigterm(hull, vmlinux, initrd, grace=300)
    assert rc == 3, out[-3000:] + err
    assert took < 120


def test_sigterm_stubborn_guest_is_stopped(hull, kernel, vmlinux, tmp_path):
    initrd = initramfs(hull, kernel, tmp_path, STUBBORN_INIT)
    rc, out, err, took = boot_then_sigterm(hull, vmlinux, initrd, grace=5)
    assert rc == 5, out[-3000:] + err
    assert "did not shut down in time" in err
    assert took >= 4.5
