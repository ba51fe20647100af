"""What the integration tests must leave as they found it on the host (issue 12 item 9): the
sysctls, a few device nodes and the limits of the root cgroups. tests/integration/conftest.py
snapshots them before and after each test module (`host_untouched`) and fails the module when
something changed. A unique module name: pytest puts every test folder on sys.path.

Cheap on purpose (a few tens of ms per module): one read of each file, no subprocess.
"""
import fnmatch
import os
import stat

# sysctls that change by themselves (counters, random values, kernel self-tuning) or that hull
# changes on purpose as docker does (forwarding, for the networks of `hull run`). Prefixes of
# the dotted key.
SYSCTL_IGNORE = (
    "kernel.random.",                 # entropy_avail, uuid (new on every read)
    "kernel.ns_last_pid",             # the last pid handed out
    "kernel.pty.nr",                  # ptys in use
    "kernel.perf_event_max_sample_rate",  # the kernel lowers it when perf runs slow
    "kernel.tainted",                 # other programs on the machine load modules
    "fs.dentry-state", "fs.inode-nr", "fs.inode-state", "fs.file-nr", "fs.aio-nr",
    "fs.quota.",                      # usage counters
    "fs.fscache.",
    "net.netfilter.nf_conntrack_count",
    "vm.stat_refresh",                # write-only trigger
    # Forwarding: netavark, CNI (podman, containerd in test_oci_clients) and docker turn it on
    # for their networks and leave it on; net.ipv4.ip_forward sets every interface's
    # forwarding and clears conf.all.accept_redirects with it (inet_forward_change()).
    "net.ipv4.ip_forward", "net.ipv4.conf.all.accept_redirects",
)
SYSCTL_IGNORE_GLOBS = ("net.ipv4.conf.*.forwarding", "net.ipv6.conf.*.forwarding")
# Keys that appear or go with an interface or a module (net.ipv4.conf.veth0.*) are compared
# only when present in both snapshots: their coming and going is not a change of a setting.

DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")

# cgroup knobs that are not limits: membership, triggers, counters that a write resets.
CG_SKIP_NAMES = {"cgroup.procs", "tasks", "cgroup.threads", "cgroup.kill", "cgroup.event_control",
                 "memory.force_empty", "memory.reclaim", "memory.oom_control",
                 "memory.pressure_level", "blkio.reset_stats", "cgroup.pressure"}
CG_SKIP_PARTS = ("max_usage", "failcnt", "cpuacct.", ".pressure", ".peak", "stat")


def private_netns():
    """True when this session runs in a network namespace of its own (conftest.py makes one):
    the net.* sysctls it sees are then not the host's."""
    return os.environ.get("HULL_TEST_PRIVATE_NETNS") == "1"


def sysctl_key_ignored(key):
    if key.startswith("net.") and private_netns():
        return True
    return key.startswith(SYSCTL_IGNORE) or \
        any(fnmatch.fnmatchcase(key, g) for g in SYSCTL_IGNORE_GLOBS)


def sysctls(root="/proc/sys"):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            key = path[len(root) + 1:].replace("/", ".")
            if sysctl_key_ignored(key):
                continue
            try:
                with open(path, "rb") as f:
                    out[key] = f.read(4096)
            except OSError:
                pass  # write-only or refusing to be read (stable_secret): nothing to compare
    return out


def devices():
    out = {}
    for d in DEVICES:
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            out[d] = None
            continue
        out[d] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                  st.st_rdev)
    return out


def cgroup_knob(name):
    return name not in CG_SKIP_NAMES and not any(p in name for p in CG_SKIP_PARTS)


def root_cgroup_dirs(top="/sys/fs/cgroup"):
    """The root cgroup of every hierarchy (v1: /sys/fs/cgroup/<h>; v2: /sys/fs/cgroup)."""
    if os.path.exists(os.path.join(top, "cgroup.controllers")):
        return [top]
    dirs = []
    try:
        for name in sorted(os.listdir(top)):
            p = os.path.join(top, name)
            if os.path.isdir(p) and not os.path.islink(p) and os.path.ismount(p):
                dirs.append(p)
    except OSError:
        pass
    return dirs


def cgroup_limits(top="/sys/fs/cgroup"):
    """The writable knobs of the root cgroups (limits, weights, cpusets, device lists...)."""
    out = {}
    for d in root_cgroup_dirs(top):
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            path = os.path.join(d, name)
            try:
                st = os.stat(path)
                knob = st.st_mode & 0o200 and st.st_mode & 0o444 and cgroup_knob(name)
                # devices.list: the v1 device rules, set through write-only allow/deny
                if not stat.S_ISREG(st.st_mode) or not (knob or name == "devices.list"):
                    continue
                with open(path, "rb") as f:
                    out[path] = f.read(65536)
            except OSError:
                pass
    return out


def snapshot():
    return {"sysctl": sysctls(), "device": devices(), "cgroup": cgroup_limits()}


def compare(before, after):
    """The differences between two snapshots, one line each: only keys present in both are
    compared (see above), except devices, which must all stay."""
    diffs = []
    for kind in ("sysctl", "cgroup"):
        b, a = before.get(kind, {}), after.get(kind, {})
        for key in sorted(b.keys() & a.keys()):
            if b[key] != a[key]:
                diffs.append(f"{kind} {key}: {b[key]!r} -> {a[key]!r}")
    b, a = before.get("device", {}), after.get("device", {})
    for key in sorted(b.keys() | a.keys()):
        if b.get(key) != a.get(key):
            diffs.append(f"device {key}: {describe_dev(b.get(key))} -> {describe_dev(a.get(key))}")
    return diffs


def describe_dev(v):
    if v is None:
        return "missing"
    fmt, mode, uid, gid, rdev = v
    kind = {stat.S_IFCHR: "char", stat.S_IFBLK: "block", stat.S_IFREG: "regular file",
            stat.S_IFDIR: "directory", stat.S_IFLNK: "symlink"}.get(fmt, oct(fmt))
    return f"{kind} {mode:o} {uid}:{gid} {os.major(rdev)}:{os.minor(rdev)}"
