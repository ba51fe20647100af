"""Security baseline (issue 2 item 5): /proc/self/exe, fd leaks, the working directory."""
import os
import subprocess
import time

import pytest

from ocilib import sh


def test_proc_self_exe_is_not_the_runtime(rt, bundle):
    """CVE-2019-5736 class: what the created (not yet exec'd) container process runs must
    not be a writable path back to the runtime binary on the host."""
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    fd = os.open(f"/proc/{pid}/exe", os.O_RDONLY)
    try:
        st = os.fstat(fd)
        real = os.stat(os.path.realpath(rt.binary))
        same_file = (st.st_dev, st.st_ino) == (real.st_dev, real.st_ino)
        assert rt("start", cid).returncode == 0
        assert rt("kill", cid, "KILL").returncode == 0
        rt.wait_status(cid, "stopped")
        assert rt("delete", cid).returncode == 0
        time.sleep(0.1)
        # the runtime has exited: a container holding this fd would now try to reopen it for
        # writing (the exploit). It must fail, or be a private copy, not the host's binary.
        try:
            wfd = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY)
        except OSError:
            wfd = None
        if wfd is not None:
            os.close(wfd)  # nothing written
            assert not same_file, "container process could reopen the runtime binary for write"
    finally:
        os.close(fd)


def test_proc_self_exe_after_start_is_the_container_binary(rt, bundle):
    out = rt.run(rt.new_id(), bundle.set_args("/bin/readlink", "/proc/self/exe"))
    assert out.stdout.strip() == "/bin/busybox"


def test_no_fd_leak_into_container(rt, bundle, workdir):
    """Only 0-2 inside, even when the runtime itself inherited more fds (CVE-2024-21626 class)."""
    leak = workdir / "leak"
    leak.write_text("secret\n")
    bundle.set_args(*sh("ls /proc/$$/fd; readlink /proc/$$/cwd"))
    cid = rt.new_id()
    cmd = " ".join(rt.cmd("run", "--bundle", str(bundle.path), cid))
    r = subprocess.run(["/bin/sh", "-c", f"exec {cmd} 3<{leak} 4<{workdir} 7</"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert sorted(lines[:-1]) == ["0", "1", "2"]
    assert lines[-1] == "/"


def test_fds_of_created_process(rt, bundle):
    """After start, the container's process has no runtime fds open either (checked from the
    host, which also sees fds the process cannot list itself)."""
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    pid = rt.state(cid)["pid"]
    deadline = time.monotonic() + 5
    while os.readlink(f"/proc/{pid}/exe") != str(bundle.rootfs / "bin/busybox") and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    fds = sorted(int(x) for x in os.listdir(f"/proc/{pid}/fd"))
    assert fds == [0, 1, 2], {f: os.readlink(f"/proc/{pid}/fd/{f}") for f in fds}
    # seen from the host: the rootfs, or "/" once pivot_root detached it from our tree
    assert os.readlink(f"/proc/{pid}/cwd") in ("/", str(bundle.rootfs))


@pytest.mark.parametrize("n", range(3, 10))
def test_cwd_through_leaked_fd_cannot_reach_host(rt, bundle, workdir, n):
    """process.cwd = /proc/self/fd/N (runc CVE-2024-21626): the process must not end up with a
    working directory outside the rootfs, from which ../ would reach the host."""
    marker = workdir / "host-marker"
    marker.write_text("HOST-REACHED\n")
    ups = "../" * 20
    bundle.config["process"]["cwd"] = f"/proc/self/fd/{n}"
    bundle.set_args(*sh(f"cat {ups}{str(marker).lstrip('/')} 2>/dev/null; "
                        f"cat /proc/self/cwd/{ups}{str(marker).lstrip('/')} 2>/dev/null; true"))
    r = rt.run(rt.new_id(), bundle)
    assert "HOST-REACHED" not in r.stdout


def test_container_cannot_see_runtime_state_or_bundle(rt, bundle):
    bundle.set_args(*sh(f"ls {rt.root} {bundle.path} 2>&1; true"))
    r = rt.run(rt.new_id(), bundle)
    assert "config.json" not in r.stdout
    assert "No such file" in r.stdout
