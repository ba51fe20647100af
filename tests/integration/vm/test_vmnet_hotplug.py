"""A NIC hot-plugged on a hull network into a running guest (`hull vm update --add-net
network=NAME`, issue 16 item 1, docs/vmm.md "NIC hot-plug"), in the sandbox, with hull, its
network and the VMM in a network namespace the test makes. Debian's kernel boots with no NIC
(a plain `hull vm run --hotplug`, not on any network); --add-net network=vnet,ip=A gives it
one on the network a container's busybox httpd is on; the guest configures A (what hull
printed), and fetches the container's page by its name through aardvark-dns (the guest
reports whether the name or only the address worked; the name must). --del-net: the guest's NIC goes, and so do
the address, the veth, the tap, the attachment's namespace and its rules. A second NIC, then
the VMM SIGKILLed: `hull system prune` leaves the namespace as before the first plug. The
host-side plumbing and bad input: tests/integration/net/test_net_vm_hotplug.py."""
import json
import os
import pathlib
import secrets
import subprocess
import sys
import time

import pytest

from vmhelpers import INIT_PROLOGUE

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from engine_helpers import Hull, cleanup_store, make_rootfs  # noqa: E402

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BOOT_TIMEOUT = 600
API_TIMEOUT = 180  # a plug pauses the vCPUs under nested KVM on TCG: a bound on a hang
GW = "172.18.0.1"
ADDRS = ("172.18.0.77", "172.18.0.78")

GUEST = INIT_PROLOGUE + r"""
waitfor() { i=0; while [ $i -lt 600 ] && ! eval "$1"; do sleep 1; i=$((i + 1)); done; }
ip link set lo up
web=$(sed -n 's/.*hull.test.web=\([0-9.]*\).*/\1/p' /proc/cmdline)
lookup() { nslookup "$1" GW 2>/dev/null | sed -n 's/^Address:[[:space:]]*\([0-9.]*\)$/\1/p' | grep -v '^GW$' | tail -1; }
get() { printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 "$1" 80 2>/dev/null | tail -1; }
for round in 1 2; do
	echo "HULL-TEST: waiting-$round"
	waitfor '[ -e /sys/class/net/eth0 ]'
	addr=$(echo ADDRS | cut -d' ' -f$round)
	ip link set eth0 up
	ip addr add "$addr/16" dev eth0
	ip route add default via GW
	echo "HULL-TEST: eth0-$round mac=$(cat /sys/class/net/eth0/address)"
	by=none
	for i in $(seq 1 60); do
		a=$(lookup web)
		if [ -n "$a" ] && [ "$(get "$a")" = "hello-from-container" ]; then by="name=$a"; break; fi
		if [ "$(get "$web")" = "hello-from-container" ]; then by="ip=$web"; fi
		sleep 1
	done
	echo "HULL-TEST: got-$round $by"
	while [ -e /sys/class/net/eth0 ]; do sleep 1; done
	echo "HULL-TEST: gone-$round"
done
while :; do sleep 1; done
""".replace("GW", GW).replace("ADDRS", " ".join(ADDRS))


