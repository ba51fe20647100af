"""`hull vm run --vsock CID|auto`: a virtio-vsock device on the kernel's vhost-vsock.

In the sandbox (nested KVM, /dev/vhost-vsock): two guests started with `--vsock auto` get
different CIDs (the API's status shows each); each runs a static echo server on a vsock port
(vsock_echo.c, built here with gcc -static), and a host program (Python's AF_VSOCK) sends
1 MiB of seeded random bytes to each and reads them back, checksummed (the second VM runs
with --no-irqfd: the worker's interrupts take the fallback eventfd through hull's event loop
instead of the vector's irqfd); an explicit CID that a
running guest holds is refused with one line naming --vsock, and that VM does not start. A
guest that unloads and reloads its driver between two sessions (a device reset: the vhost
worker stopped and started again on new rings) still exchanges the 1 MiB.

On any host: a CID out of range or not a number, and no /dev/vhost-vsock (a tmpfs over /dev
in a private mount namespace), are one line naming --vsock, exit 125, before KVM is needed."""
import hashlib
import os
import random
import shutil
import socket
import subprocess
import threading

import pytest

from vmhelpers import INIT_PROLOGUE, REPO, Lines, vm_api

BOOT_TIMEOUT = 600
WAIT = 120  # bound on waits for what must happen; a hang fails the test instead of blocking
PORT = 5201
PAYLOAD = 1 << 20

INIT = INIT_PROLOGUE + r"""
/vsock-echo 5201 1
poweroff -f
"""
# Two sessions, with the driver unloaded and loaded again between them: the device is reset
# (the vhost worker stopped, its indices taken back) and started again from ring index 0.
INIT_RELOAD = INIT_PROLOGUE + r"""
/vsock-echo 5201 1
ko=$(grep vmw_vsock_virtio_transport.ko /etc/hull-modules)
# the closed session's socket holds the module until the host's reset arrives (EAGAIN)
i=0
until rmmod vmw_vsock_virtio_transport; do
  i=$((i + 1)); [ $i -lt 60 ] || break; sleep 1
done
insmod "$ko" && echo "HULL-VSOCK: reloaded"
/vsock-echo 5201 1
poweroff -f
"""


@pytest.fixture
def make_vsock_initrd(hull, kernel, tmp_path):
    """An initramfs whose /init is the given script, with the echo server and the driver."""
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    echo = tmp_path / "vsock-echo"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(echo),
                    str(REPO / "tests/integration/vm/vsock_echo.c")], check=True, timeout=120)

    def make(script):
        init = tmp_path / "init"
        init.write_text(script)
        out = tmp_path / "initrd.cpio"
        subprocess.run([hull, "vm", "initramfs", "--output", str(out), "--init", str(init),
                        "--module-dir", kernel[1], "--module", "vmw_vsock_virtio_transport",
                        "--file", f"{echo}:/vsock-echo"], check=True, timeout=120)
        return str(out)
    return make


