"""Host-side tests of tests/sandbox/run and run-pytest: exit codes, output, paths, timeout, skip.

Each boot of the VM costs ~7 s, so one boot checks several things at once.
"""
import os
import pathlib
import re
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from sandbox_helpers import run_sandbox, SANDBOX_RUN_PYTEST, REPO

pytestmark = pytest.mark.slow


def test_exit_code_output_cwd_env_and_results(sandbox_available, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    script = (
        'echo "out $PWD"; echo "err line" >&2; '
        'echo "build=$HULL_BUILD_DIR extra=$HULL_SANDBOX_TEST_VAR other=${OTHER_VAR-unset} '
        'agent=$HULL_VM_AGENT_TIMEOUT"; '
        'echo written >result.txt; '
        'grep -q " $PWD 9p " /proc/mounts && echo results-9p; '
        'exit 3'
    )
    r = run_sandbox("--results", str(results), "--", "sh", "-c", script, cwd=str(results),
                    env={"HULL_BUILD_DIR": "/some/build", "HULL_SANDBOX_TEST_VAR": "a b'c",
                         "OTHER_VAR": "x"})
    assert r.returncode == 3, r.stderr
    lines = r.stdout.splitlines()
    # The caller's cwd is the results dir, mounted inside at the same path.
    assert lines[0] == f"out {results}"
    # run --vm's agent wait, longer in the sandbox's nested KVM (docs/sandbox.md)
    assert lines[1] == "build=/some/build extra=a b'c other=unset agent=400"
    assert lines[2] == "results-9p"
    assert "err line" in r.stderr and "err line" not in r.stdout
    assert (results / "result.txt").read_text() == "written\n"


def test_cwd_under_tmp_is_shared_read_only_and_signal_status(sandbox_available, tmp_path):
    # The guest covers /tmp with a fresh tmpfs; a cwd there (a checkout under /tmp, as a CI
    # clone may be) is exported read-only at the same path, so tests find the repo.
    (tmp_path / "host-file").write_text("from the host\n")
    r = run_sandbox("--", "sh", "-c",
                    "pwd; cat host-file; touch new 2>/dev/null || echo read-only; kill -TERM $$",
                    cwd=str(tmp_path))
    assert r.returncode == 128 + 15, r.stderr  # killed by SIGTERM
    assert r.stdout.splitlines() == [str(tmp_path), "from the host", "read-only"]
    assert not (tmp_path / "new").exists()


def test_timeout_kills_the_vm(sandbox_available):
    t0 = time.monotonic()
    r = run_sandbox("--verbose", "--timeout", "12", "--", "sleep", "1000", timeout=60)
    elapsed = time.monotonic() - t0
    assert r.returncode == 124, r.stderr
    assert "timeout: killed the VM after 12 s" in r.stderr
    assert elapsed < 30
    # No QEMU left behind: none has this run's control directory on its command line.
    ctl = re.search(r"path=(/\S*/hull-sandbox-\w+),mount_tag=ctl", r.stderr).group(1)
    ps = subprocess.run(["pgrep", "-f", ctl], capture_output=True)
    assert ps.returncode == 1, ps.stdout


def test_boot_that_never_starts_is_retried_once_then_fails(sandbox_available):
    r = run_sandbox("--boot-timeout", "1", "--", "true", timeout=60)
    assert r.returncode == 125, r.stderr
    assert "retrying with -smp 1" in r.stderr
    assert "failed: the command did not start within 1 s" in r.stderr


def test_missing_kernel_skips_with_77(tmp_path):
    r = run_sandbox("--", "true", env={"HULL_SANDBOX_KERNEL": str(tmp_path / "vmlinuz-none")})
    assert r.returncode == 77
    assert "skipped: no kernel" in r.stderr


def test_missing_qemu_skips_with_77(tmp_path):
    # A PATH with python3 but without qemu-system-x86_64.
    (tmp_path / "python3").symlink_to("/usr/bin/python3")
    r = subprocess.run(["/usr/bin/python3", str(REPO / "tests/sandbox/run"), "--", "true"],
                       capture_output=True, text=True, env={"PATH": str(tmp_path)}, timeout=60)
    assert r.returncode == 77
    assert "skipped: qemu-system-x86_64 is not installed" in r.stderr


@pytest.mark.parametrize("args,message", [
    ([], "no command given"),
    (["--mem", "10", "--", "true"], "--mem must be"),
    (["--results", "/nonexistent/dir", "--", "true"], "not a directory"),
])
def test_usage_errors(args, message):
    r = run_sandbox(*args)
    assert r.returncode == 2
    assert message in r.stderr


def test_run_pytest_nothing_collected_still_writes_junit(sandbox_available, tmp_path):
    xml = tmp_path / "out" / "sandbox.xml"
    r = subprocess.run([str(SANDBOX_RUN_PYTEST), str(xml), "tests/integration/sandbox",
                        "-k", "no_test_has_this_name"],
                       capture_output=True, text=True, timeout=300, cwd=str(REPO))
    assert r.returncode == 0, r.stdout + r.stderr
    root = ET.parse(xml).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0
    assert int(suite.get("tests")) == 0


def test_run_pytest_skip_writes_a_skipped_case(tmp_path):
    xml = tmp_path / "sandbox.xml"
    env = dict(os.environ, HULL_SANDBOX_KERNEL=str(tmp_path / "vmlinuz-none"))
    r = subprocess.run([str(SANDBOX_RUN_PYTEST), str(xml)], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite.get("skipped") == "1" and suite.get("failures") == "0"


def test_hung_guest_is_detected(sandbox_available):
    # Stop the guest init's heartbeat (a child of PID 1 running /init), then idle.
    script = ('for p in $(pgrep -x -f "/bin/busybox sh /init"); do '
              '[ "$p" = 1 ] || kill -STOP "$p"; done; echo stopped; sleep 1000')
    t0 = time.monotonic()
    r = run_sandbox("--hang-timeout", "20", "--", "sh", "-c", script, timeout=120)
    assert r.returncode == 125, r.stderr
    assert r.stdout == "stopped\n"
    assert "failed: the guest stopped responding (no heartbeat for 20 s)" in r.stderr
    assert time.monotonic() - t0 < 90


def test_run_pytest_terminated_leaves_no_vm_and_a_failed_junit(tmp_path):
    xml = tmp_path / "sandbox.xml"
    p = subprocess.Popen([str(SANDBOX_RUN_PYTEST), str(xml), "tests/integration/sandbox"],
                         cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(3)
    p.terminate()
    p.communicate(timeout=60)
    assert p.returncode != 0
    # QEMU's command line names the results directory (tmp_path): none may be left.
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", f"path={tmp_path},mount_tag=results"],
                         capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "QEMU still running after run-pytest was terminated"
        time.sleep(0.2)
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite.get("failures") == "1"


def test_bzimage_boot_smp_and_mem_options(sandbox_available):
    """HULL_SANDBOX_PVH=0 boots the bzImage itself (the fallback when no vmlinux can be
    extracted); --smp and --mem reach the guest."""
    r = run_sandbox("--smp", "1", "--mem", "1024", "--", "sh", "-c",
                    "nproc; awk '/MemTotal/ {print $2}' /proc/meminfo",
                    env={"HULL_SANDBOX_PVH": "0"})
    assert r.returncode == 0, r.stderr
    cpus, mem_kb = r.stdout.split()
    assert cpus == "1"
    assert 900_000 < int(mem_kb) <= 1024 * 1024


def test_initramfs_and_vmlinux_cache(sandbox_available):
    """The cached initramfs is a valid newc archive with init, busybox and the modules; the
    cached vmlinux carries the PVH note."""
    cache = pathlib.Path(os.environ.get("HULL_SANDBOX_CACHE") or REPO / "tests/sandbox/.cache")
    cpios = sorted(cache.glob("initramfs-*.cpio"), key=lambda p: p.stat().st_mtime)
    assert cpios
    names = subprocess.run(["cpio", "-it", "--quiet"], stdin=open(cpios[-1], "rb"),
                           capture_output=True, text=True, check=True).stdout.split()
    for n in ("init", "bin/busybox", "bin/hull-modprobe", "modules.list",
              "lib/modules/9p.ko", "lib/modules/kvm-amd.ko", "lib/modules/overlay.ko"):
        assert n in names
    vmlinux = list(cache.glob("vmlinux-*"))
    assert vmlinux and open(vmlinux[0], "rb").read(4) == b"\x7fELF"


def test_run_pytest_markers_from_environment(sandbox_available, tmp_path):
    # scripts/test on a host without /dev/kvm: HULL_SANDBOX_MARKERS="sandbox or kvm" brings
    # the tests marked kvm into the VM, where nested KVM runs them (here the real-KVM cmocka
    # test, with the build directory scripts/test would pass).
    xml = tmp_path / "out" / "sandbox.xml"
    env = dict(os.environ, HULL_SANDBOX_MARKERS="sandbox or kvm")
    r = subprocess.run([str(SANDBOX_RUN_PYTEST), str(xml),
                        "tests/integration/vm/test_kvm_unit.py"],
                       capture_output=True, text=True, timeout=600, cwd=str(REPO), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite.get("tests") == "1", r.stdout
    assert suite.get("failures") == "0" and suite.get("errors") == "0", r.stdout
    assert suite.get("skipped") == "0", r.stdout


RESUME_TESTS = r'''
import os
import pathlib
import time

import pytest

pytestmark = pytest.mark.sandbox
MARK = pathlib.Path(__file__).with_name("stopped-once")


def stop_the_vm():
    # An immediate reset, as a guest reset of the TCG VM (QEMU -no-reboot exits 0).
    with open("/proc/sysrq-trigger", "w") as f:
        f.write("b")
    time.sleep(120)


def test_a():
    pass


def test_b_stops_the_vm_once():
    if not MARK.exists():
        MARK.write_text("x")
        os.sync()
        stop_the_vm()


def test_c():
    pass


def test_d_always_stops_the_vm():
    stop_the_vm()


def test_e_fails():
    assert 1 == 2, "e failed"
'''


def test_run_pytest_resumes_after_the_vm_stops_in_a_test(sandbox_available, tmp_path):
    """A VM that stops in a test (a reset) does not lose the session: the tests that had not
    ended run in a new VM; one the VM stops in twice is a failure and the rest still run; the
    junit file counts every test once."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "test_resume_fake.py").write_text(RESUME_TESTS)
    xml = out / "sandbox.xml"
    r = subprocess.run([str(SANDBOX_RUN_PYTEST), str(xml), str(out / "test_resume_fake.py")],
                       capture_output=True, text=True, timeout=900, cwd=str(REPO))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.count("running the tests that had not ended in a new VM") == 3, r.stderr
    assert "4 VMs ran the suite; 2 failed in all" in r.stderr, r.stderr
    suite = ET.parse(xml).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("5", "2", "0", "0"), ET.tostring(suite)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert sorted(cases) == ["test_a", "test_b_stops_the_vm_once", "test_c",
                             "test_d_always_stops_the_vm", "test_e_fails"]
    for name in ("test_a", "test_b_stops_the_vm_once", "test_c"):
        assert cases[name].find("failure") is None, name
    assert "stopped once while" in cases["test_b_stops_the_vm_once"].find("system-out").text
    assert "stopped 2 times" in cases["test_d_always_stops_the_vm"].find("failure").get("message")
    assert "e failed" in cases["test_e_fails"].find("failure").text
    assert not (out / ".sandbox-progress.jsonl").exists()
    assert subprocess.run(["pgrep", "-f", f"path={out},mount_tag=results"],
                          capture_output=True).returncode != 0


HANG_TESTS = r'''
import os
import pathlib
import subprocess
import time

import pytest

pytestmark = pytest.mark.sandbox
MARK = pathlib.Path(__file__).with_name("hung-once")


def test_a():
    pass


def test_b_hangs_the_vm_once():
    if not MARK.exists():
        MARK.write_text("x")
        os.sync()
        # the guest init's heartbeat stopped: the host sees a guest that stopped responding
        subprocess.run(["sh", "-c", 'for p in $(pgrep -x -f "/bin/busybox sh /init"); do '
                        '[ "$p" = 1 ] || kill -STOP "$p"; done'], check=True)
        time.sleep(600)


def test_c_cpus():
    pathlib.Path(__file__).with_name("cpus").write_text(str(os.cpu_count()))
'''


def test_run_pytest_resumes_after_a_hung_vm(sandbox_available, tmp_path):
    """A VM that stops responding in a test: the tests that had not ended (that one included)
    run in a new VM with -smp 1, not the whole suite again; all pass."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "test_hang_fake.py").write_text(HANG_TESTS)
    xml = out / "sandbox.xml"
    env = dict(os.environ, HULL_SANDBOX_HANG_TIMEOUT="20")
    r = subprocess.run([str(SANDBOX_RUN_PYTEST), str(xml), str(out / "test_hang_fake.py")],
                       capture_output=True, text=True, timeout=900, cwd=str(REPO), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the guest stopped responding" in r.stderr, r.stderr
    assert r.stderr.count("running the tests that had not ended in a new VM") == 1, r.stderr
    assert "2 VMs ran the suite; 0 failed in all" in r.stderr, r.stderr
    suite = ET.parse(xml).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    assert (out / "cpus").read_text() == "1"  # the resumed VM had one CPU
    # the resumed VM did not run test_a again: it ran b and c, with a deselected
    assert "2 passed, 1 deselected" in r.stdout, r.stdout
