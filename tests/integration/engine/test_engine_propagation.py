"""Bind propagation (-v SRC:DST:rslave|rshared|rprivate, docker's): a mount made on the host
under a shared SRC after the container started appears inside a container whose bind is
rslave or rshared, and not in one whose bind is rprivate (the default); a mount made inside
the container reaches the host only through an rshared bind (and needs CAP_SYS_ADMIN there);
an rshared bind of a source that is not on a shared mount (rslave: shared or slave) is
refused as docker refuses it."""
import subprocess

import pytest

NET = ("--network", "none")


@pytest.fixture
def shared_src(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    subprocess.run(["mount", "--make-shared", str(src)], check=True)
    yield src
    subprocess.run(["umount", "-R", str(src)], check=True)
    assert str(src) not in open("/proc/self/mountinfo").read()


def test_bind_propagation_modes(bb, shared_src):
    names = {"rslave": "p-slave", "rshared": "p-shared", "rprivate": "p-private", "": "p-dflt"}
    for mode, name in names.items():
        vol = f"{shared_src}:/x" + (f":{mode}" if mode else "")
        bb.run("run", "-d", *NET, "--name", name, "-v", vol, "busybox", "sleep", "300")
    sub = shared_src / "sub"
    sub.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "hull-prop", str(sub)], check=True)
    (sub / "f").write_text("from the host\n")
    for mode, name in names.items():
        r = bb.run("exec", name, "cat", "/x/sub/f", check=False)
        if mode in ("rslave", "rshared"):
            assert r.returncode == 0 and r.stdout == "from the host\n", (mode, r.stderr)
        else:
            assert r.returncode != 0, mode
        info = bb.out("exec", name, "cat", "/proc/self/mountinfo")
        line = next(ln for ln in info.splitlines() if ln.split()[4] == "/x")
        opt = line.split(" - ")[0]
        # rshared: the bind is a peer of the host's mount (the container's root is shared,
        # as runc makes it for rootfsPropagation shared); rslave: a slave of it
        assert ("master:" in opt) == (mode == "rslave"), (mode, line)
        assert ("shared:" in opt) == (mode == "rshared"), (mode, line)
    # a mount the container makes (it may not: no CAP_SYS_ADMIN) never shows on the host
    r = bb.run("exec", "p-shared", "sh", "-c", "mkdir -p /x/in && mount -t tmpfs t /x/in",
               check=False)
    assert r.returncode != 0
    assert f"{shared_src}/in " not in open("/proc/self/mountinfo").read()
    bb.run("rm", "-f", *names.values())


@pytest.mark.parametrize("mode", ["rshared", "rslave", "rprivate"])
def test_a_mount_made_in_the_container_reaches_the_host_only_through_rshared(bb, shared_src,
                                                                             mode):
    r = bb.run("run", "--rm", *NET, "--cap-add", "SYS_ADMIN", "-v", f"{shared_src}:/x:{mode}",
               "busybox", "sh", "-c", "mkdir -p /x/in && mount -t tmpfs t /x/in && "
               "echo made > /x/in/f", check=False)
    assert r.returncode == 0, r.stderr
    inside = shared_src / "in" / "f"
    try:
        assert inside.exists() == (mode == "rshared"), mode
        if mode == "rshared":
            assert inside.read_text() == "made\n"
    finally:
        if f"{shared_src}/in " in open("/proc/self/mountinfo").read():
            subprocess.run(["umount", str(shared_src / "in")], check=True)


@pytest.mark.parametrize("mode,want", [
    ("rshared", "is mounted on / but it is not a shared mount"),
    ("shared", "is mounted on / but it is not a shared mount"),
    ("rslave", "is mounted on / but it is not a shared or slave mount"),
])
def test_propagation_needs_a_shared_source(bb, tmp_path, mode, want):
    # this host's / is private (no systemd making it shared); docker refuses the same way
    if "shared:" in next(ln for ln in open("/proc/self/mountinfo")
                         if ln.split()[4] == "/").split(" - ")[0]:
        pytest.fail("this test needs a host whose / is not a shared mount")
    src = tmp_path / "plain"
    src.mkdir()
    before = sorted(p.name for p in (bb.root / "containers").iterdir() if p.name[0] != ".")
    r = bb.run("run", "--rm", *NET, "-v", f"{src}:/x:{mode}", "busybox", "true", check=False)
    assert r.returncode == 125 and want in r.stderr and str(src) in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (bb.root / "containers").iterdir() if p.name[0] != ".") == before
