"""VMs on a hull network, end to end in the sandbox (issue 16 items 1 and 7, docs/vmm.md
"Networking"): Debian's kernel with virtio_net, its address from hull.net= applied by
`hull vm initramfs`'s /etc/hull-net. One guest fetches a file from a container's busybox
httpd by the container's name (aardvark-dns) and serves one that the host reaches through
`-p 127.0.0.1:P:80`; a second guest on the same network fetches that file by the first
guest's name. When the guests stop, nothing of their networks is left. The host-side
plumbing and the bad input are tests/integration/net/test_net_vm.py."""
import os
import pathlib
import subprocess
import sys
import time
import urllib.request

import pytest

from vmhelpers import INIT_PROLOGUE

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from engine_helpers import Hull, cleanup_store, make_rootfs  # noqa: E402

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BOOT_TIMEOUT = 600
PORT = 18580

# name -> address through aardvark-dns (busybox nslookup has its own resolver), then HTTP
GUEST = INIT_PROLOGUE + r"""
sh /etc/hull-net $(cat /proc/cmdline)
echo "HULL-TEST: hostname $(hostname) addr $(ip -o -4 addr show eth0 | awk '{print $4}')"
lookup() { nslookup "$1" 2>/dev/null | sed -n 's/^Address:[[:space:]]*\([0-9.]*\)$/\1/p' | tail -1; }
fetch() {
	for i in $(seq 1 60); do
		a=$(lookup "$1")
		# nc, not wget: Debian's static busybox wget dies of SIGSEGV
		r=$(printf 'GET /%s HTTP/1.0\r\n\r\n' "$2" | nc -w 5 "$a" 80 2>/dev/null)
		case "$r" in
		"HTTP/1."*" 200 "*) echo "HULL-TEST: got $1 $(echo "$r" | tail -1)"; return ;;
		esac
		sleep 1
	done
	echo "HULL-TEST: got $1 NOTHING"
}
mkdir -p /www
echo "from $(hostname)" > /www/g.html
httpd -p 80 -h /www
for f in $(cat /proc/cmdline); do
	case "$f" in hull.test.fetch=*) t=${f#hull.test.fetch=}; fetch "${t%%:*}" "${t#*:}" ;; esac
done
echo "HULL-TEST: ready"
while :; do sleep 1; done
"""


def read_until(p, marker, out):
    deadline = time.time() + BOOT_TIMEOUT
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out.append(line)
        if line.startswith(marker):
            return line
    raise AssertionError("".join(out)[-4000:] + p.stderr.read() if p.poll() is not None
                         else "".join(out)[-4000:])


def boot(hull, env, kernel, initrd, name, *args, fetch=None):
    cmdline = "console=ttyS0 quiet" + (f" hull.test.fetch={fetch}" if fetch else "")
    return subprocess.Popen([hull, "vm", "run", "--kernel", kernel, "--initrd", initrd,
                             "--memory", "256M", "--cmdline", cmdline, "--net",
                             "network=vnet", "--name", name, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_guests_and_container_on_one_network(hull, kernel, tmp_path):
    h = Hull(hull, tmp_path / "store")
    root = make_rootfs(tmp_path / "rootfs")
    (root / "www").mkdir()
    (root / "www/index.html").write_text("hello-from-container\n")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    init = tmp_path / "init"
    init.write_text(GUEST)
    initrd = tmp_path / "initrd.cpio"
    subprocess.run([hull, "vm", "initramfs", "--output", str(initrd), "--init", str(init),
                    "--module-dir", kernel[1], "--module", "virtio_net"], check=True)
    procs = []
    try:
        h.run("import", str(tar), "bb")
        h.run("network", "create", "vnet")
        h.run("run", "-d", "--name", "web", "--network", "vnet", "bb", "httpd", "-f", "-p",
              "80", "-h", "/www")
        g1 = boot(hull, h.env, kernel[0], str(initrd), "g1", "-p", f"127.0.0.1:{PORT}:80",
                  fetch="web:index.html")
        procs.append(g1)
        out1 = []
        read_until(g1, "HULL-TEST: ready", out1)
        text = "".join(out1)
        assert "HULL-TEST: hostname g1 addr 172.18." in text, text[-3000:]
        assert "HULL-TEST: got web hello-from-container" in text, text[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/g.html", timeout=30) as r:
            assert r.read().decode() == "from g1\n"
        g2 = boot(hull, h.env, kernel[0], str(initrd), "g2", fetch="g1:g.html")
        procs.append(g2)
        out2 = []
        read_until(g2, "HULL-TEST: ready", out2)
        assert "HULL-TEST: got g1 from g1" in "".join(out2), "".join(out2)[-3000:]
        assert len(os.listdir(h.root / "vms")) == 2
        # a plain shell as PID 1 leaves Ctrl-Alt-Del to the kernel: SIGTERM restarts (3)
        for p in procs:
            p.terminate()
            p.communicate(timeout=BOOT_TIMEOUT)
            assert p.returncode == 3, p.returncode
        assert os.listdir(h.root / "vms") == []
        assert os.listdir(h.root / "netns") == [x for x in os.listdir(h.root / "netns")
                                                 if (h.root / "containers" / x).exists()]
        h.run("rm", "-f", "web")
        h.run("network", "rm", "vnet")
        assert os.listdir(h.root / "netns") == []
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        cleanup_store(h)