class NsHull(Hull):
    """hull against a private store, inside network namespace ns (nsenter --net only: the
    netns files' mounts stay visible)."""

    def __init__(self, binary, root, ns):
        super().__init__(binary, root)
        self.prefix = ["nsenter", f"--net=/run/netns/{ns}"]

    def run(self, *args, check=True, input=None, timeout=60, **kw):
        r = subprocess.run([*self.prefix, self.binary, *map(str, args)], capture_output=True,
                           text=True, env=self.env, input=input, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(map(str, args))} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def sh(self, cmd):
        return subprocess.run([*self.prefix, "sh", "-c", cmd], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    def state(self):
        """What must be as before: links, rules, namespace files, addresses, records."""
        def ls(d):
            return sorted(os.listdir(d)) if d.exists() else []
        nets = self.root / "networks"
        return {"links": sorted(x.split(":")[1].strip().split("@")[0]
                                for x in self.sh("ip -o link").splitlines()),
                "rules": sorted(x for x in self.sh("iptables-save").splitlines()
                                if x.startswith("-A")),
                "netns": ls(self.root / "netns"), "vms": ls(self.root / "vms"),
                "ipam": {f.name: f.read_text() for f in sorted(nets.glob("*.ipam"))},
                "mounts": [m for m in open("/proc/mounts").read().splitlines()
                           if f" {self.root}/netns/" in m]}


def read_until(p, marker, out, deadline):
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out.append(line)
        if line.startswith(marker):
            return line
    raise AssertionError("".join(out)[-4000:])


@pytest.fixture
def ns():
    name = f"hvh-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=True)
    assert not os.path.exists(f"/run/netns/{name}")


def test_hotplug_on_network_then_del_and_kill(hull, kernel, make_initramfs, ns, tmp_path):
    h = NsHull(hull, tmp_path / "store", ns)
    root = make_rootfs(tmp_path / "rootfs")
    (root / "www").mkdir()
    (root / "www/index.html").write_text("hello-from-container\n")
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    initrd = make_initramfs(GUEST, modules=("virtio_pci", "virtio_net"))
    sock = str(tmp_path / "api.sock")
    p = None
    try:
        h.run("import", str(tar), "bb")
        h.run("network", "create", "vnet")
        h.run("run", "-d", "--name", "web", "--network", "vnet", "bb", "httpd", "-f", "-p",
              "80", "-h", "/www")
        web = json.loads(h.run("inspect", "web").stdout)[0]["NetworkSettings"]["IPAddress"]
        before = h.state()
        p = subprocess.Popen([*h.prefix, hull, "vm", "run", "--kernel", kernel[0], "--initrd",
                              initrd, "--memory", "256M", "--hotplug", "--api-sock", sock,
                              "--cmdline", f"console=ttyS0 quiet hull.test.web={web}"],
                             env=h.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out = []
        deadline = time.time() + BOOT_TIMEOUT
        for rnd, addr in enumerate(ADDRS, 1):
            read_until(p, f"HULL-TEST: waiting-{rnd}", out, deadline)
            r = h.run("vm", "update", "--api-sock", sock, "--add-net",
                      f"network=vnet,id=n{rnd},ip={addr},vhost=off", check=False,
                      timeout=API_TIMEOUT)
            assert r.returncode == 0, r.stderr
            rep = json.loads(r.stdout)
            assert rep["ip"] == f"{addr}/16" and rep["gateway"] == GW, rep
            line = read_until(p, f"HULL-TEST: eth0-{rnd}", out, deadline)
            assert f"mac={rep['mac']}" in line, line
            line = read_until(p, f"HULL-TEST: got-{rnd}", out, deadline)
            # by name through aardvark-dns ("ip=" would say only the address worked)
            assert f"got-{rnd} name={web}" in line, "".join(out)[-3000:]
            [rid] = os.listdir(h.root / "vms")
            assert addr in (h.root / "networks/vnet.ipam").read_text()
            if rnd == 1:
                r = h.run("vm", "update", "--api-sock", sock, "--del-net", "n1", check=False,
                          timeout=API_TIMEOUT)
                assert r.returncode == 0, r.stderr
                read_until(p, "HULL-TEST: gone-1", out, deadline)
                # the tap, no longer persistent, goes when the VMM frees the ejected NIC
                end = time.time() + 120
                while h.state() != before and time.time() < end:
                    time.sleep(1)
                assert h.state() == before
            else:
                p.kill()
                p.communicate(timeout=120)
                assert os.listdir(h.root / "vms") == [rid]  # the owner is gone, not swept
                h.run("system", "prune", "-f")
                assert h.state() == before
        text = "".join(out)
        print(text[-2000:])
        assert "insmod" not in text, text[-3000:]
    finally:
        if p and p.poll() is None:
            p.kill()
            p.communicate()
        h.run("rm", "-f", "web", check=False)
        h.run("system", "prune", "-f", check=False)
        h.run("network", "rm", "vnet", check=False)
        cleanup_store(h)
    assert not list((h.root / "netns").glob("*")) if (h.root / "netns").exists() else True
