"""Fixtures for the tests of the sandbox VM harness (tests/sandbox)."""
import pytest

from sandbox_helpers import run_sandbox


@pytest.fixture(scope="session")
def sandbox_available():
    """Skip when this host cannot run the sandbox (no QEMU or no kernel: run exits 77)."""
    r = run_sandbox("--timeout", "120", "--", "true")
    if r.returncode == 77:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, f"tests/sandbox/run -- true: exit {r.returncode}\n{r.stderr}"
    assert r.stdout == ""
    return True
