"""Security defaults as docker's (issue 15 item 5): the default seccomp profile (docker's
semantics: what it refuses with EPERM, the ENOSYS of clone3, argument and capability rules),
--security-opt seccomp=unconfined|FILE and no-new-privileges, --privileged, --device,
--group-add, --sysctl, --ulimit, and bad values of each (exit 125, one line naming the flag,
nothing created).

The container's program is tests/helpers/sysc (one raw system call, its errno printed)
beside busybox; syscall numbers are x86_64's."""
import json
import os
import platform
import random
import shutil
import subprocess

import pytest

from engine_helpers import make_rootfs

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="syscall numbers are x86_64's")

NR = {"add_key": 248, "request_key": 249, "keyctl": 250, "perf_event_open": 298,
      "personality": 135, "unshare": 272, "clone": 56, "clone3": 435, "socket": 41,
      "mount": 165, "kcmp": 312, "getpid": 39, "reboot": 169, "acct": 163}
EPERM, EFAULT, ENOSYS = 1, 14, 38
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
AF_UNIX, AF_VSOCK, SOCK_STREAM = 1, 40, 1


@pytest.fixture(scope="module")
def sec_tar(build, tmp_path_factory):
    base = tmp_path_factory.mktemp("sec")
    root = make_rootfs(base / "rootfs")
    shutil.copy(build / "tests/helpers/sysc", root / "bin/sysc")
    out = base / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(out), "."],
                   check=True)
    return out


@pytest.fixture
def sec(hull_store, sec_tar):
    hull_store.run("import", sec_tar, "sec", "--change", 'CMD ["/bin/sh"]')
    yield hull_store
    # nothing left behind by the tests' run --rm and failed creates
    assert hull_store.out("ps", "-a", "-q") == ""


def run(h, *args, flags=()):
    return h.run("run", "--rm", "--network", "none", *flags, "sec", *args, check=False)


def sysc(h, name, *args, flags=()):
    r = run(h, "sysc", NR[name], *map(str, args), flags=flags)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    return 0 if out == "ok" else int(out.split()[1])


# --- the default profile -------------------------------------------------------------


