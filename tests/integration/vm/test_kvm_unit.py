"""The cmocka tests that need a real /dev/kvm (tests/unit/vmm/test-kvm.c): kept out of
Meson's unit suite so that its counts are the same on every host, and run here, marked
`kvm`, on the host's KVM or inside the sandbox's. Every subtest must pass: none may skip."""
import os
import subprocess

import pytest

pytestmark = pytest.mark.kvm


def test_vmm_unit_tests_on_real_kvm(build):
    exe = build / "tests/unit/vmm/test-vmm-kvm"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP"))
    assert r.returncode == 0, r.stdout + r.stderr
    results = [ln for ln in r.stdout.splitlines() if ln.startswith(("ok ", "not ok "))]
    assert results, r.stdout
    assert all(ln.startswith("ok ") and "# SKIP" not in ln.upper() for ln in results), r.stdout
