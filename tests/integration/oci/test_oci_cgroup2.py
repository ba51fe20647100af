"""On a pure cgroup v2 host (the sandbox VM): the cgroup mount and the cgroup namespace as a
container sees them. This host is hybrid, so these run inside tests/sandbox."""
import os

import pytest

from ocilib import find_mount, mountinfo, sh

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                       reason="needs a pure cgroup v2 host (run in tests/sandbox)"),
]


def test_cgroup2_mount_in_cgroup_namespace(rt, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    bundle.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                    "source": "cgroup",
                                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    bundle.set_args(*sh("cat /proc/self/cgroup; cat /proc/self/mountinfo"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0::/"
    m = find_mount(mountinfo(r.stdout), "/sys/fs/cgroup")
    assert m["fstype"] == "cgroup2"
    assert {"ro", "nosuid", "nodev", "noexec"} <= m["opts"]
    assert m["root"] == "/"


def test_cgroup2_readwrite_mount_lists_controllers(rt, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
    bundle.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                    "source": "cgroup", "options": ["nosuid", "noexec", "nodev"]})
    bundle.set_args(*sh("cat /sys/fs/cgroup/cgroup.controllers; cat /proc/self/mountinfo"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    m = find_mount(mountinfo(r.stdout), "/sys/fs/cgroup")
    assert m["fstype"] == "cgroup2" and "rw" in m["opts"]