@pytest.mark.parametrize("name,args,want", [
    ("add_key", (0, 0, 0, 0, 0), EPERM),           # keyrings: in no group of docker's
    ("keyctl", (0, 0), EPERM),
    ("request_key", (0, 0, 0, 0), EPERM),
    ("perf_event_open", (0, 0, -1 & 0xffffffff, -1 & 0xffffffff, 0), EPERM),  # CAP_PERFMON
    ("personality", (0x3,), EPERM),               # not one of the five values allowed
    ("socket", (AF_VSOCK, SOCK_STREAM, 0), EPERM),  # every family but AF_VSOCK
    # CAP_SYS_ADMIN: a user namespace needs no capability from the kernel, the filter
    # refuses it
    ("unshare", (CLONE_NEWUSER,), EPERM),
    ("clone", (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM),  # namespace flags
    ("mount", (0, 0, 0, 0, 0), EPERM),
    ("clone3", (0, 0), ENOSYS),                   # glibc falls back to clone
    ("kcmp", (1, 1, 0, 0, 0), EPERM),             # CAP_SYS_PTRACE
])
def test_default_profile_refuses(sec, name, args, want):
    assert sysc(sec, name, *args) == want


@pytest.mark.parametrize("name,args", [
    ("getpid", ()),
    ("personality", (0xffffffff,)),  # the query
    ("personality", (0x0,)),         # PER_LINUX
    ("personality", (0x8,)),         # PER_LINUX32
    ("socket", (AF_UNIX, SOCK_STREAM, 0)),
    ("clone", (SIGCHLD, 0, 0, 0, 0)),  # a fork
])
def test_default_profile_allows(sec, name, args):
    r = run(sec, "sh", "-c", f"sysc {NR[name]} {' '.join(map(str, args))}; "
            "grep ^Seccomp: /proc/self/status")
    # allowed, under a filter
    assert r.stdout.split() == ["ok", "Seccomp:", "2"], r


def test_unconfined_passes_every_call_to_the_kernel(sec):
    flags = ("--security-opt", "seccomp=unconfined")
    # the kernel's own answer to a NULL pointer, not the filter's EPERM
    assert sysc(sec, "add_key", 0, 0, 0, 0, 0, flags=flags) == EFAULT
    assert sysc(sec, "perf_event_open", 0, 0, 0xffffffff, 0xffffffff, 0,
                flags=flags) == EFAULT
    assert sysc(sec, "personality", 0x3, flags=flags) == 0
    r = run(sec, "grep", "^Seccomp:", "/proc/self/status", flags=flags)
    assert r.stdout.split() == ["Seccomp:", "0"], r.stdout


@pytest.mark.parametrize("cap,name,args,before", [
    ("SYS_ADMIN", "unshare", (CLONE_NEWUSER,), EPERM),
    ("SYS_ADMIN", "clone", (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM),
    ("PERFMON", "perf_event_open", (0, 0, 0xffffffff, 0xffffffff, 0), EPERM),
    ("SYS_PTRACE", "kcmp", (1, 1, 0, 0, 0), EPERM),
])
def test_capability_opens_its_group(sec, cap, name, args, before):
    """docker's includes.caps: the rule is there only with the capability."""
    assert sysc(sec, name, *args) == before
    assert sysc(sec, name, *args, flags=("--cap-add", cap)) not in (EPERM, ENOSYS)


def test_clone3_enosys_only_without_sys_admin(sec):
    assert sysc(sec, "clone3", 0, 0) == ENOSYS
    assert sysc(sec, "clone3", 0, 0, flags=("--cap-add", "SYS_ADMIN")) not in (EPERM, ENOSYS)


def test_config_json_carries_the_resolved_profile(sec):
    def profile(*flags):
        cid = sec.out("create", "--network", "none", *flags, "sec", "true").strip()
        try:
            cfg = json.loads((sec.root / "containers" / cid / "config.json").read_text())
        finally:
            sec.run("rm", cid)
        return cfg["linux"].get("seccomp"), cfg
    p, cfg = profile()
    assert cfg["process"].get("noNewPrivileges") is not True
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = {n for c in p["syscalls"] for n in c["names"]}
    assert {"read", "execve", "clone", "arch_prctl"} <= names
    assert not names & {"add_key", "keyctl", "mount", "unshare", "reboot", "s390_runtime_instr"}
    admin, _ = profile("--cap-add", "SYS_ADMIN")
    names = {n for c in admin["syscalls"] for n in c["names"]}
    assert {"mount", "unshare", "setns"} <= names and "add_key" not in names
    boot, _ = profile("--cap-add", "SYS_BOOT", "--cap-add", "SYS_PACCT")
    names = {n for c in boot["syscalls"] for n in c["names"]}
    assert {"reboot", "acct"} <= names and "mount" not in names
    unconfined, _ = profile("--security-opt", "seccomp=unconfined")
    assert unconfined is None
    priv, cfg = profile("--privileged")
    assert priv is None and cfg["process"].get("noNewPrivileges") is not True


def test_exec_gets_the_filter(sec):
    cid = sec.out("run", "-d", "--network", "none", "sec", "sleep", "1000").strip()
    try:
        r = sec.run("exec", cid, "sysc", NR["add_key"], "0", "0", "0", "0", "0")
        assert r.stdout.strip() == f"errno {EPERM}", r
    finally:
        sec.run("rm", "-f", cid)


# --- a profile file ------------------------------------------------------------------


def test_profile_file_docker_format(sec, tmp_path):
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": None}],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}, "comment": "refused without it"},
            {"name": "add_key", "action": "SCMP_ACT_ERRNO", "errnoRet": 22},
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO",
             "includes": {"arches": ["s390x"]}},
        ]}))
    flags = ("--security-opt", f"seccomp={prof}")
    r = run(sec, "mkdir", "/tmp/d", flags=flags)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    assert run(sec, "mkdir", "/tmp/d", flags=flags + ("--cap-add", "SYS_ADMIN")).returncode == 0
    assert sysc(sec, "add_key", 0, 0, 0, 0, 0, flags=flags) == 22
    assert sysc(sec, "keyctl", 0, 0, flags=flags) != EPERM  # s390x only: left out here


