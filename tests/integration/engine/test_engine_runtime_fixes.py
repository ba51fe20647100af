"""What hull-oci fixes reach `hull run` users (issue 11 items 3 and 5): lo is up in the
container's network namespace, and a command that cannot be executed gets the runtime's line
("exec /s/run.sh: no such file or directory") and docker's exit code (127/126)."""
import io
import shutil
import tarfile

import pytest

BUSYBOX = "/bin/busybox"


def add_file(t, name, data: bytes, mode):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, 0
    t.addfile(ti, io.BytesIO(data))


@pytest.fixture
def bad_cmds(hull_store, rootfs_tar, tmp_path):
    """busybox plus /s: a script whose #! interpreter is missing, a busybox whose ELF header
    names a machine nothing runs, a script without the x bit, a directory."""
    tar = tmp_path / "bad.tar"
    shutil.copy(rootfs_tar, tar)
    elf = bytearray(open(BUSYBOX, "rb").read())
    # e_machine: a machine no kernel runs and no binfmt_misc handler claims (aarch64 would run
    # under qemu-user-static where it is registered)
    elf[18:20] = (0xbeef).to_bytes(2, "little")
    with tarfile.open(tar, "a") as t:
        ti = tarfile.TarInfo("./s/dir")
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
        t.addfile(ti)
        add_file(t, "./s/run.sh", b"#!/no/such/interpreter\necho hi\n", 0o755)
        add_file(t, "./s/foreign", bytes(elf), 0o755)
        add_file(t, "./s/noexec", b"#!/bin/sh\necho hi\n", 0o644)
    hull_store.run("import", tar, "bad")
    return hull_store


@pytest.mark.parametrize("path,why,code", [
    ("/s/run.sh", "no such file or directory", 127),
    ("/s/foreign", "exec format error", 126),
    ("/s/noexec", "permission denied", 126),
    ("/s/dir", "permission denied", 126),
], ids=["no-interpreter", "foreign-elf", "not-executable", "directory"])
def test_run_exec_failure_says_why(bad_cmds, path, why, code):
    r = bad_cmds.run("run", "--rm", "bad", path, check=False)
    assert r.stderr.strip() == f"exec {path}: {why}", r.stderr
    assert r.returncode == code, r.stderr
    assert bad_cmds.out("ps", "-a", "-q") == ""


def test_run_lo_is_up(bb):
    r = bb.run("run", "--rm", "busybox", "sh", "-c",
               "ip link show lo; ping -c1 -W2 127.0.0.1 && echo PING-OK", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PING-OK" in r.stdout
    assert ",UP" in r.stdout.splitlines()[0]
