"""The tiny real-mode guest: KVM plumbing, exit handling, platform devices and the control
socket, on this host's KVM (PVM is fine for a few hundred instructions), or in the sandbox's
nested KVM where the host has none (marked `kvm`: see conftest.py)."""
import os
import subprocess
import time

import pytest

from vmhelpers import vm_api

RUN = ["vm", "run", "--raw", "--allow-pvm", "--memory", "2M"]
pytestmark = pytest.mark.kvm


def test_tiny_guest_powers_off(hull, tiny_guest):
    r = subprocess.run([hull, *RUN, "--kernel", tiny_guest["poweroff"]], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hull tiny guest: hello"
    assert "rep outsb ok" in lines                    # string I/O, one exit
    assert "cpuid 0x40000000: KVMKVMKVM" in lines     # KVM leaves passed through
    assert "rtc ok" in lines and "memory ok" in lines
    assert lines[-1] == "powering off"
    assert "FAILED" not in r.stdout


def test_tiny_guest_reboot_exit_status(hull, tiny_guest):
    r = subprocess.run([hull, *RUN, "--kernel", tiny_guest["reboot"]], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert r.stdout.splitlines()[-1] == "rebooting"


def test_console_none_prints_nothing(hull, tiny_guest):
    r = subprocess.run([hull, *RUN, "--console", "none", "--kernel", tiny_guest["poweroff"]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    assert r.stdout == ""


def test_smp_tiny_guest(hull, tiny_guest):
    # Application processors wait for INIT/SIPI; the boot CPU alone runs and powers off.
    r = subprocess.run([hull, *RUN, "--cpus", "4", "--kernel", tiny_guest["poweroff"]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("hull tiny guest: hello") == 1


def test_pvm_host_refused_without_flag(hull, tiny_guest, tmp_path):
    # A CPU without vmx/svm (PVM): /proc/cpuinfo is replaced, in a private mount namespace, by
    # one whose flags lack both, so the test runs the same on every host with a working KVM.
    fake = tmp_path / "cpuinfo"
    with open("/proc/cpuinfo") as f:
        fake.write_text("".join(
            "flags\t\t: " + " ".join(w for w in ln.split(":", 1)[1].split()
                                    if w not in ("vmx", "svm")) + "\n"
            if ln.startswith("flags") else ln for ln in f))
    script = f"mount --bind {fake} /proc/cpuinfo && exec {hull} vm run --raw --memory 2M " \
             f"--kernel {tiny_guest['poweroff']}"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1
    assert "no vmx/svm" in r.stderr and "1000x" in r.stderr and "sandbox" in r.stderr
    assert r.stdout == ""


def api(path, obj, raw=None):
    return vm_api(path, obj, raw)


def test_api_socket(hull, tiny_guest, tmp_path):
    sock = str(tmp_path / "api.sock")
    p = subprocess.Popen([hull, *RUN, "--api-sock", sock, "--kernel", tiny_guest["spin"]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.time() + 60
        while time.time() < deadline:  # the guest is up once it says so
            line = p.stdout.readline()
            seen.append(line)
            if line == "spinning\n" or not line:
                break
        assert seen[-1] == "spinning\n", seen
        assert os.path.exists(sock)
        st = api(sock, {"op": "status"})
        assert st == {"ok": True, "state": "running", "cpus": 1, "memory": 2 << 20}
        assert api(sock, {"op": "pause"})["state"] == "paused"
        assert api(sock, {"op": "status"})["state"] == "paused"
        assert api(sock, {"op": "resume"})["state"] == "running"
        bad = api(sock, {"op": "explode"})
        assert bad["ok"] is False and "explode" in bad["error"]
        # '{' makes a connection JSON lines (anything else is HTTP: api.h)
        garbage = api(sock, None, raw=b"{not json\n")
        assert garbage["ok"] is False and "request" in garbage["error"]
        missing = api(sock, {"nop": 1})
        assert missing["ok"] is False and "op" in missing["error"]
        assert api(sock, {"op": "power-off"}) == {"ok": True, "state": "power-off"}
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out == ""  # nothing after the spin loop
    assert not os.path.exists(sock)  # removed on exit


def start_until(hull, args, marker, **kw):
    p = subprocess.Popen([hull, *RUN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, **kw)
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline()
        seen.append(line)
        if line == marker or not line:
            break
    assert seen[-1] == marker, seen
    return p


def test_sigterm_presses_ctrl_alt_del(hull, tiny_guest):
    # The guest polls the i8042; SIGTERM makes hull press Ctrl-Alt-Del, the guest powers off.
    p = start_until(hull, ["--kernel", tiny_guest["kbd"]], "waiting for ctrl-alt-del\n")
    try:
        t0 = time.time()
        p.send_signal(15)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out.splitlines() == ["ctrl-alt-del", "powering off"]
    assert time.time() - t0 < 20


def test_sigterm_timeout_kills(hull, tiny_guest):
    # A guest that ignores the keyboard is stopped after --shutdown-timeout: exit status 5.
    p = start_until(hull, ["--shutdown-timeout", "1", "--kernel", tiny_guest["spin"]],
                    "spinning\n")
    try:
        t0 = time.time()
        p.send_signal(15)
        out, err = p.communicate(timeout=60)
        took = time.time() - t0
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 5, err
    assert "did not shut down in time" in err
    assert 0.9 <= took < 20, took


def test_second_sigterm_kills_at_once(hull, tiny_guest):
    p = start_until(hull, ["--shutdown-timeout", "600", "--kernel", tiny_guest["spin"]],
                    "spinning\n")
    try:
        p.send_signal(15)
        time.sleep(0.5)
        assert p.poll() is None  # still waiting for the guest
        p.send_signal(15)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 5, err


def test_api_shutdown(hull, tiny_guest, tmp_path):
    sock = str(tmp_path / "api.sock")
    p = start_until(hull, ["--api-sock", sock, "--kernel", tiny_guest["kbd"]],
                    "waiting for ctrl-alt-del\n")
    try:
        assert api(sock, {"op": "shutdown"}) == {"ok": True, "state": "shutting-down"}
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out.splitlines() == ["ctrl-alt-del", "powering off"]


def test_api_shutdown_timeout(hull, tiny_guest, tmp_path):
    sock = str(tmp_path / "api.sock")
    p = start_until(hull, ["--api-sock", sock, "--shutdown-timeout", "1", "--kernel",
                           tiny_guest["spin"]], "spinning\n")
    try:
        assert api(sock, {"op": "shutdown"})["state"] == "shutting-down"
        assert api(sock, {"op": "status"})["state"] == "shutting-down"
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 5, err