@pytest.mark.parametrize("text,field", [
    ('{"defaultAction": "SCMP_ACT_BOGUS"}', "defaultAction"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], '
     '"action": "SCMP_ACT_NOPE"}]}', "syscalls[0].action"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], '
     '"action": "SCMP_ACT_ALLOW", "includes": {"caps": "CAP_SYS_ADMIN"}}]}',
     "syscalls[0].includes.caps"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], '
     '"action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}',
     "syscalls[0].args[0].index"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], '
     '"archMap": []}', "archMap"),
    ('{"defaultAction": ', "p.json"),
    ('[1, 2]', "p.json"),
])
def test_bad_profile_file(sec, tmp_path, text, field):
    prof = tmp_path / "p.json"
    prof.write_text(text)
    r = run(sec, "true", flags=("--security-opt", f"seccomp={prof}"))
    assert r.returncode == 125, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--security-opt seccomp" in lines[0], r.stderr
    assert str(prof) in lines[0] and field in lines[0], r.stderr


def test_missing_or_special_profile_file(sec, tmp_path):
    for path in (tmp_path / "none.json", tmp_path, "/dev/zero"):
        r = run(sec, "true", flags=("--security-opt", f"seccomp={path}"))
        assert r.returncode == 125 and str(path) in r.stderr, r
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


# --- no-new-privileges ---------------------------------------------------------------


@pytest.mark.parametrize("opt,want", [
    ("no-new-privileges", "1"), ("no-new-privileges=true", "1"),
    ("no-new-privileges:true", "1"), ("no-new-privileges=false", "0"),
])
def test_no_new_privileges(sec, opt, want):
    r = run(sec, "grep", "^NoNewPrivs:", "/proc/self/status", flags=("--security-opt", opt))
    assert r.returncode == 0 and r.stdout.split() == ["NoNewPrivs:", want], r


# --- --privileged ----------------------------------------------------------------------


SYS_WRITE = ("q=$(cat /sys/class/net/lo/tx_queue_len) && "
             "echo $q > /sys/class/net/lo/tx_queue_len && echo wrote")


def test_privileged_host_devices_and_writable_sys(sec):
    host = [d for d in ("loop-control", "vsock", "kvm", "fuse") if os.path.exists(f"/dev/{d}")]
    assert host, "the host has none of the devices looked for"
    script = "; ".join(f"test -c /dev/{d} && echo has-{d}" for d in host)
    r = run(sec, "sh", "-c", script)
    assert "has-" not in r.stdout, r.stdout
    r = run(sec, "sh", "-c", SYS_WRITE)
    assert "wrote" not in r.stdout  # /sys is read-only
    r = run(sec, "sh", "-c", script + "; " + SYS_WRITE + "; grep ^Seccomp: /proc/self/status",
            flags=("--privileged",))
    for d in host:
        assert f"has-{d}" in r.stdout, r
    assert "wrote" in r.stdout and "Seccomp:\t0" in r.stdout, r
    # the device cgroup lets it open a host device it got
    if "loop-control" in host:
        r = run(sec, "sh", "-c", "exec 3</dev/loop-control && echo opened",
                flags=("--privileged",))
        assert "opened" in r.stdout, r


# --- --device, --group-add, --sysctl, --ulimit ----------------------------------------


