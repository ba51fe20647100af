"""Resizing a running VM (issue 16 item 3): virtio-balloon (`--balloon`, the API's balloon and
balloon-stats operations, `hull vm update`) and a raw disk grown on the host announced with a
config interrupt (disk-rescan). The guest tests run in the sandbox (nested KVM); the flag and
API errors on the host."""
import json
import os
import queue
import subprocess
import threading
import time

import pytest

from vmhelpers import INIT_PROLOGUE, vm_api, vm_http

WAIT = 600  # seconds a guest may take (TCG sandbox, nested KVM): a bound, not a measurement

# The guest prints its memory and its disks' sizes every second, with the disks held open.
RESIZE_INIT = INIT_PROLOGUE + r"""
exec 4</dev/vda 5</dev/vdb
echo "HULL-TEST: ready"
while true; do
  echo "HULL-MEM: $(awk '/^MemTotal:/ {t=$2} /^MemFree:/ {f=$2} END {print t, f}' /proc/meminfo) DISK: $(cat /sys/block/vda/size) $(cat /sys/block/vdb/size)"
  sleep 1
done
"""


def hull_vm_update(hull, *args):
    return subprocess.run([hull, "vm", "update", *args], capture_output=True, text=True,
                          timeout=60)


class Guest:
    """A running `hull vm run` whose stdout lines a thread collects."""

    def __init__(self, argv, errfile):
        self.errfile = errfile
        with open(errfile, "w") as err:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=err, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pred):
        """The first line from now on for which pred(line) holds (fails at EOF or WAIT)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if pred(line):
                return line
        pytest.fail("guest output ended or timed out:\n" + self.report())

    def report(self):
        """The guest's last lines, the VMM's stderr and its exit status, for a failure."""
        with open(self.errfile) as f:
            err = f.read()
        return ("\n".join(self.seen[-40:]) + f"\nhull's stderr:\n{err[-3000:]}\n"
                f"exit status: {self.p.poll()}")

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def mem_line(line):
    """(MemTotal kB, MemFree kB, vda sectors, vdb sectors) from a HULL-MEM line, else None."""
    if not line.startswith("HULL-MEM: "):
        return None
    w = line.split()
    return int(w[1]), int(w[2]), int(w[4]), int(w[5])


@pytest.mark.sandbox
@pytest.mark.slow
def test_balloon_and_disk_grow(hull, kernel, vmlinux, make_initramfs, tmp_path):
    disk = tmp_path / "grow.raw"
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    qcow = tmp_path / "grow.qcow2"
    subprocess.run([hull, "img", "create", "-f", "qcow2", str(qcow), "4M"], check=True,
                   capture_output=True)
    sock = str(tmp_path / "api.sock")
    initrd = make_initramfs(RESIZE_INIT,
                            modules=("virtio_pci", "virtio_blk", "virtio_balloon"))
    g = Guest([hull, "vm", "run", "--kernel", vmlinux, "--initrd", initrd, "--memory", "256M",
               "--disk", str(disk), "--disk", f"{qcow},format=qcow2", "--balloon", "amount_mib=0,stats=1", "--api-sock", sock,
               "--cmdline", "console=ttyS0 quiet"], tmp_path / "hull.err")
    try:
        resize_steps(hull, g, sock, disk, qcow)
    except (OSError, ValueError) as e:  # the API socket: say what the VM said
        time.sleep(2)
        pytest.fail(f"{e!r}\n{g.report()}")
    finally:
        g.stop()
    assert not os.path.exists(sock)
    # the image the VM grew is consistent, with its new size in its header
    r = subprocess.run([hull, "img", "check", str(qcow)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([hull, "img", "info", "--output", "json", str(qcow)],
                       capture_output=True, text=True, check=True)
    assert json.loads(r.stdout)["virtual-size"] == 32 << 20


def resize_steps(hull, g, sock, disk, qcow):
    """Inflate, deflate, bad requests, a disk grown while open; then power off."""
    g.wait_for(lambda l: l == "HULL-TEST: ready")
    total0, free0, sectors0, qsectors0 = mem_line(g.wait_for(mem_line))
    assert sectors0 == (8 << 20) // 512 and qsectors0 == (4 << 20) // 512

    # Inflate by 96 MiB: MemTotal drops (no deflate_on_oom: the pages leave the guest).
    r = hull_vm_update(hull, "--api-sock", sock, "--balloon", "96")
    assert r.returncode == 0, r.stderr
    assert '"target_mib":96' in r.stdout
    line = g.wait_for(lambda l: mem_line(l) and mem_line(l)[0] <= total0 - 90 * 1024)
    assert mem_line(line)[1] < free0
    # the guest says what it gave: actual follows the target
    deadline = time.monotonic() + WAIT
    st = vm_api(sock, {"op": "balloon-stats"})
    while st.get("actual_mib") != 96 and time.monotonic() < deadline:
        time.sleep(1)
        st = vm_api(sock, {"op": "balloon-stats"})
    assert st["ok"] and st["actual_mib"] == 96 and st["target_mib"] == 96, st
    # statistics every second: the guest's total memory among them
    while "total_memory" not in st and time.monotonic() < deadline:
        time.sleep(1)
        st = vm_api(sock, {"op": "balloon-stats"})
    assert st["total_memory"] > 0 and st["bad_pfns"] == 0, st

    # Deflate: MemTotal comes back.
    assert vm_api(sock, {"op": "balloon", "amount_mib": 0})["ok"]
    g.wait_for(lambda l: mem_line(l) and mem_line(l)[0] >= total0 - 1024)

    # Bad requests: clear errors, the VM keeps running.
    big = vm_api(sock, {"op": "balloon", "amount_mib": 4096})
    assert not big["ok"] and "more than the VM's memory" in big["error"], big
    nodisk = vm_api(sock, {"op": "disk-rescan", "drive": 3})
    assert not nodisk["ok"] and "drive 3: no such disk" in nodisk["error"], nodisk

    # The disk grows on the host while the guest holds it open: it sees the new size.
    os.truncate(disk, 24 << 20)
    r = hull_vm_update(hull, "--api-sock", sock, "--disk-rescan", "0")
    assert r.returncode == 0, r.stderr
    assert f'"size":{24 << 20}' in r.stdout
    g.wait_for(lambda l: mem_line(l) and mem_line(l)[2] == (24 << 20) // 512)

    # QCOW2: `hull img resize` is refused (the VM holds the image's write lock); the VM grows
    # it itself.
    r = subprocess.run([hull, "img", "resize", "-f", "qcow2", str(qcow), "32M"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "lock" in r.stderr, r.stderr
    r = hull_vm_update(hull, "--api-sock", sock, "--disk-resize", "1:32M")
    assert r.returncode == 0, r.stderr
    assert f'"size":{32 << 20}' in r.stdout
    g.wait_for(lambda l: mem_line(l) and mem_line(l)[3] == (32 << 20) // 512)
    shrink = vm_api(sock, {"op": "disk-resize", "drive": 1, "size": 1 << 20})
    assert not shrink["ok"] and "only grows" in shrink["error"], shrink
    assert vm_api(sock)["state"] == "running"
    assert vm_api(sock, {"op": "power-off"})["ok"]
    g.p.wait(timeout=WAIT)


# virtio-mem: the guest prints MemTotal every second; once 250 MiB more are there it fills and
# empties a tmpfs (the pages land in the hotplugged ZONE_MOVABLE blocks, which the host then
# backs) and says so.
HOTPLUG_INIT = INIT_PROLOGUE + r"""
mount -t tmpfs -o size=400M tmpfs /mnt
base=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
filled=0
echo "HULL-TEST: ready"
while true; do
  t=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  if [ $filled = 0 ] && [ $t -ge $((base + 250 * 1024)) ]; then
    dd if=/dev/zero of=/mnt/fill bs=1M count=200 2>/dev/null
    rm /mnt/fill
    filled=1
    echo "HULL-FILLED"
  fi
  echo "HULL-MEMTOTAL: $t"
  sleep 1
