"""Read-only really read-only under /sys (issue 12 item 3): whichever way /sys reaches the
container (a sysfs mount, the bind of the host's /sys when a user namespace without its own
network namespace cannot mount sysfs, an explicit rbind of /sys) and whatever its cgroup mount
(none, ro, rw), no mount under /sys that belongs to the host is writable, and nosuid, nodev,
noexec hold on every one of them: the flags cover every submount of the bind.

The check is the container's own mountinfo (every mount there, covered ones included, since a
flag missing on one is a hole as soon as what covers it goes), plus two real attempts on the
host's cgroup tree: moving the shell into a host cgroup, and creating a file in the tmpfs at
/sys/fs/cgroup (checked on the host: a runtime's own tmpfs there may be writable).
Runtime-agnostic (runc and crun); where they differ the case is marked."""
import os

import pytest

from ocilib import mountinfo, sh
from test_oci_userns import userns

SYSFS_MODES = ["sysfs", "sysfs-userns", "fallback", "rbind", "rbind-userns"]
CGROUP_MODES = ["none", "ro", "rw"]
RESTRICT = {"ro", "nosuid", "nodev", "noexec"}
PROBE = "/sys/fs/cgroup/hull-ro-probe"

SCRIPT = ("cat /proc/self/mountinfo; echo ===; "
          "(echo $$ > /sys/fs/cgroup/pids/cgroup.procs) 2>/dev/null && echo MOVED; "
          f"touch {PROBE} 2>/dev/null && echo TOUCHED; true")


def configure(bundle, sysfs, cgroup):
    c = bundle.config
    if sysfs in ("sysfs-userns", "rbind-userns"):
        userns(bundle)
    elif sysfs == "fallback":
        userns(bundle, netns=False)
    if sysfs.startswith("rbind"):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys"] + [
            {"destination": "/sys", "type": "bind", "source": "/sys",
             "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]}]
    if cgroup != "none":
        c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                            "source": "cgroup",
                            "options": ["nosuid", "noexec", "nodev", "relatime", cgroup]})
    bundle.set_args(*sh(SCRIPT))


def host_sys_devs():
    """The devices (major:minor) of the host's mounts under /sys: a container mount with one
    of these is the host's file system; any other (a fresh sysfs of the container's network
    namespace, the tmpfs a runtime makes to hold cgroup mounts) is the container's own."""
    with open("/proc/self/mountinfo") as f:
        return {line.split()[2] for line in f
                if line.split()[4] == "/sys" or line.split()[4].startswith("/sys/")}


def is_hole(m, cgroup, devs):
    """A mount under /sys of the host's, without every restricting flag. With a rw cgroup
    mount, the container's own cgroups (a hierarchy bound from below the host's root) are
    writable by request."""
    if m["mountpoint"] != "/sys" and not m["mountpoint"].startswith("/sys/"):
        return False
    if RESTRICT <= m["opts"] or m["dev"] not in devs:
        return False
    return not (cgroup == "rw" and m["fstype"].startswith("cgroup") and m["root"] != "/")


@pytest.mark.parametrize("cgroup", CGROUP_MODES)
@pytest.mark.parametrize("sysfs", SYSFS_MODES)
def test_sys_read_only_everywhere(rt, bundle, sysfs, cgroup, request):
    if sysfs.startswith("rbind") and not rt.is_hull:
        request.applymarker(pytest.mark.xfail(
            reason=f"{rt.name}: ro on an rbind covers the top mount only", strict=False))
    if sysfs == "fallback" and rt.name == "crun":
        request.applymarker(pytest.mark.xfail(
            reason="crun 1.8.1: the /sys bind's submounts stay writable", strict=False))
    configure(bundle, sysfs, cgroup)
    try:
        r = rt.run(rt.new_id(), bundle)
        if r.returncode != 0 and not rt.is_hull and "sysfs" in r.stderr:
            return  # runc 1.1.5 has no sysfs fallback: it refuses, which leaves no hole
        assert r.returncode == 0, r.stderr
        info, _, probes = r.stdout.partition("===")
        devs = host_sys_devs()
        mounts = mountinfo(info)
        for m, line in zip(mounts, [x for x in info.splitlines() if " - " in x]):
            m["dev"] = line.split()[2]
        bad = [f"{m['mountpoint']} ({m['fstype']}, {','.join(sorted(m['opts']))})"
               for m in mounts if is_hole(m, cgroup, devs)]
        assert not bad, f"host mounts under /sys without {sorted(RESTRICT)}: {bad}"
        if cgroup != "rw":
            assert "MOVED" not in probes, "moved into a host cgroup"
    finally:
        if os.path.exists(PROBE):
            os.remove(PROBE)
            pytest.fail(f"the container created {PROBE} on the host")
