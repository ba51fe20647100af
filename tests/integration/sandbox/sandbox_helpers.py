"""Helpers for the tests of the sandbox VM harness (tests/sandbox); a uniquely named module so
that test files can import it (every test folder has its own conftest.py)."""
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[3]
SANDBOX_RUN = REPO / "tests/sandbox/run"
SANDBOX_RUN_PYTEST = REPO / "tests/sandbox/run-pytest"


def run_sandbox(*args, timeout=300, env=None, cwd=None):
    """Run tests/sandbox/run with ARGS on the host; returns the CompletedProcess (text)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([str(SANDBOX_RUN), *args], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd or str(REPO))