def test_device(sec):
    r = run(sec, "sh", "-c", "stat -c '%t:%T %F' /dev/mynull && echo hi > /dev/mynull && "
            "echo wrote", flags=("--device", "/dev/null:/dev/mynull"))
    assert r.returncode == 0 and r.stdout.split("\n")[:2] == ["1:3 character special file",
                                                             "wrote"], r
    r = run(sec, "stat", "-c", "%t:%T", "/dev/zero2", flags=("--device", "/dev/zero:/dev/zero2:rw"))
    assert r.stdout.strip() == "1:5", r


@pytest.mark.parametrize("perms,read,write", [
    ("r", True, False), ("w", False, True), ("rw", True, True), ("rwm", True, True),
    ("m", False, False),
])
def test_device_permissions_are_enforced(sec, perms, read, write):
    # /dev/kmsg (1:11) is not among the devices every container may use, so only the
    # rule --device writes (docker's: "c 1:11 PERMS") opens it (reading it also needs
    # CAP_SYSLOG, which docker's default set lacks)
    r = run(sec, "sh", "-c", "(exec 3</dev/k) 2>/dev/null && echo can-read; "
            "(exec 3>/dev/k) 2>/dev/null && echo can-write; true",
            flags=("--cap-add", "SYSLOG", "--device", f"/dev/kmsg:/dev/k:{perms}"))
    assert ("can-read" in r.stdout, "can-write" in r.stdout) == (read, write), r


def test_group_add(sec):
    r = run(sec, "id", "-G", flags=("--group-add", "wheel", "--group-add", "4242",
                                    "--group-add", "users", "--group-add", "10"))
    # the kernel keeps the groups sorted
    assert r.returncode == 0 and r.stdout.split() == ["0", "10", "100", "4242"], r


def test_sysctl(sec):
    r = sec.run("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl",
                "kernel.shmmni=1234", "--sysctl", "fs.mqueue.msg_max=20", "sec", "cat",
                "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni",
                "/proc/sys/fs/mqueue/msg_max", check=False)
    assert r.returncode == 0 and r.stdout.split() == ["1", "1234", "20"], r


def test_ulimit(sec):
    r = run(sec, "sh", "-c", "ulimit -n; ulimit -Hn; grep -E 'open files|processes' "
            "/proc/self/limits", flags=("--ulimit", "nofile=1000:2000", "--ulimit",
                                         "nproc=300"))
    lines = r.stdout.splitlines()
    assert lines[:2] == ["1000", "2000"], r
    assert lines[2].split()[-3:] == ["300", "300", "processes"], r
    assert lines[3].split()[-3:] == ["1000", "2000", "files"], r


BAD = [
    ("--security-opt", "foo=bar"), ("--security-opt", "seccomp"),
    ("--security-opt", "seccomp="), ("--security-opt", "no-new-privileges=yes"),
    ("--security-opt", "systempaths=strict"), ("--security-opt", "apparmor"),
    ("--device", "/etc/passwd"), ("--device", "dev/null"), ("--device", "/dev/null:rx"),
    ("--device", "/dev/null:/dev/x:rwmm"), ("--device", "/dev/null:/dev/x:r:w"),
    ("--device", "/dev/null:rel"), ("--device", "/no/such/dev"),
    ("--group-add", "nosuchgroup"), ("--group-add", "99999999999"), ("--group-add", "a:b"),
    ("--group-add", ""),
    ("--sysctl", "kernel.hostname=x"), ("--sysctl", "vm.swappiness=1"),
    ("--sysctl", "net.ipv4.ip_forward"), ("--sysctl", "net..x=1"),
    ("--sysctl", "net.ipv4/../../x=1"), ("--sysctl", "kernel.shmmax=1\n2"),
    ("--ulimit", "nofile=3000:2000"), ("--ulimit", "nofiles=1"), ("--ulimit", "nofile"),
    ("--ulimit", "nofile=x"), ("--ulimit", "nofile=1:2:3"), ("--ulimit", "nofile=-2"),
]