def start_vm(hull, kernel, initrd, sock, vsock, *extra):
    p = subprocess.Popen([hull, "vm", "run", "--kernel", kernel[0], "--initrd", initrd,
                          "--memory", "256M", "--vsock", vsock, "--api-sock", sock,
                          "--cmdline", "console=ttyS0 quiet", *extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p, Lines(p.stdout)


def exchange(cid, seed, lines):
    """Send PAYLOAD seeded bytes to the guest's echo server, read them back: their sha256s
    and the count; an error names the guest's console."""
    try:
        return exchange_bytes(cid, seed)
    except OSError as e:
        lines.until("\0", 5)  # what the guest printed meanwhile
        raise AssertionError(f"vsock {cid}:{PORT}: {e!r}\n{lines.text()}") from e


def exchange_bytes(cid, seed):
    data = random.Random(seed).randbytes(PAYLOAD)
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    got = hashlib.sha256()
    n = 0
    try:
        s.connect((cid, PORT))

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send, daemon=True)
        t.start()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got.update(chunk)
            n += len(chunk)
        t.join(timeout=WAIT)
    finally:
        s.close()
    return hashlib.sha256(data).hexdigest(), got.hexdigest(), n


@pytest.mark.sandbox
@pytest.mark.slow
def test_vsock_two_guests_auto_cids_echo(hull, kernel, make_vsock_initrd, tmp_path):
    vsock_initrd = make_vsock_initrd(INIT)
    vms = []
    try:
        for i in range(2):
            sock = str(tmp_path / f"api{i}.sock")
            # the second without irqfds: the vhost worker's calls go through hull's loop
            p, lines = start_vm(hull, kernel, vsock_initrd, sock, "auto",
                                *(["--no-irqfd"] if i else []))
            vms.append((p, lines, sock))
        for p, lines, _ in vms:
            assert lines.until("HULL-VSOCK: listening", BOOT_TIMEOUT), \
                lines.text() + (p.stderr.read() if p.poll() is not None else "")
        cids = [vm_api(sock, timeout=WAIT)["vsock_cid"] for _, _, sock in vms]
        assert all(isinstance(c, int) and 3 <= c <= 0xfffffffe for c in cids), cids
        assert cids[0] != cids[1], cids

        # A CID a running guest holds, given explicitly: refused, the VM does not start.
        r = subprocess.run([hull, "vm", "run", "--kernel", kernel[0], "--initrd", vsock_initrd,
                            "--memory", "256M", "--vsock", str(cids[0]),
                            "--cmdline", "console=ttyS0 quiet"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=WAIT)
        assert r.returncode == 125, r.stderr
        assert r.stdout == "", r.stdout  # no guest ran
        assert r.stderr.count("\n") == 1, r.stderr
        assert f"--vsock {cids[0]}" in r.stderr and "in use" in r.stderr, r.stderr

        for i, (p, lines, _) in enumerate(vms):
            want, got, n = exchange(cids[i], 1000 + i, lines)
            assert n == PAYLOAD and got == want, (n, lines.text())
            assert lines.until(f"HULL-VSOCK: echoed {PAYLOAD} bytes"), lines.text()
        for p, lines, _ in vms:
            p.wait(timeout=BOOT_TIMEOUT)
            assert p.returncode == 0, lines.text() + p.stderr.read()
    finally:
        for p, _, _ in vms:
            if p.poll() is None:
                p.kill()
                p.wait()
    for _, lines, sock in vms:
        lines.t.join(timeout=WAIT)
        assert not os.path.exists(sock)


@pytest.mark.sandbox
@pytest.mark.slow
def test_vsock_driver_reload(hull, kernel, make_vsock_initrd, tmp_path):
    """The guest unloads and reloads its driver between two sessions: hull stops the vhost
    worker on the reset and starts it again on the new rings."""
    sock = str(tmp_path / "api.sock")
    p, lines = start_vm(hull, kernel, make_vsock_initrd(INIT_RELOAD), sock, "auto")
    try:
        assert lines.until("HULL-VSOCK: listening", BOOT_TIMEOUT), lines.text()
        cid = vm_api(sock, timeout=WAIT)["vsock_cid"]
        for session in range(2):
            if session:
                assert lines.until("HULL-VSOCK: reloaded"), lines.text()
                assert lines.until("HULL-VSOCK: listening"), lines.text()
            want, got, n = exchange(cid, 3000 + session, lines)
            assert n == PAYLOAD and got == want, (n, lines.text())
            assert lines.until(f"HULL-VSOCK: echoed {PAYLOAD} bytes"), lines.text()
        p.wait(timeout=BOOT_TIMEOUT)
        assert p.returncode == 0, lines.text() + p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines.t.join(timeout=WAIT)
    assert not os.path.exists(sock)


def run_bad(hull, kernel, *args):
    r = subprocess.run([hull, "vm", "run", "--kernel", kernel[0], *args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 125, r
    assert r.stdout == "" and r.stderr.count("\n") == 1, r
    assert r.stderr.startswith("hull vm run: --vsock"), r.stderr
    return r.stderr


@pytest.mark.parametrize("value, words", [
    ("2", "3 to 4294967294"), ("0", "3 to 4294967294"), ("4294967295", "3 to 4294967294"),
    ("99999999999999999999", "expected a CID or auto"), ("-1", "expected a CID or auto"),
    ("3x", "expected a CID or auto"), ("", "expected a CID or auto"),
])
def test_vsock_bad_cid(hull, kernel, value, words):
    assert words in run_bad(hull, kernel, "--vsock", value)


def test_vsock_without_vhost_device(hull, kernel):
    # A tmpfs over /dev in a private mount namespace: no /dev/vhost-vsock (nor /dev/kvm),
    # and the --vsock error comes first.
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount -t tmpfs hull-test /dev && exec "$@"', "sh",
                        hull, "vm", "run", "--kernel", kernel[0], "--vsock", "auto"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT)
    assert r.returncode == 125, r
    assert r.stdout == "" and r.stderr.count("\n") == 1, r
    assert r.stderr.startswith("hull vm run: --vsock: /dev/vhost-vsock"), r.stderr
    assert "No such file or directory" in r.stderr, r.stderr
