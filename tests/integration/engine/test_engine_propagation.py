"""Bind propagation (-v SRC:DST:rslave|rshared|rprivate, docker's): a mount made on the host
under a shared SRC after the container started appears inside a container whose bind is
rslave or rshared, and not in one whose bind is rprivate (the default); a mount made inside
the container never reaches the host."""
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
        assert ("master:" in opt) == (mode in ("rslave", "rshared")), (mode, line)
        assert ("shared:" in opt) == (mode == "rshared"), (mode, line)
    # a mount the container makes (it may not: no CAP_SYS_ADMIN) never shows on the host
    r = bb.run("exec", "p-shared", "sh", "-c", "mkdir -p /x/in && mount -t tmpfs t /x/in",
               check=False)
    assert r.returncode != 0
    assert f"{shared_src}/in " not in open("/proc/self/mountinfo").read()
    bb.run("rm", "-f", *names.values())