@pytest.mark.parametrize("flag,value", BAD)
def test_bad_value(sec, flag, value):
    snap = sec.store_snapshot()
    r = run(sec, "true", flags=(flag, value))
    assert r.returncode == 125, r
    lines = r.stderr.strip().splitlines()
    # the flag with its value, as given (control characters shown as ?)
    assert len(lines) == 1 and f"{flag} {value.replace(chr(10), '?')}" in lines[0], r.stderr
    assert sec.store_snapshot() == snap and sec.tmp_is_empty()


def test_sysctl_net_needs_its_own_netns(sec):
    r = sec.run("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1",
                "sec", "true", check=False)
    assert r.returncode == 125 and "--sysctl net.ipv4.ip_forward=1: " in r.stderr, r


GOOD = {
    "--security-opt": ["no-new-privileges", "seccomp=unconfined", "label=disable",
                       "no-new-privileges=false", "apparmor=unconfined"],
    "--device": ["/dev/null", "/dev/zero:/dev/z", "/dev/null:/dev/n:r", "/dev/full:rw"],
    "--group-add": ["wheel", "users", "4242", "0"],
    "--sysctl": ["kernel.shmmni=100", "net.ipv4.ip_forward=0", "fs.mqueue.msg_max=10"],
    "--ulimit": ["nofile=100:200", "nproc=50:60", "core=0", "msgqueue=1000"],
}


def test_random_values_refused_or_accepted_cleanly(sec):
    """Seeded values of each flag, docker's good ones and mutations of them: a good one
    runs, a mutation runs or is refused with exit 125 and one line naming the flag. In
    KEY=VALUE flags only the key is changed: a bad value for a good key is the kernel's
    to refuse when the container starts (as docker's)."""
    rng = random.Random(1515)
    alphabet = "ab/:=.-_01rwm\t, x*\\"
    outcomes = set()
    for _ in range(40):
        flag = rng.choice(sorted(GOOD))
        value = rng.choice(GOOD[flag])
        rest = ""
        if flag in ("--sysctl", "--ulimit"):
            value, rest = value.split("=")
            rest = "=" + rest
        mutated = rng.random() < 0.6
        for _ in range(rng.randint(1, 3) if mutated else 0):
            i = rng.randint(0, len(value))
            op = rng.choice("idr")
            c = rng.choice(alphabet)
            value = value[:i] + (c if op != "d" else "") + value[i + (op != "i"):]
        value += rest
        r = run(sec, "true", flags=(flag, value))
        outcomes.add(r.returncode)
        if not mutated:
            assert r.returncode == 0, (flag, value, r)
        assert r.returncode in (0, 125), (flag, value, r)
        if r.returncode == 125:
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and flag in lines[0], (flag, value, r.stderr)
    assert outcomes == {0, 125}


@pytest.mark.sandbox
def test_device_and_privileged_cgroup_v2(sec):
    """On cgroup v2 the device rules are a BPF program: --device nodes and --privileged's
    host devices must open, others must not."""
    r = run(sec, "sh", "-c", "echo hi > /dev/mynull && echo wrote",
            flags=("--device", "/dev/null:/dev/mynull"))
    assert "wrote" in r.stdout, r
    r = run(sec, "sh", "-c", "mknod /dev/km c 1 11 && exec 3</dev/km && echo opened")
    assert "opened" not in r.stdout, r
    r = run(sec, "sh", "-c", "mknod /dev/km c 1 11 && exec 3</dev/km && echo opened",
            flags=("--privileged",))
    assert "opened" in r.stdout, r
    assert sysc(sec, "add_key", 0, 0, 0, 0, 0) == EPERM
    assert sysc(sec, "unshare", CLONE_NEWUSER) == EPERM
    assert sysc(sec, "unshare", CLONE_NEWUSER, flags=("--cap-add", "SYS_ADMIN")) == 0
