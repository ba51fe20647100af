"""Why the container's program could not be executed (issue 11 item 5): runc's line
("exec /s/run.sh: no such file or directory", "exec format error", "permission denied") and
docker's exit codes (127 for a missing file or interpreter, 126 for one that cannot be run).

hull-oci reports it at start, from the exec; runc and crun refuse some at create and word
each their own way: for them only the failure and a reason are checked."""
import os
import shutil

import pytest

from ocilib import BUSYBOX

# An e_machine no kernel runs and no binfmt_misc handler claims: a binary of aarch64 would be
# run by qemu-user-static where its handler is registered (the suite installs it).
EM_NOWHERE = 0xbeef


def foreign_elf(dst):
    """A copy of busybox whose ELF header names a machine nothing runs (e_machine at offset
    18): a binary of another architecture, which execve() refuses with ENOEXEC."""
    shutil.copy2(BUSYBOX, dst)
    with open(dst, "r+b") as f:
        f.seek(18)
        f.write(EM_NOWHERE.to_bytes(2, "little"))
    os.chmod(dst, 0o755)


def make_cases(rootfs):
    s = rootfs / "s"
    s.mkdir()
    (s / "run.sh").write_text("#!/no/such/interpreter\necho hi\n")
    os.chmod(s / "run.sh", 0o755)
    foreign_elf(s / "foreign")
    (s / "noexec").write_text("#!/bin/sh\necho hi\n")
    os.chmod(s / "noexec", 0o644)
    (s / "dir").mkdir()


# case, errno text, docker's exit code
CASES = [
    ("/s/run.sh", "no such file or directory", 127),
    ("/s/foreign", "exec format error", 126),
    ("/s/noexec", "permission denied", 126),
    ("/s/dir", "permission denied", 126),
]


@pytest.mark.parametrize("path,why,code", CASES, ids=[c[0][3:] for c in CASES])
def test_exec_failure_says_why(rt, bundle, path, why, code):
    make_cases(bundle.rootfs)
    bundle.set_args(path)
    r = rt.run(rt.new_id(), bundle)
    # every runtime fails and says something (runc and crun word it each their own way)
    assert r.returncode != 0
    assert r.stderr.strip(), "no reason given"
    if rt.is_hull:
        assert r.stderr.strip() == f"exec {path}: {why}", r.stderr
        assert r.returncode == code, r.stderr
