"""Shared fixtures for hull's integration tests (pytest, as root, driving the real binaries).

The build directory comes from $HULL_BUILD_DIR (scripts/test sets it), else ./build-test or
./build. Tests that need cgroup v2 or a working /dev/kvm are marked `sandbox`: scripts/test
runs them inside the sandbox VM (tests/sandbox), and on the host they are deselected.
"""
import ctypes
import os
import pathlib
import shutil
import subprocess

import pytest

import hostcheck

REPO = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    env = os.environ.get("HULL_BUILD_DIR")
    if env:
        return pathlib.Path(env)
    for name in ("build-test", "build"):
        if (REPO / name / "build.ninja").exists():
            return REPO / name
    raise RuntimeError("no build directory: run scripts/test or set HULL_BUILD_DIR")


def private_netns():
    """Run the whole session in a network namespace of its own, with loopback up.

    `hull run` puts containers on the `bridge` network by default: netavark then makes a
    bridge, veths and firewall rules in the namespace hull runs in. Every hull the tests start
    is a child of this process, so all of that lands in this namespace and vanishes with it;
    the host's interfaces and firewall are never touched (docs/testing.md "Networks").
    HULL_TEST_HOST_NETNS=1 keeps the host's namespace (only for debugging)."""
    if os.environ.get("HULL_TEST_HOST_NETNS") == "1" or os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        raise RuntimeError(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.environ["HULL_TEST_PRIVATE_NETNS"] = "1"  # hostcheck.py: net.* is not the host's


def pytest_configure(config):
    private_netns()
    config.addinivalue_line("markers", "sandbox: needs cgroup v2 or a usable /dev/kvm; runs inside tests/sandbox")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "net: bridge networks and published ports, each test in "
                            "a network namespace of its own (tests/integration/net)")
    config.addinivalue_line("markers", "kvm: needs a working /dev/kvm; on a host without one "
                            "scripts/test runs it inside tests/sandbox")


@pytest.fixture(scope="session")
def build():
    return build_dir()


@pytest.fixture(scope="session")
def hull_oci(build):
    return str(build / "src/cli/hull-oci")


@pytest.fixture(scope="session")
def hull(build):
    return str(build / "src/cli/hull")


@pytest.fixture(scope="module", autouse=True)
def host_untouched(request):
    """Fail the module when it changed the host: its sysctls, /dev/null and friends, the
    limits of the root cgroups (hostcheck.py). HULL_HOST_CHECK=0 turns it off (e.g. while
    other programs on the machine change them)."""
    if os.environ.get("HULL_HOST_CHECK", "1") == "0" or os.geteuid() != 0:
        yield
        return
    before = hostcheck.snapshot()
    yield
    diffs = hostcheck.compare(before, hostcheck.snapshot())
    if diffs:
        pytest.fail(f"{request.module.__name__} changed the host:\n  " + "\n  ".join(diffs),
                    pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.skip("integration tests run as root")


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None


def cgroup_version() -> int:
    """2 on a pure cgroup v2 host (the sandbox), 1 on a v1 or hybrid host (this host)."""
    return 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1
