"""bench/vm-net's command line: --help and the argument checks, which all come before any
namespace, VM or sandbox is made (the benchmark itself is never run by the tests)."""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "bench/vm-net")


def run(*args, env=None):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_help():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for opt in ("--rounds", "--mib", "--echoes", "--memory", "--hull", "--build",
                "--qemu-machine", "--no-qemu"):
        assert opt in r.stdout
    assert "--inside" not in r.stdout


@pytest.mark.parametrize("args, msg", [
    (["--rounds", "0"], "--rounds: 0: expected 1 to 50"),
    (["--rounds", "51"], "--rounds: 51: expected 1 to 50"),
    (["--rounds", "x"], "--rounds: 'x': not a number"),
    (["--mib", "0"], "--mib: 0: expected 1 to 4096"),
    (["--echoes", "-1"], "--echoes: -1: expected 1 to 100000"),
    (["--memory", "64"], "--memory: 64: expected 128 to 4096"),
    (["--qemu-machine", "pc"], "--qemu-machine: invalid choice: 'pc'"),
    (["--hull", "/nonexistent/hull"], "--hull: no executable /nonexistent/hull"),
    (["--build", "/nonexistent"], "--build: no executable /nonexistent/src/cli/hull"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_arguments(args, msg, tmp_path):
    """Exit 2 with argparse's usage and one error line naming the option; nothing is left in
    the temporary directory nor as a network namespace."""
    before = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = run(*args, env=env)
    assert r.returncode == 2, r
    err = [line for line in r.stderr.splitlines() if "error:" in line]
    assert len(err) == 1 and msg in err[0], r.stderr
    assert list(tmp_path.iterdir()) == []
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "hull-bench-net-" not in after.replace(before, "")
