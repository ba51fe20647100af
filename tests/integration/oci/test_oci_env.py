"""The process environment as runc and crun set it (issue 12 item 4): HOME from the
container's /etc/passwd, a missing process.cwd created, stdio pipes the process's user can
reopen."""
import os

import pytest

from ocilib import console_server, read_pty, sh

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "broken-line\n"
          "u:x:1000:1000:a user:/home/u:/bin/sh\n"
          "nohome:x:1001:1001:::/bin/sh\n")


def set_user(bundle, uid, env):
    (bundle.rootfs / "etc/passwd").write_text(PASSWD)
    bundle.config["process"]["user"] = {"uid": uid, "gid": uid}
    bundle.config["process"]["env"] = env


@pytest.mark.parametrize("uid,home", [(0, "/root"), (1000, "/home/u"), (1001, ""),
                                      (4242, "/")])
def test_home_from_passwd(rt, bundle, uid, home):
    """The entry's home as it is (even empty); "/" for a uid without an entry."""
    if rt.name == "crun" and uid == 4242:
        pytest.xfail("crun 1.8.1 leaves HOME empty for a uid without a passwd entry")
    set_user(bundle, uid, ["PATH=/bin"])
    bundle.set_args(*sh("echo \"HOME=$HOME\""))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"HOME={home}"


def test_home_from_config_wins(rt, bundle):
    set_user(bundle, 1000, ["PATH=/bin", "HOME=/elsewhere"])
    bundle.set_args(*sh("echo \"HOME=$HOME\"; env | grep -c ^HOME="))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["HOME=/elsewhere", "1"]


def test_home_passwd_not_a_file(rt, bundle):
    """A fifo as /etc/passwd must not block the runtime: HOME is then "/"."""
    set_user(bundle, 1000, ["PATH=/bin"])
    (bundle.rootfs / "etc/passwd").unlink()
    os.mkfifo(bundle.rootfs / "etc/passwd")
    bundle.set_args(*sh("echo \"HOME=$HOME\""))
    if not rt.is_hull:
        pytest.skip("runc 1.1 and crun 1.8.1 fail on a fifo /etc/passwd")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "HOME=/"


@pytest.mark.parametrize("readonly", [False, True])
def test_missing_cwd_is_created(rt, bundle, readonly):
    bundle.config["process"]["cwd"] = "/work/deep/dir"
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["root"]["readonly"] = readonly
    bundle.set_args(*sh("pwd; stat -c '%u %a' /work/deep/dir"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["/work/deep/dir", "0 755"]
    assert (bundle.rootfs / "work/deep/dir").is_dir()


def test_cwd_symlink_stays_in_rootfs(rt, bundle, workdir):
    """A cwd under a symlink that points out of the rootfs is created inside it."""
    (bundle.rootfs / "escape").symlink_to(str(workdir / "outside"))
    bundle.config["process"]["cwd"] = "/escape/x"
    bundle.set_args("pwd")
    r = rt.run(rt.new_id(), bundle)
    assert not (workdir / "outside").exists()
    # runc refuses it ("mkdir /escape: file exists"), crun fails the chdir; hull-oci
    # follows the link inside the rootfs (openat2 RESOLVE_IN_ROOT)
    if rt.is_hull:
        assert r.returncode == 0, r.stderr
        inside = str(workdir / "outside" / "x")
        assert r.stdout.strip() == inside
        assert (bundle.rootfs / inside.lstrip("/")).is_dir()


@pytest.mark.parametrize("uid", [1000, 0])
def test_stdio_pipes_reopenable_by_user(rt, bundle, uid):
    """nginx-style logging to /dev/stdout and /dev/stderr by a non-root process, with
    pipes as the runtime's stdio (rt.run captures both)."""
    bundle.config["process"]["user"] = {"uid": uid, "gid": uid}
    bundle.set_args(*sh("echo out > /dev/stdout && echo err > /dev/stderr"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "out\n"
    assert r.stderr.endswith("err\n")


def start_sleeper(rt, bundle, env):
    (bundle.rootfs / "etc/passwd").write_text(PASSWD)
    bundle.config["process"]["env"] = env
    bundle.set_args("sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    return cid


@pytest.mark.parametrize("user,home", [("1000:1000", "/home/u"), ("0:0", "/root"),
                                       ("4242:4242", "/")])
def test_exec_home_from_passwd(rt, bundle, user, home):
    if rt.name == "crun" and home == "/":
        pytest.xfail("crun 1.8.1 leaves HOME empty for a uid without a passwd entry")
    cid = start_sleeper(rt, bundle, ["PATH=/bin"])
    r = rt("exec", "--user", user, cid, "/bin/sh", "-c", "echo \"HOME=$HOME\"")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"HOME={home}"


def test_exec_env_added_and_home_kept(rt, bundle):
    if rt.name == "crun":
        pytest.xfail("crun 1.8.1 exec replaces the config's HOME with the passwd one")
    cid = start_sleeper(rt, bundle, ["PATH=/bin", "KEEP=1", "HOME=/cfg"])
    r = rt("exec", "--env", "FOO=bar", "--env", "KEEP=2", "--user", "1000:1000", cid,
           "/bin/sh", "-c", "echo $FOO $KEEP $HOME")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["bar", "2", "/cfg"]


def test_exec_stdio_pipes_reopenable_by_user(rt, bundle):
    cid = start_sleeper(rt, bundle, ["PATH=/bin"])
    r = rt("exec", "--user", "1000:1000", cid, "/bin/sh", "-c",
           "echo out > /dev/stdout && echo err > /dev/stderr")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "out\n" and r.stderr.endswith("err\n")


def test_exec_tty_belongs_to_the_user(rt, bundle, workdir):
    """exec -t --user U: stdin, stdout and stderr are the pty, owned by U (so that U can
    reopen /dev/tty and /proc/self/fd/0)."""
    cid = start_sleeper(rt, bundle, ["PATH=/bin"])
    sock = str(workdir / "console.sock")
    srv, t, got = console_server(sock)
    try:
        r = rt("exec", "--tty", "--detach", "--console-socket", sock, "--user", "1000:1000", cid,
               "/bin/sh", "-c", "for i in 0 1 2; do stat -L -c %u /proc/self/fd/$i; done; "
               "test -t 0 && test -t 1 && test -t 2 && echo alltty; echo x > /dev/tty && "
               "echo reopened")
        t.join(10)
    finally:
        srv.close()
    assert r.returncode == 0, r.stderr
    master = got["fds"][0]
    try:
        out = read_pty(master)
    finally:
        os.close(master)
    if rt.name == "crun" and out.split()[:3] == ["0", "0", "0"]:
        pytest.xfail("crun 1.8.1 leaves the exec pty to root")
    assert out.split() == ["1000", "1000", "1000", "alltty", "x", "reopened"], out