done
"""


def memtotal(line):
    return int(line.split()[1]) if line.startswith("HULL-MEMTOTAL: ") else None


def vmm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hotplug_status(sock):
    st, body, _ = vm_http(sock, "GET", "/hotplug/memory")
    assert st == 200, (st, body)
    return body


@pytest.mark.sandbox
@pytest.mark.slow
def test_memory_hotplug(hull, kernel, vmlinux, make_initramfs, tmp_path):
    """256M of RAM and a 512M virtio-mem region: plug 256M (MemTotal grows), unplug it all
    (MemTotal shrinks back, the VMM's RSS falls), bad requests refused with the VM running."""
    sock = str(tmp_path / "api.sock")
    initrd = make_initramfs(HOTPLUG_INIT, modules=("virtio_pci", "virtio_mem"))
    g = Guest([hull, "vm", "run", "--kernel", vmlinux, "--initrd", initrd, "--memory", "256M",
               "--memory-hotplug", "512M", "--api-sock", sock,
               "--cmdline", "console=ttyS0 quiet memhp_default_state=online_movable"],
              tmp_path / "hull.err")
    try:
        hotplug_steps(hull, g, sock)
    except (OSError, ValueError) as e:  # the API socket: say what the VM said
        time.sleep(2)
        pytest.fail(f"{e!r}\n{g.report()}")
    finally:
        g.stop()
    assert not os.path.exists(sock)


def wait_until(what, pred, g):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(1)
    pytest.fail(f"{what}: not reached\n{g.report()}")


def hotplug_steps(hull, g, sock):
    g.wait_for(lambda l: l == "HULL-TEST: ready")
    total0 = memtotal(g.wait_for(memtotal))
    st = hotplug_status(sock)
    assert st["total_size_mib"] == 512 and st["block_size_mib"] == 2, st
    assert st["plugged_size_mib"] == 0 and st["requested_size_mib"] == 0, st
    assert st["address"] >= 1 << 32 and st["address"] % (1 << 30) == 0, st

    # Plug 256M: the guest plugs the blocks, onlines them (memhp_default_state) and uses them.
    code, body, _ = vm_http(sock, "PATCH", "/hotplug/memory", {"requested_size_mib": 256})
    assert code == 200 and body["requested_size_mib"] == 256, (code, body)
    g.wait_for(lambda l: l == "HULL-FILLED")  # printed once MemTotal grew by 250 MiB
    assert memtotal(g.wait_for(memtotal)) >= total0 + 250 * 1024
    wait_until("256 MiB plugged", lambda: hotplug_status(sock)["plugged_size_mib"] == 256, g)
    rss_used = vmm_rss_kib(g.p.pid)

    # Bad requests: one clear error each, nothing changes, the VM keeps running.
    code, body, _ = vm_http(sock, "PATCH", "/hotplug/memory", {"requested_size_mib": 1024})
    assert code == 400 and body["fault_message"] == \
        "requested_size_mib 1024: more than the hotplug region (512 MiB)", (code, body)
    code, body, _ = vm_http(sock, "PATCH", "/hotplug/memory", {"requested_size_mib": 3})
    assert code == 400 and body["fault_message"] == \
        "requested_size_mib 3: not a multiple of the block size (2 MiB)", (code, body)
    r = hull_vm_update(hull, "--api-sock", sock, "--memory-hotplug", "513M")
    assert r.returncode == 125 and r.stderr == ("hull vm update: requested_size_mib 513: more "
                                                "than the hotplug region (512 MiB)\n"), r.stderr
    r = vm_api(sock, {"op": "memory-hotplug", "requested_size_mib": -1})
    assert not r["ok"] and "requested_size_mib" in r["error"], r
    assert hotplug_status(sock)["requested_size_mib"] == 256
    assert vm_api(sock)["state"] == "running"

    # Unplug it all with `hull vm update`: MemTotal back, the host gets the memory back.
    r = hull_vm_update(hull, "--api-sock", sock, "--memory-hotplug", "0")
    assert r.returncode == 0 and '"requested_size_mib":0' in r.stdout, r.stderr
    g.wait_for(lambda l: memtotal(l) is not None and memtotal(l) <= total0 + 1024)
    wait_until("all unplugged", lambda: hotplug_status(sock)["plugged_size_mib"] == 0, g)
    rss_after = vmm_rss_kib(g.p.pid)
    assert rss_after <= rss_used - 128 * 1024, (rss_used, rss_after)
    r = hull_vm_update(hull, "--api-sock", sock, "--memory-hotplug-status")
    assert r.returncode == 0 and '"plugged_size_mib":0' in r.stdout, r.stderr
    st = vm_api(sock, {"op": "memory-hotplug"})
    assert st["ok"] and st["plugged_size_mib"] == 0 and st["requested_size_mib"] == 0, st
    assert vm_api(sock, {"op": "power-off"})["ok"]
    g.p.wait(timeout=WAIT)


def test_balloon_flag_errors(hull, tmp_path):
    """Bad --balloon values: one line naming the flag, exit 125, before KVM is needed."""
    kernel = tmp_path / "k"
    kernel.write_bytes(b"\0" * 4096)
    for value, msg in (("bogus", "--balloon: 'bogus': expected NAME=VALUE or on"),
                       ("amount_mib=x", "--balloon: amount_mib=x: expected a number of MiB"),
                       ("stats=-1", "--balloon: stats=-1: expected a number of seconds"),
                       ("deflate_on_oom=maybe", "deflate_on_oom=maybe: expected on or off"),
                       ("size=3", "--balloon: unknown option 'size'"),
                       ("amount_mib=200", "--balloon amount_mib=200: more than --memory (128 MiB)"),
                       ("stats=4000", "--balloon stats=4000: at most 3600 seconds")):
        r = subprocess.run([hull, "vm", "run", "--kernel", str(kernel), "--memory", "128M",
                            "--balloon", value], capture_output=True, text=True, timeout=60)
        assert r.returncode == 125, (value, r.stderr)
        assert msg in r.stderr and len(r.stderr.splitlines()) == 1, (value, r.stderr)


def test_memory_hotplug_flag_errors(hull, tmp_path):
    """Bad --memory-hotplug values: one line naming the flag, exit 125, before KVM is needed."""
    kernel = tmp_path / "k"
    kernel.write_bytes(b"\0" * 4096)
    for value, extra, msg in (
            ("bogus", (), "--memory-hotplug: 'bogus': expected SIZE[,block=SIZE]"),
            ("0", (), "--memory-hotplug: '0': expected SIZE[,block=SIZE]"),
            ("1G,blk=2M", (), "--memory-hotplug: unknown option 'blk=2M' (block=SIZE)"),
            ("1G,block=x", (), "--memory-hotplug: block=x: not a size"),
            ("1G,block=3M", (), "--memory-hotplug block=3072 KiB: a power of two from 2M to 1G"),
            ("1G,block=1M", (), "--memory-hotplug block=1024 KiB: a power of two from 2M to 1G"),
            ("1G,block=2G", (), "a power of two from 2M to 1G"),
            ("101M", (), "--memory-hotplug 101 MiB: a multiple of the block size (2 MiB)"),
            ("2T", (), "--memory-hotplug 2097152 MiB: a multiple of the block size (2 MiB), at most 1024 GiB"),
            ("128M", ("--raw",), "--memory-hotplug needs a Linux kernel")):
        r = subprocess.run([hull, "vm", "run", "--kernel", str(kernel), "--memory", "128M",
                            *extra, "--memory-hotplug", value], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 125, (value, r.stderr)
        assert msg in r.stderr and len(r.stderr.splitlines()) == 1, (value, r.stderr)


def test_update_errors(hull, tmp_path):
    r = hull_vm_update(hull, "--balloon", "3")
    assert r.returncode == 125 and "--api-sock PATH is required" in r.stderr
    r = hull_vm_update(hull, "--api-sock", str(tmp_path / "none.sock"))
    assert r.returncode == 125 and "nothing to change" in r.stderr
    r = hull_vm_update(hull, "--api-sock", str(tmp_path / "none.sock"), "--balloon", "3")
    assert r.returncode == 125 and "none.sock" in r.stderr
    r = hull_vm_update(hull, "--api-sock", str(tmp_path / "none.sock"), "--disk-rescan", "-1")
    assert r.returncode == 125 and "--disk-rescan -1: not a number" in r.stderr
    for bad in ("lots", "1.5M", "-1", "4097K"):
        r = hull_vm_update(hull, "--api-sock", str(tmp_path / "none.sock"), "--memory-hotplug",
                           bad)
        assert r.returncode == 125, (bad, r.stderr)
        assert (f"--memory-hotplug {bad}: not a size in whole MiB" in r.stderr
                and len(r.stderr.splitlines()) == 1), (bad, r.stderr)


@pytest.mark.kvm
def test_resize_ops_on_a_vm_without_balloon_or_disk(hull, tiny_guest, tmp_path):
    """The tiny guest has neither: each op answers a clear error and the VM keeps running."""
    sock = str(tmp_path / "api.sock")
    p = subprocess.Popen([hull, "vm", "run", "--raw", "--allow-pvm", "--memory", "2M",
                          "--api-sock", sock, "--kernel", tiny_guest["spin"]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT
        while not os.path.exists(sock) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.1)
        r = vm_api(sock, {"op": "balloon", "amount_mib": 1})
        assert r == {"ok": False,
                     "error": "this VM has no balloon (start it with --balloon)"}, r
        assert not vm_api(sock, {"op": "balloon-stats"})["ok"]
        r = vm_api(sock, {"op": "disk-rescan", "drive": 0})
        assert r == {"ok": False, "error": "drive 0: no such disk (this VM has 0)"}, r
        r = vm_api(sock, {"op": "disk-rescan", "drive": 99})
        assert not r["ok"] and "drive" in r["error"], r
        r = vm_api(sock, {"op": "balloon", "amount_mib": "lots"})
        assert not r["ok"] and "amount_mib" in r["error"], r
        u = hull_vm_update(hull, "--api-sock", sock, "--balloon", "1")
        assert u.returncode == 125 and "no balloon" in u.stderr, u.stderr
        no_vmem = "this VM has no virtio-mem device (start it with --memory-hotplug SIZE)"
        assert vm_api(sock, {"op": "memory-hotplug"}) == {"ok": False, "error": no_vmem}
        r = vm_api(sock, {"op": "memory-hotplug", "requested_size_mib": 128})
        assert r == {"ok": False, "error": no_vmem}, r
        for what in ("--memory-hotplug", "128M"), ("--memory-hotplug-status",):
            u = hull_vm_update(hull, "--api-sock", sock, *what)
            assert u.returncode == 125 and u.stderr == f"hull vm update: {no_vmem}\n", u.stderr
        for method, body in ("GET", None), ("PATCH", {"requested_size_mib": 128}):
            code, reply, _ = vm_http(sock, method, "/hotplug/memory", body)
            assert (code, reply) == (400, {"fault_message": no_vmem}), (method, code, reply)
        # A tool polling the balloon: many connections, one after the other, all served
        # (the event loop once kept a slot per closed connection and refused the 57th).
        for i in range(200):
            assert not vm_api(sock, {"op": "balloon-stats"})["ok"], i
        assert vm_api(sock)["state"] == "running"
        assert vm_api(sock, {"op": "power-off"})["ok"]
        p.wait(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
