"""Fixtures for the network tests: every test runs hull inside a network namespace it makes
(`ip netns add`, loopback up) and deletes, so that bridges, veths, firewall rules and
aardvark-dns never touch the host's (docs/testing.md "Networks"). hull is entered with
`nsenter --net=` rather than `ip netns exec`: the latter also gives it a mount namespace of its
own, and the container mounts (rootfs, the netns file) would vanish with each command."""
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
from engine_helpers import Hull, cleanup_store, make_rootfs  # noqa: E402


class NsHull(Hull):
    """hull against a private store, inside network namespace ns."""

    def __init__(self, binary, root, ns):
        super().__init__(binary, root)
        self.ns = ns
        self.prefix = ["nsenter", f"--net=/run/netns/{ns}"]

    def run(self, *args, check=True, input=None, timeout=60, **kw):
        r = subprocess.run([*self.prefix, self.binary, *map(str, args)], capture_output=True,
                           text=True, env=self.env, input=input, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(map(str, args))} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def popen(self, *args, **kw):
        return subprocess.Popen([*self.prefix, self.binary, *map(str, args)], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                **kw)

    def sh(self, cmd, check=True, timeout=30):
        """A host command inside the namespace (the tests' "host")."""
        return subprocess.run([*self.prefix, "sh", "-c", cmd], capture_output=True, text=True,
                              check=check, timeout=timeout)

    def net_state(self):
        """What must be back as it was: rules, links, namespace files, addresses given."""
        rules = sorted(line for line in self.sh("iptables-save").stdout.splitlines()
                       if line.startswith("-A"))
        links = sorted(line.split(":")[1].strip().split("@")[0]
                       for line in self.sh("ip -o link").stdout.splitlines())
        nsd = self.root / "netns"
        files = sorted(os.listdir(nsd)) if nsd.exists() else []
        allocs = {}
        nets = self.root / "networks"
        for f in (sorted(nets.glob("*.ipam")) if nets.exists() else []):
            text = f.read_text().strip()
            if text not in ("", "{}"):
                allocs[f.name] = text
        mounts = [m for m in open("/proc/mounts").read().splitlines()
                  if f" {self.root}/netns/" in m]
        return {"rules": rules, "links": links, "netns": files, "ipam": allocs,
                "mounts": mounts}


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("busybox-net")
    root = make_rootfs(base / "rootfs")
    (root / "www").mkdir()
    (root / "www/index.html").write_text("hello from hull\n")
    out = base / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(out), "."],
                   check=True)
    return out


def netns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


@pytest.fixture
def ns():
    name = f"hnt-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    yield name
    # aardvark-dns and anything a failed test left: then the namespace goes, and all in it
    for pid in netns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "del", name], check=True)
    assert not os.path.exists(f"/run/netns/{name}")


@pytest.fixture
def nh(hull, tmp_path, ns, rootfs_tar):
    """hull in namespace ns with localhost/bb imported (busybox, /www, EXPOSE 80)."""
    h = NsHull(hull, tmp_path / "store", ns)
    h.run("import", rootfs_tar, "bb", "--change", 'CMD ["/bin/sh"]', "--change", "EXPOSE 80")
    yield h
    ids = h.run("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
    if ids:
        h.run("rm", "-f", *ids, check=False)
    cleanup_store(h)
    # nothing of hull's may outlive its containers in the namespace (aardvark-dns exits
    # when its last container is torn down)
    deadline = time.monotonic() + 10
    while netns_pids(ns) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert netns_pids(ns) == [], "processes left in the test's network namespace"
