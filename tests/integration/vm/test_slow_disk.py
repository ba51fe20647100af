"""A stuck disk never stops the console or the API (issue 14): virtio-blk is served on its own
I/O thread, not on the event loop that carries the serial console and the control socket.

The guest's disk is a device-mapper device over a loop device. Once the guest is up, the test
suspends the dm device (`dmsetup suspend`: every I/O to it waits until `resume`), lets the
guest start an O_DIRECT read of a block nobody has read yet, and waits until a thread of
hull is stuck in the disk (state D). Then, while the read hangs, the API must answer and a
line typed on the console must come back from the guest's shell. After `resume` the read
completes. With the disk on the event loop (before the I/O thread), the stuck thread was
the event loop itself: the API did not answer and the console went silent until resume."""
import os
import shutil
import subprocess
import time
import uuid

import pytest

from vmhelpers import INIT_PROLOGUE, Lines, vm_api

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BOOT_TIMEOUT = 600
WAIT = 120  # bound on waits for what must happen; a hang fails the test instead of blocking

INIT = INIT_PROLOGUE + r"""
echo "HULL-TEST: ready"
read -r go
( dd if=/dev/vda of=/dev/null bs=4096 count=1 skip=8192 iflag=direct 2>/dev/null \
  && echo "HULL-TEST: read-done" ) &
echo "HULL-TEST: reading"
while read -r line; do
  [ "$line" = quit ] && break
  echo "HULL-TEST: echo=$line"
done
wait
poweroff -f
"""


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture
def slow_disk(tmp_path):
    """A 64 MiB dm-linear device over a loop device: (device path, dm name)."""
    if not shutil.which("dmsetup") or not shutil.which("losetup"):
        pytest.skip("dmsetup or losetup missing (apt-get install dmsetup mount)")
    if subprocess.run(["modprobe", "dm_mod"], capture_output=True).returncode != 0 \
            and not os.path.exists("/dev/mapper/control"):
        pytest.skip("no device-mapper in this kernel")
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    loop = sh("losetup", "--find", "--show", str(img)).stdout.strip()
    name = f"hull-test-slow-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DM_DISABLE_UDEV="1")  # no udev in the sandbox
    try:
        sh("dmsetup", "create", name, "--table", f"0 {(64 << 20) // 512} linear {loop} 0",
           env=env)
        blk = sh("dmsetup", "info", "-c", "--noheadings", "-o", "blkdevname", name,
                 env=env).stdout.strip()
        yield f"/dev/{blk}", name, env
    finally:
        subprocess.run(["dmsetup", "resume", name], env=env, capture_output=True)
        subprocess.run(["dmsetup", "remove", name], env=env, capture_output=True)
        subprocess.run(["losetup", "-d", loop], capture_output=True)
    # cleaned up: neither the dm device nor the loop device is left
    assert name not in sh("dmsetup", "ls", env=env).stdout
    assert str(img) not in sh("losetup", "-a").stdout


def api(path):
    return vm_api(path, timeout=WAIT)


def stuck_threads(pid):
    """Thread ids of pid in uninterruptible sleep (D): waiting on the suspended disk."""
    tids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "D":
            tids.append(int(tid))
    return tids


def test_stuck_disk_does_not_stop_console_or_api(hull, kernel, make_initramfs, slow_disk,
                                                  tmp_path):
    dev, name, env = slow_disk
    initrd = make_initramfs(INIT, modules=())
    sock = str(tmp_path / "api.sock")
    p = subprocess.Popen([hull, "vm", "run", "--kernel", kernel[0], "--initrd", initrd,
                          "--memory", "256M", "--disk", dev, "--api-sock", sock,
                          "--cmdline", "console=ttyS0 quiet"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines = Lines(p.stdout)
    suspended = False
    try:
        assert lines.until("HULL-TEST: ready", BOOT_TIMEOUT), lines.text()
        sh("dmsetup", "suspend", name, env=env)
        suspended = True
        p.stdin.write("go\n")
        p.stdin.flush()
        assert lines.until("HULL-TEST: reading", WAIT), lines.text()
        deadline = time.monotonic() + WAIT
        while not stuck_threads(p.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stuck = stuck_threads(p.pid)
        assert stuck, "no hull thread waits on the suspended disk"
        # The disk is stuck; the event loop is not.
        assert p.pid not in stuck, "the event loop thread itself waits on the disk"
        assert api(sock)["state"] == "running"
        p.stdin.write("ping\n")
        p.stdin.flush()
        assert lines.until("HULL-TEST: echo=ping", WAIT), lines.text()
        assert "read-done" not in lines.text()  # still stuck: the disk, not the guest
        sh("dmsetup", "resume", name, env=env)
        suspended = False
        assert lines.until("HULL-TEST: read-done", WAIT), lines.text()
        p.stdin.write("quit\n")
        p.stdin.flush()
        p.wait(timeout=BOOT_TIMEOUT)
        err = p.stderr.read()
    finally:
        if suspended:
            subprocess.run(["dmsetup", "resume", name], env=env, capture_output=True)
        if p.poll() is None:
            p.kill()
            p.wait()
    lines.t.join(timeout=WAIT)
    assert p.returncode == 0, lines.text() + err
    assert not os.path.exists(sock)
