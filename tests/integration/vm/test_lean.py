"""hull-vmm, the lean VMM executable: `hull vm run` execs it (so the VM's process does not map
the image store's libraries), it runs on its own, and HULL_VM_IN_PROCESS=1 keeps the VM in
hull. --stats prints the exit counters. The tiny guest on this host's KVM, or in the sandbox's
(marked `kvm`)."""
import os
import pathlib
import subprocess
import time

import pytest

RUN = ["vm", "run", "--raw", "--allow-pvm", "--memory", "2M"]


def hull_vmm(hull):
    return str(pathlib.Path(hull).parent / "hull-vmm")


def maps_of_running_vm(cmd, env=None):
    """Start a spinning guest, return (exe, mapped file names) of its process, then kill it."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # the exec happens before the VM is built: wait until KVM's fds exist
            fds = os.listdir(f"/proc/{p.pid}/fd")
            if any("kvm-vm" in os.readlink(f"/proc/{p.pid}/fd/{f}") for f in fds
                   if os.path.exists(f"/proc/{p.pid}/fd/{f}")):
                break
            time.sleep(0.05)
        exe = os.readlink(f"/proc/{p.pid}/exe")
        maps = pathlib.Path(f"/proc/{p.pid}/maps").read_text()
    finally:
        p.kill()
        p.wait()
    return exe, maps


@pytest.mark.kvm
def test_hull_vm_run_execs_hull_vmm(hull, tiny_guest):
    exe, maps = maps_of_running_vm([hull, *RUN, "--kernel", tiny_guest["spin"]])
    assert os.path.basename(exe) == "hull-vmm"
    assert "libarchive" not in maps and "libcrypto" not in maps


@pytest.mark.kvm
def test_in_process_escape_hatch(hull, tiny_guest):
    env = dict(os.environ, HULL_VM_IN_PROCESS="1")
    exe, _ = maps_of_running_vm([hull, *RUN, "--kernel", tiny_guest["spin"]], env=env)
    assert os.path.basename(exe) == "hull"


@pytest.mark.kvm
def test_hull_vmm_directly_with_stats(hull, tiny_guest):
    r = subprocess.run([hull_vmm(hull), "run", "--raw", "--allow-pvm", "--memory", "2M",
                        "--stats", "--kernel", tiny_guest["poweroff"]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "powering off"
    stats = [ln for ln in r.stderr.splitlines() if ln.startswith("hull-vm-stats:")]
    assert len(stats) == 1, r.stderr
    st = dict(w.split("=", 1) for w in stats[0].split()[1:])
    # the tiny guest prints ~170 characters, one OUT each (plus one rep outsb)
    assert 100 < int(st["exits.io-serial"]) < 1000, st
    assert int(st["exits.mmio"]) == 0 and int(st["msi_irqfd"]) == 0, st
    assert float(st["first_output_ms"]) > 0 and float(st["build_ms"]) > 0, st
    assert 0 < float(st["load_ms"]) <= float(st["build_ms"]), st


def test_hull_vmm_bad_flag(hull):
    r = subprocess.run([hull_vmm(hull), "run", "--kernel"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 125 and r.stdout == ""
