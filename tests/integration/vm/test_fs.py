"""`hull vm run --fs tag=TAG,socket=PATH`: a virtio-fs device served by Debian's virtiofsd
through hull-vmm's vhost-user frontend (docs/vmm.md "virtio-fs").

In the sandbox (nested KVM): one boot of Debian's kernel with an initramfs whose /init mounts
two shares: it reads a file of seeded random bytes the host wrote, writes its checksum and a
file of its own that the host then reads; the second share, mounted read-only, refuses a
write. While the guest waits, a snapshot through the API is refused with one line naming
--fs. The guest then unmounts, unloads and reloads the driver (a device reset: hull takes
each ring back from virtiofsd with GET_VRING_BASE and starts it again) and reads the file
again through the new rings. Nothing is left: hull's API socket is gone, virtiofsd exited.

On any host: a missing socket, a bad --fs value and --fs with --memory-hotplug are one line
naming --fs, exit 125."""
import hashlib
import json
import os
import random
import subprocess

import pytest

from vmhelpers import INIT_PROLOGUE, Lines, vm_http

VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
BOOT_TIMEOUT = 600
WAIT = 120

INIT = INIT_PROLOGUE + r"""
mkdir -p /mnt/rw /mnt/ro
mount -t virtiofs share /mnt/rw || echo "HULL-FS: mount share failed"
mount -t virtiofs -o ro other /mnt/ro || echo "HULL-FS: mount other failed"
echo "HULL-FS: in $(md5sum < /mnt/rw/in | cut -d' ' -f1)"
echo "written by the guest" > /mnt/rw/out && echo "HULL-FS: wrote out"
if echo x > /mnt/ro/nope 2>/dev/null; then echo "HULL-FS: ro write passed"; else
  echo "HULL-FS: ro write refused"; fi
echo "HULL-FS: ro reads $(cat /mnt/ro/hello)"
echo "HULL-FS: waiting"
i=0
until [ -e /mnt/rw/go ]; do i=$((i + 1)); [ $i -lt 6000 ] || break; sleep 0.1; done
umount /mnt/rw /mnt/ro
rmmod virtiofs && echo "HULL-FS: unloaded"
insmod "$(grep '/virtiofs.ko' /etc/hull-modules)" && echo "HULL-FS: reloaded"
mount -t virtiofs share /mnt/rw || echo "HULL-FS: mount again failed"
echo "HULL-FS: again $(md5sum < /mnt/rw/in | cut -d' ' -f1)"
umount /mnt/rw
poweroff -f
"""


def virtiofsd(share, sock):
    p = subprocess.Popen([VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={share}",
                          "-o", "cache=none", "-o", "log_level=err"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for _ in range(2000):  # bounded: its socket appears once it listens
        if os.path.exists(sock) or p.poll() is not None:
            break
        subprocess.run(["sleep", "0.01"])
    assert os.path.exists(sock), p.stderr.read() if p.poll() is not None else "no socket"
    return p


@pytest.fixture
def fs_initrd(hull, kernel, tmp_path):
    init = tmp_path / "init"
    init.write_text(INIT)
    out = tmp_path / "initrd.cpio"
    subprocess.run([hull, "vm", "initramfs", "--output", str(out), "--init", str(init),
                    "--module-dir", kernel[1], "--module", "virtiofs"], check=True,
                   timeout=120)
    return str(out)


@pytest.mark.sandbox
@pytest.mark.slow
def test_fs_share_read_write_ro_reset(hull, kernel, fs_initrd, tmp_path):
    if not os.access(VIRTIOFSD, os.X_OK):
        pytest.skip("virtiofsd not installed (qemu-system-common)")
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    data = random.Random(18).randbytes(3 << 20)
    (rw / "in").write_bytes(data)
    (ro / "hello").write_text("hello\n")
    want = hashlib.md5(data).hexdigest()
    socks = [str(tmp_path / "rw.sock"), str(tmp_path / "ro.sock")]
    api = str(tmp_path / "api.sock")
    daemons = [virtiofsd(rw, socks[0]), virtiofsd(ro, socks[1])]
    p = None
    try:
        p = subprocess.Popen([hull, "vm", "run", "--kernel", kernel[0], "--initrd", fs_initrd,
                              "--memory", "256M", "--api-sock", api,
                              "--fs", f"tag=share,socket={socks[0]}",
                              "--fs", f"tag=other,socket={socks[1]},queue-size=64",
                              "--cmdline", "console=ttyS0 quiet"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        lines = Lines(p.stdout)
        assert lines.until("HULL-FS: waiting", BOOT_TIMEOUT), lines.text()
        out = lines.text()
        assert f"HULL-FS: in {want}" in out, out
        assert "HULL-FS: wrote out" in out and "HULL-FS: ro write refused" in out, out
        assert "HULL-FS: ro reads hello" in out, out
        assert (rw / "out").read_text() == "written by the guest\n"
        assert not (ro / "nope").exists()
        # a snapshot would lose virtiofsd's state: refused, the VM runs on
        code, body, _ = vm_http(api, "PUT", "/snapshot/create",
                                {"snapshot_path": str(tmp_path / "snap")}, timeout=WAIT)
        assert code >= 400 and "--fs" in json.dumps(body), (code, body)
        assert not (tmp_path / "snap" / "state").exists()
        (rw / "go").write_text("")
        assert lines.until("HULL-FS: reloaded", WAIT), lines.text()
        assert lines.until(f"HULL-FS: again {want}", WAIT), lines.text()
        p.wait(timeout=BOOT_TIMEOUT)
        assert p.returncode == 0, lines.text() + p.stderr.read()
        # the frontend went away: each daemon ends by itself
        for d in daemons:
            d.wait(timeout=WAIT)
    finally:
        for proc in [p, *daemons]:
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not os.path.exists(api)


def run_bad(hull, kernel, *args):
    r = subprocess.run([hull, "vm", "run", "--kernel", kernel[0], "--memory", "256M", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 125, r
    assert r.stdout == "" and r.stderr.count("\n") == 1, r
    assert "--fs" in r.stderr, r.stderr
    return r.stderr


@pytest.mark.parametrize("value, words", [
    ("tag=x", "socket=PATH are required"),
    ("socket=/x", "tag=TAG"),
    ("tag=x,socket=/x,queues=0", "queues=0"),
    ("tag=x,socket=/x,bogus=1", "unknown option 'bogus=1'"),
    ("tag=" + "t" * 37 + ",socket=/nonexistent.sock", "1 to 36 bytes"),
    ("tag=x,socket=/x,queue-size=100", "queue-size=100"),
    ("tag=x,socket=/nonexistent/hull-fs.sock", "No such file or directory"),
])
def test_fs_bad_values(hull, kernel, value, words):
    err = run_bad(hull, kernel, "--fs", value)
    assert words in err, err


def test_fs_refuses_memory_hotplug(hull, kernel):
    err = run_bad(hull, kernel, "--fs", "tag=x,socket=/x", "--memory-hotplug", "128M")
    assert "--memory-hotplug" in err, err


def test_fs_tag_twice(hull, kernel):
    err = run_bad(hull, kernel, "--fs", "tag=x,socket=/a", "--fs", "tag=x,socket=/b")
    assert "given twice" in err, err
