"""Bridge networks and published ports (issue 15 items 1-3, 7): netavark driven by hull, in
a network namespace each test makes (conftest.py)."""
import json
import random
import re
import time

import pytest

pytestmark = pytest.mark.net


def wget(nh, url, timeout=10):
    """Fetch url from the namespaced host, retrying while the server starts."""
    deadline = time.monotonic() + timeout
    while True:
        # python's client: busybox-static's wget crashes on this host (static NSS)
        r = nh.sh(f"python3 -c 'import sys, urllib.request as u; "
                  f"sys.stdout.write(u.urlopen(\"{url}\", timeout=2).read().decode())'",
                  check=False)
        if r.returncode == 0 or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_httpd_published_on_loopback(nh):
    cid = nh.out("run", "-d", "--name", "web", "-p", "127.0.0.1:18080:80", "bb",
                 "httpd", "-f", "-p", "80", "-h", "/www").strip()
    r = wget(nh, "http://127.0.0.1:18080/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from hull\n"
    ps = nh.out("ps")
    assert "127.0.0.1:18080->80/tcp" in ps.splitlines()[1]
    assert nh.out("port", "web") == "80/tcp -> 127.0.0.1:18080\n"
    assert nh.out("port", "web", "80/tcp") == "127.0.0.1:18080\n"
    ns = nh.inspect(cid)["NetworkSettings"]
    assert ns["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}
    assert ns["Networks"]["bridge"]["IPAddress"] == ns["IPAddress"]
    assert ns["IPAddress"].startswith("172.17.") and ns["Gateway"] == "172.17.0.1"
    assert nh.inspect(cid)["HostConfig"]["NetworkMode"] == "bridge"
    # the container reaches itself through its own address, and has lo
    out = nh.out("exec", "web", "sh", "-c", "ip -o addr; cat /etc/hosts /etc/resolv.conf")
    assert " lo " in out and ns["IPAddress"] in out and "nameserver" in out
    assert f"{ns['IPAddress']}\t{cid[:12]}" in out
    nh.run("rm", "-f", "web")
    after = nh.net_state()
    # netavark's own base chains stay (as with podman); nothing of this container's does
    assert not [r for r in after["rules"] if "18080" in r or "172.17." in r or cid in r]
    assert after["netns"] == [] and after["ipam"] == {} and after["mounts"] == []
    assert after["links"] == ["lo"]


def test_publish_all_and_ranges(nh):
    nh.run("run", "-d", "--name", "p", "-P", "-p", "127.0.0.1:18100-18102:7000-7002",
           "-p", "127.0.0.1::9000/udp", "bb", "sleep", "60")
    lines = nh.out("port", "p").splitlines()
    assert "7000/tcp -> 127.0.0.1:18100" in lines and "7002/tcp -> 127.0.0.1:18102" in lines
    assert any(re.fullmatch(r"80/tcp -> 0\.0\.0\.0:\d+", ln) for ln in lines)
    assert any(re.fullmatch(r"9000/udp -> 127\.0\.0\.1:\d+", ln) for ln in lines)
    assert "127.0.0.1:18100-18102->7000-7002/tcp" in nh.out("ps")
    nh.run("rm", "-f", "p")


@pytest.mark.parametrize("key", ["0.0.0.0:53:53/udp", "127.0.0.1:8053:53", "8053:53",
                                 "1-65535/tcp", "53/sctp"])
def test_publish_all_refuses_hostile_exposed_ports(nh, rootfs_tar, key):
    """-P: an image never chooses host addresses or ports, nor 65,535 mappings (security
    review item 1): one line naming the image and the key, exit 125, nothing created."""
    nh.run("import", rootfs_tar, "evil", "--change", f"EXPOSE {key}")
    before = nh.net_state()
    r = nh.run("create", "--name", "e", "-P", "evil", "true", check=False)
    assert r.returncode == 125, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "evil" in lines[0] and key in lines[0], r.stderr
    assert nh.out("ps", "-a", "-q") == ""
    assert nh.net_state() == before
    # -p takes the same cap: 1024 published ports in all
    r = nh.run("create", "-p", "127.0.0.1:20000-21024:20000-21024", "bb", "true", check=False)
    assert r.returncode == 125 and "-p" in r.stderr and "1024" in r.stderr, r.stderr
    assert nh.out("ps", "-a", "-q") == ""


def test_flags_for_hosts_and_resolv_refuse_injection(nh):
    """--dns, --dns-search, --add-host, --hostname never put a newline (or a space, or a
    control character) into /etc/hosts or resolv.conf (security review item 3): seeded random
    values with such a character are refused with one line naming the flag, exit 125, and
    nothing is made; well-formed ones are taken."""
    rnd = random.Random(3)
    bad_chars = "\n\r\t \x01\x7f#"

    def noisy(base):
        i = rnd.randrange(len(base) + 1)
        return base[:i] + rnd.choice(bad_chars) + rnd.choice(["", "nameserver 6.6.6.6"]) \
            + base[i:]

    cases = []
    for _ in range(12):
        cases += [("--dns", noisy("10.0.0.53")), ("--dns-search", noisy("corp.example")),
                  ("--add-host", noisy("db") + ":10.0.0.5"),
                  ("--add-host", "db:" + noisy("10.0.0.5")),
                  ("--hostname", noisy("web1"))]
    cases += [("--dns", "a:b"), ("--dns", "::::"), ("--hostname", "x" * 64),
              ("--dns-search", ("a" * 63 + ".") * 4 + "a"), ("--add-host", "-db:10.0.0.5")]
    for flag, value in cases:
        r = nh.run("create", "--network", "none" if flag == "--hostname" else "bridge",
                   flag, value, "bb", "true", check=False)
        assert r.returncode == 125, (flag, value, r.stdout, r.stderr)
        lines = r.stderr.strip("\n").split("\n")
        assert len(lines) == 1 and flag in lines[0], (flag, value, r.stderr)
    assert nh.out("ps", "-a", "-q") == ""
    cid = nh.out("create", "--hostname", "web1.example", "--dns", "fd00::53",
                 "--dns-search", "corp.example", "--add-host", "db.corp:10.0.0.5",
                 "--add-host", "v6:fd00::5", "bb", "true").strip()
    d = nh.root / "containers" / cid
    hosts = (d / "hosts").read_text()
    assert "10.0.0.5\tdb.corp\n" in hosts and "fd00::5\tv6\n" in hosts
    resolv = (d / "resolv.conf").read_text()
    assert "nameserver fd00::53\n" in resolv and "search corp.example" in resolv
    nh.run("rm", cid)


# busybox-static wget crashes with -T: `timeout` bounds it instead
def test_user_network_by_name_and_alias(nh):
    before = nh.net_state()
    nh.run("network", "create", "front")
    nh.run("run", "-d", "--name", "srv", "--network", "front", "--network-alias", "www", "bb",
           "httpd", "-f", "-p", "80", "-h", "/www")
    for host in ("srv", "www"):
        r = nh.run("run", "--rm", "--network", "front", "bb", "sh", "-c",
                   f"for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O- http://{host}/ "
                   f"&& exit 0; sleep 0.3; done; exit 1", check=False)
        assert r.returncode == 0 and r.stdout == "hello from hull\n", r.stderr
    info = json.loads(nh.out("network", "inspect", "front"))[0]
    assert info["Name"] == "front" and info["DNSEnabled"] is True
    assert [c["Name"] for c in info["Containers"].values()] == ["srv"]
    nh.run("rm", "-f", "srv")
    nh.run("network", "rm", "front")
    assert nh.out("network", "ls", "-q").split() == ["bridge"]
    after = nh.net_state()
    assert after["netns"] == [] and after["ipam"] == {} and after["links"] == before["links"]


def test_networks_isolated(nh):
    nh.run("network", "create", "n1")
    nh.run("network", "create", "n2")
    nh.run("run", "-d", "--name", "a", "--network", "n1", "bb", "httpd", "-f", "-p", "80",
           "-h", "/www")
    ip_a = nh.inspect("a")["NetworkSettings"]["IPAddress"]
    same = nh.run("run", "--rm", "--network", "n1", "bb", "sh", "-c",
                  f"for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O- http://{ip_a}/ && "
                  f"exit 0; sleep 0.3; done; exit 1", check=False)
    assert same.returncode == 0, same.stderr
    # sh as PID 1: the init of a PID namespace ignores timeout's SIGTERM
    other = nh.run("run", "--rm", "--network", "n2", "bb", "sh", "-c",
                   f"timeout 3 wget -q -O- http://{ip_a}/ || exit 1", check=False)
    assert other.returncode != 0 and "hello" not in other.stdout
    # and by name: n2 has no record of a
    byname = nh.run("run", "--rm", "--network", "n2", "bb", "nslookup", "a", check=False)
    assert ip_a not in byname.stdout
    nh.run("rm", "-f", "a")
    nh.run("network", "rm", "n1", "n2")


def test_network_container_mode(nh):
    nh.run("run", "-d", "--name", "web", "bb", "httpd", "-f", "-p", "80", "-h", "/www")
    r = nh.run("run", "--rm", "--network", "container:web", "bb", "sh", "-c",
               "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O- http://127.0.0.1/ && "
               "exit 0; sleep 0.3; done; exit 1", check=False)
    assert r.returncode == 0 and r.stdout == "hello from hull\n", r.stderr
    nh.run("rm", "-f", "web")


def test_network_container_mode_resolved_at_each_start(nh):
    """container:X is X's namespace of the moment: refused while X is stopped (its old pid
    may belong to anyone by then), X's new namespace once X runs again."""
    nh.run("run", "-d", "--name", "a", "bb", "sleep", "600")
    nh.run("create", "--name", "b", "--network", "container:a", "bb", "sleep", "600")
    old_pid = nh.inspect("a")["State"]["Pid"]
    nh.run("stop", "-t", "1", "a")
    r = nh.run("start", "b", check=False)
    assert r.returncode == 125, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot join network of a non running container: a" in lines[0]
    assert nh.inspect("b")["State"]["Status"] != "running"
    assert nh.net_state()["mounts"] == []
    nh.run("start", "a")
    assert nh.inspect("a")["State"]["Pid"] != old_pid
    nh.run("start", "b")
    ns_a = nh.out("exec", "a", "readlink", "/proc/self/ns/net")
    ns_b = nh.out("exec", "b", "readlink", "/proc/self/ns/net")
    assert ns_a.startswith("net:[") and ns_a == ns_b
    addr_a = nh.out("exec", "a", "ip", "-o", "-4", "addr", "show", "eth0")
    assert addr_a == nh.out("exec", "b", "ip", "-o", "-4", "addr", "show", "eth0")
    nh.run("rm", "-f", "b", "a")
    st = nh.net_state()
    assert st["netns"] == [] and st["mounts"] == []


def test_none_has_lo_up_and_host_is_the_namespace(nh):
    out = nh.out("run", "--rm", "--network", "none", "bb", "ip", "-o", "link")
    assert out.count("\n") == 1 and "lo" in out and "UP" in out
    out = nh.out("run", "--rm", "--network", "host", "bb", "ip", "-o", "link")
    assert nh.sh("ip -o link").stdout.count("\n") == out.count("\n")


def test_dns_and_hosts_flags(nh):
    out = nh.out("run", "--rm", "--hostname", "box", "--dns", "10.9.9.9", "--dns-search",
                 "example.org", "--add-host", "db:10.1.2.3", "--ip", "172.17.3.4", "bb", "sh",
                 "-c", "cat /etc/resolv.conf /etc/hosts; hostname; ip -o -4 addr show eth0")
    assert "nameserver 10.9.9.9" in out and "search example.org" in out
    assert "10.1.2.3\tdb" in out and "172.17.3.4\tbox" in out and "\nbox\n" in out
    assert "inet 172.17.3.4/16" in out


def test_stopped_container_releases_and_restarts(nh):
    nh.run("run", "-d", "--name", "s", "-p", "127.0.0.1:18200:80", "bb", "httpd", "-f", "-p",
           "80", "-h", "/www")
    nh.run("stop", "-t", "1", "s")
    st = nh.net_state()
    assert st["netns"] == [] and st["ipam"] == {}
    assert not any("18200" in r for r in st["rules"])
    nh.run("start", "s")
    assert wget(nh, "http://127.0.0.1:18200/").stdout == "hello from hull\n"
    nh.run("rm", "-f", "s")


def test_ipv6_and_internal_networks(nh):
    nh.run("network", "create", "--ipv6", "six")
    nh.run("network", "create", "--internal", "--subnet", "10.77.0.0/24", "--gateway",
           "10.77.0.254", "inside")
    out = nh.out("run", "--rm", "--network", "six", "bb", "ip", "-o", "addr", "show", "eth0")
    assert re.search(r"inet 172\.\d+\.0\.2/16", out) and re.search(r"inet6 fd17:[0-9a-f:]+::2/64",
                                                                    out), out
    out = nh.out("run", "--rm", "--network", "inside", "bb", "sh", "-c", "ip route; ip -o addr")
    assert "default" not in out and "10.77.0.1/24" in out
    info = json.loads(nh.out("network", "inspect", "inside"))[0]
    assert info["Internal"] is True
    assert info["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.254"}]
    assert nh.out("network", "prune", "-f").split() == ["Deleted", "Networks:", "inside", "six"]
    assert nh.out("network", "ls", "-q").split() == ["bridge"]
