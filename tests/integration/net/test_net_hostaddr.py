"""A published port reached from another container through the host's addresses (issue 15
item 3): the bridge's gateway and an address of another host interface, as a container
reaches a service another container publishes on the host, and the host itself on that
address. The "host" is the test's network namespace; its "LAN interface" is a veth pair the
test makes there (the kernel may lack the dummy driver)."""
import pytest

FETCH = ("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O- http://{addr}:{port}/ "
         "&& exit 0; sleep 0.3; done; exit 1")


@pytest.fixture
def lan(nh):
    nh.sh("ip link add hlan0 type veth peer name hlan1 && ip addr add 10.99.0.1/24 dev hlan0 "
          "&& ip link set hlan0 up && ip link set hlan1 up")
    yield "10.99.0.1"
    nh.sh("ip link del hlan0")
    assert "hlan0" not in nh.sh("ip -o link").stdout


@pytest.mark.parametrize("bind", ["", "0.0.0.0:"])
def test_published_port_from_another_container_via_host_addresses(nh, lan, bind):
    nh.run("run", "-d", "--name", "web", "-p", f"{bind}18080:80", "bb", "httpd", "-f", "-h",
           "/www")
    gateway = nh.inspect("web")["NetworkSettings"]["Gateway"]
    assert gateway == "172.17.0.1"
    for addr in (gateway, lan):
        r = nh.run("run", "--rm", "bb", "sh", "-c", FETCH.format(addr=addr, port=18080),
                   check=False)
        assert r.returncode == 0 and r.stdout == "hello from hull\n", (addr, r.stderr)
    # and from the host, on its own LAN address and on loopback
    for addr in (lan, "127.0.0.1"):
        r = nh.sh(FETCH.format(addr=addr, port=18080), check=False)
        assert r.returncode == 0 and r.stdout == "hello from hull\n", (addr, r.stderr)
    # a port nobody published stays closed from a container
    r = nh.run("run", "--rm", "bb", "sh", "-c", f"timeout 3 wget -q -O- http://{lan}:18081/",
               check=False)
    assert r.returncode != 0 and "hello" not in r.stdout
    nh.run("rm", "-f", "web")
    # netavark keeps its base chains (as with podman); nothing of this container stays
    after = nh.net_state()
    assert not [x for x in after["rules"] if "18080" in x or "172.17.0." in x], after["rules"]
    assert after["netns"] == [] and after["ipam"] == {}


def test_port_bound_to_loopback_is_not_reached_from_containers(nh, lan):
    """-p 127.0.0.1:P:80 publishes on the host's loopback only: not on the LAN address, and
    a container (whose 127.0.0.1 is its own) does not reach it."""
    nh.run("run", "-d", "--name", "web", "-p", "127.0.0.1:18082:80", "bb", "httpd", "-f", "-h",
           "/www")
    r = nh.sh(FETCH.format(addr="127.0.0.1", port=18082), check=False)
    assert r.returncode == 0 and r.stdout == "hello from hull\n", r.stderr
    r = nh.sh(f"timeout 3 wget -q -O- http://{lan}:18082/", check=False)
    assert r.returncode != 0 and "hello" not in r.stdout
    r = nh.run("run", "--rm", "bb", "sh", "-c", f"timeout 3 wget -q -O- http://{lan}:18082/",
               check=False)
    assert r.returncode != 0 and "hello" not in r.stdout
    nh.run("rm", "-f", "web")
