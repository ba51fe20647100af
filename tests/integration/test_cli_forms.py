"""docker's --flag=value forms do what they say on a real container (issue 11, item 6):
--rm=false keeps the container, --name=x names it, --detach=true detaches, a later
--flag=false unsets an earlier --flag, and --pid (no such flag) runs nothing."""
import os
import re
import shutil
import subprocess
import tarfile

import pytest

BUSYBOX = "/bin/busybox"


@pytest.fixture
def hull_run(hull, tmp_path):
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static not installed")
    root = tmp_path / "store"
    env = dict(os.environ, HULL_ROOT=str(root))

    def run(*args, check=True):
        r = subprocess.run([hull, *args], capture_output=True, text=True, env=env, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: {r.returncode}\n{r.stderr}")
        return r

    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin/busybox")
    for applet in ("sh", "true", "sleep"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    with tarfile.open(tmp_path / "rootfs.tar", "w") as t:
        t.add(rootfs, arcname=".")
    run("import", str(tmp_path / "rootfs.tar"), "bb")
    yield run
    ids = run("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
    if ids:
        run("rm", "-f", *ids, check=False)
    assert run("ps", "-a", "-q").stdout == ""
    subprocess.run(["sh", "-c", f"grep -o ' {root}/[^ ]*' /proc/mounts | xargs -r -n1 umount -l"],
                   capture_output=True)


def names(run):
    out = run("ps", "-a").stdout.splitlines()[1:]
    return sorted(line.split()[-1] for line in out)


def test_rm_false_keeps_and_name_equals(hull_run):
    hull_run("run", "--rm=false", "--name=kept", "bb", "true")
    hull_run("run", "--rm", "--rm=0", "--name=kept2", "bb", "true")
    hull_run("run", "--rm=true", "--name=gone", "bb", "true")
    assert names(hull_run) == ["kept", "kept2"]


def test_detach_true_and_false(hull_run):
    r = hull_run("run", "--detach=true", "--name=bg", "bb", "sleep", "30")
    assert re.fullmatch(r"[0-9a-f]{64}\n", r.stdout)
    assert hull_run("ps", "-q").stdout.strip() == r.stdout.strip()[:12]
    # -d then --detach=false: in the foreground (no id printed, the exit status is the
    # command's)
    r = hull_run("run", "-d", "--detach=false", "--name=fg", "bb", "sh", "-c", "exit 3",
                 check=False)
    assert r.returncode == 3 and r.stdout == ""
    hull_run("rm", "-f", "bg")


def test_abbreviation_creates_nothing(hull_run):
    for args in (["--pid", "5"], ["--pid", "host"], ["--priv"], ["--na", "x"]):
        r = hull_run("run", *args, "bb", "true", check=False)
        assert r.returncode == 125 and f"unknown flag: {args[0]}" in r.stderr
    assert names(hull_run) == []
