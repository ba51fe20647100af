"""linux.seccomp (issue 4 item 2): every action seen from inside the container, argument
conditions, listenerPath, kills that must not leave the runtime hanging, bad input.

Runtime-agnostic except where marked: runc 1.1.5 hangs forever when the profile kills a
syscall its own init uses before the exec (those tests are hull-only)."""
import errno
import os
import signal

import pytest

from ocilib import sh
from seclib import ALLOW, ERRNO, Listener, status_caps

SIGSYS_EXIT = 128 + signal.SIGSYS


def profile(*rules, default=ALLOW, **extra):
    p = {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
         "syscalls": [dict(r) for r in rules]}
    p.update(extra)
    return p


def with_seccomp(bundle, prof, *args):
    bundle.config["linux"]["seccomp"] = prof
    if args:
        bundle.config["process"]["args"] = list(args)
    bundle.write()


MKDIR = ["mkdir", "mkdirat"]


def test_errno_default_eperm(rt, bundle):
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO}),
                 *sh("mkdir /tmp/d; echo rc=$?; touch /tmp/f && echo touched"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert "Operation not permitted" in r.stdout + r.stderr
    assert "rc=1" in r.stdout and "touched" in r.stdout
    assert not (bundle.rootfs / "tmp/d").exists()


def test_errno_ret(rt, bundle):
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO,
                                  "errnoRet": errno.ENOSPC}),
                 *sh("mkdir /tmp/d"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode != 0
    assert os.strerror(errno.ENOSPC) in r.stderr + r.stdout


def test_kill_in_the_program(rt, bundle):
    """The program's own syscall is killed: run reports SIGSYS (128+31)."""
    with_seccomp(bundle, profile({"names": MKDIR, "action": "SCMP_ACT_KILL"}),
                 "/bin/mkdir", "/tmp/d")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    assert r.returncode == SIGSYS_EXIT, (r.returncode, r.stderr)


def test_kill_process_and_trap(rt, bundle):
    for act in ("SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_KILL_THREAD"):
        with_seccomp(bundle, profile({"names": MKDIR, "action": act}), "/bin/mkdir", "/tmp/d")
        r = rt.run(rt.new_id(), bundle, timeout=30)
        assert r.returncode == SIGSYS_EXIT, (act, r.returncode, r.stderr)
        assert not (bundle.rootfs / "tmp/d").exists()


def test_log_allows(rt, bundle):
    with_seccomp(bundle, profile({"names": MKDIR, "action": "SCMP_ACT_LOG"}),
                 "/bin/mkdir", "/tmp/d")
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert (bundle.rootfs / "tmp/d").is_dir()


def test_trace_without_tracer_is_enosys(rt, bundle):
    """SCMP_ACT_TRACE with no tracer attached: the syscall fails with ENOSYS."""
    with_seccomp(bundle, profile({"names": MKDIR, "action": "SCMP_ACT_TRACE",
                                  "errnoRet": 7}),
                 *sh("mkdir /tmp/d"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode != 0
    assert os.strerror(errno.ENOSYS) in r.stderr + r.stdout


def test_default_errno_ret(rt, bundle):
    """defaultAction ERRNO + defaultErrnoRet: what the profile does not allow fails with
    that errno. The allow list is generous for busybox; mkdir is left out."""
    allowed = ["execve", "brk", "arch_prctl", "set_tid_address", "getpid", "getppid",
               "getuid", "geteuid", "getgid", "getegid", "rt_sigaction", "rt_sigprocmask",
               "rt_sigreturn", "write", "writev", "read", "exit", "exit_group", "ioctl",
               "fcntl", "close", "mmap", "munmap", "mprotect", "uname", "stat", "fstat",
               "newfstatat", "lstat", "open", "openat", "prlimit64", "getrlimit", "umask",
               "statx", "readlink", "access", "getcwd", "wait4", "fork", "vfork", "clone",
               "clone3", "dup2", "dup3", "pipe", "pipe2", "lseek", "poll", "madvise",
               "set_robust_list", "rseq", "getdents64", "sigaltstack", "futex"]
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 installs the filter before its own last steps (fstatfs on "
                    "/proc/self/fd fails with the default errno)")
    with_seccomp(bundle, profile({"names": allowed, "action": ALLOW}, default=ERRNO,
                                 defaultErrnoRet=errno.EXDEV),
                 "/bin/mkdir", "/tmp/d")
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode != 0
    assert os.strerror(errno.EXDEV) in r.stderr, r.stderr


def test_args_conditions_and_or(rt, bundle):
    """kill(pid, SIGUSR1) refused by an args condition (index 1 EQ 10), kill(pid, 0) still
    works. Two conditions on the same index are separate rules (runc): either matches."""
    cond = lambda v: {"index": 1, "value": v, "op": "SCMP_CMP_EQ"}  # noqa: E731
    with_seccomp(bundle, profile({"names": ["kill"], "action": ERRNO,
                                  "args": [cond(10), cond(12)]}),
                 *sh("kill -0 $$ && echo zero-ok; kill -USR1 $$ || echo usr1-refused; "
                     "kill -USR2 $$ || echo usr2-refused; trap 'echo got-hup' HUP; "
                     "kill -HUP $$; echo done"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "zero-ok" in out and "usr1-refused" in out and "usr2-refused" in out, out
    assert "got-hup" in out and "done" in out, out


def test_args_masked_eq_two_args_and(rt, bundle):
    """Conditions on different indices must all hold (AND): kill(1, sig) with sig & 8 == 8
    is refused; kill(1, SIGHUP) (1 & 8 == 0) and a child's kill(self, SIGUSR1) pass. The
    shell is pid 1 of the container's pid namespace."""
    with_seccomp(bundle, profile(
        {"names": ["kill"], "action": ERRNO,
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                  {"index": 1, "value": 8, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}),
        *sh("trap 'echo got-hup' HUP; kill -USR1 1 || echo usr1-refused; kill -HUP 1; "
            "sh -c 'trap \"echo child-usr1\" USR1; kill -USR1 $$; echo child-done'"))
    r = rt.run(rt.new_id(), bundle)
    out = r.stdout
    assert r.returncode == 0, r.stderr
    assert "usr1-refused" in out and "got-hup" in out, out
    assert "child-usr1" in out and "child-done" in out, out


def test_unknown_syscall_name_is_skipped(rt, bundle):
    with_seccomp(bundle, profile({"names": ["no_such_syscall_xyz", "mkdir", "mkdirat"],
                                  "action": ERRNO}),
                 *sh("mkdir /tmp/d || echo refused"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert "refused" in r.stdout


def test_notify_listener(rt, bundle, workdir):
    """SCMP_ACT_NOTIFY: the runtime sends the notify fd with the container process state to
    listenerPath; our agent answers mkdir with EROFS."""
    lp = workdir / "agent.sock"
    agent = Listener(lp, errno.EROFS)
    try:
        with_seccomp(bundle, profile({"names": MKDIR, "action": "SCMP_ACT_NOTIFY"},
                                     listenerPath=str(lp), listenerMetadata="meta-42"),
                     *sh("mkdir /tmp/d; echo rc=$?"))
        if rt.is_hull:  # runc 1.1.5 does not know this flag
            bundle.config["linux"]["seccomp"]["flags"] = [
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
            bundle.write()
        cid = rt.new_id()
        r = rt.run(cid, bundle, timeout=60)
    finally:
        agent.close()
    assert r.returncode == 0, r.stderr
    assert os.strerror(errno.EROFS) in r.stdout + r.stderr, (r.stdout, r.stderr)
    st = agent.state
    assert st["fds"] == ["seccompFd"] and st["metadata"] == "meta-42", st
    assert st["state"]["id"] == cid and st["pid"] > 0, st
    assert len(agent.fds) == 1 and agent.notes, (agent.fds, agent.notes)


@pytest.mark.parametrize("nnp,uid,caps", [
    (False, 0, True), (False, 1000, True), (True, 1000, True), (False, 1000, False),
    (False, 0, False)])
def test_caps_unchanged_by_seccomp(rt, bundle, nnp, uid, caps):
    """Without no_new_privs the filter needs CAP_SYS_ADMIN to load: the program's
    capability sets must still be exactly the configured ones (hull keeps SYS_ADMIN only
    until the filter is in)."""
    proc = bundle.config["process"]
    proc["noNewPrivileges"] = nnp
    proc["user"] = {"uid": uid, "gid": uid}
    if caps:
        proc["capabilities"]["inheritable"] = ["CAP_KILL"]
        proc["capabilities"]["ambient"] = ["CAP_KILL"]
    else:
        del proc["capabilities"]
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO}),
                 *sh("grep Cap /proc/self/status; mkdir /tmp/d || echo refused"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert "refused" in r.stdout
    got = status_caps(r.stdout)
    # Reference: the same bundle without seccomp.
    del bundle.config["linux"]["seccomp"]
    bundle.write()
    ref = rt.run(rt.new_id(), bundle)
    assert ref.returncode == 0, ref.stderr
    assert got == status_caps(ref.stdout), (got, ref.stdout)
    assert not got["CapEff"] >> 21 & 1 or (not caps and uid == 0)


# --- hull-only: runc 1.1.5 hangs in these ------------------------------------------------

def hull_only(rt):
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 hangs forever when the profile kills a syscall of its init")


@pytest.mark.parametrize("names", [["poll", "ppoll"], ["read"], ["fcntl"]])
def test_kill_runtime_syscalls_does_not_hang(rt, bundle, names):
    """The waiter's own poll/read/fcntl are not filtered: it installs the filter right
    before its final execve, so a profile killing them still runs a program that does not
    use them."""
    hull_only(rt)
    with_seccomp(bundle, profile({"names": names, "action": "SCMP_ACT_KILL"}), "/bin/true")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    assert r.returncode == 0, (r.returncode, r.stderr)


def test_kill_execve_run_and_start_return(rt, bundle):
    """A profile that kills execve kills the process at its exec: run returns 128+SIGSYS
    and create/start return, the container ends stopped."""
    hull_only(rt)
    prof = profile({"names": ["execve", "execveat"], "action": "SCMP_ACT_KILL_PROCESS"})
    with_seccomp(bundle, prof, "/bin/true")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    assert r.returncode == SIGSYS_EXIT, (r.returncode, r.stderr)
    cid = rt.new_id()
    rt.create(cid, bundle)
    s = rt("start", cid, timeout=30)
    assert s.returncode == 0, s.stderr
    rt.wait_status(cid, "stopped")


def test_errno_execve(rt, bundle):
    hull_only(rt)
    with_seccomp(bundle, profile({"names": ["execve"], "action": ERRNO}), "/bin/true")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    # docker's code for an exec refused with anything but ENOENT: 126
    assert r.returncode == 126 and "exec /bin/true: operation not permitted" in r.stderr, \
        (r.returncode, r.stderr)


def test_flags(rt, bundle):
    hull_only(rt)
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO},
                                 flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]),
                 *sh("mkdir /tmp/d || echo refused"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0 and "refused" in r.stdout, r.stderr


@pytest.mark.parametrize("mut,field", [
    (lambda p: p["syscalls"][0].update(action="SCMP_ACT_FOO"),
     'linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_FOO"'),
    (lambda p: p.update(defaultAction="nope"), "linux.seccomp.defaultAction"),
    (lambda p: p.update(architectures=["SCMP_ARCH_VAX"]), "linux.seccomp.architectures[0]"),
    (lambda p: p.update(flags=["SECCOMP_FILTER_FLAG_BOGUS"]), "linux.seccomp.flags[0]"),
    (lambda p: p["syscalls"][0].update(args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[0].args[0].index"),
    (lambda p: p["syscalls"][0].update(args=[{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]),
     "linux.seccomp.syscalls[0].args[0].op"),
    (lambda p: p["syscalls"][0].update(action="SCMP_ACT_NOTIFY"),
     "linux.seccomp.listenerPath"),
    (lambda p: p["syscalls"][0].update(action="SCMP_ACT_KILL", errnoRet=1),
     "linux.seccomp.syscalls[0].errnoRet"),
    (lambda p: p["syscalls"][0].pop("names"), "linux.seccomp.syscalls[0].names"),
])
def test_bad_profile(rt, bundle, leftovers, mut, field):
    hull_only(rt)
    prof = profile({"names": MKDIR, "action": ERRNO})
    mut(prof)
    with_seccomp(bundle, prof)
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "config.json: " + field in lines[0], r.stderr
    leftovers(rt, cid)


@pytest.mark.parametrize("nnp", [True, False])
def test_start_container_hook_then_filter(rt, bundle, nnp):
    """With a startContainer hook the init itself waits for start and runs the hook: the
    hook runs unfiltered (its mkdir works), the program under the filter."""
    if not rt.is_hull:
        pytest.skip("runc 1.1.5 runs startContainer hooks under the filter already")
    proc = bundle.config["process"]
    proc["noNewPrivileges"] = nnp
    proc["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["hooks"] = {"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/hook-made"]}]}
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO}),
                 *sh("grep CapEff /proc/self/status; mkdir /tmp/d || echo refused"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    assert "refused" in r.stdout, r.stdout
    assert (bundle.rootfs / "tmp/hook-made").is_dir()
    assert status_caps(r.stdout)["CapEff"] == 0, r.stdout


def test_filter_cache(rt, bundle):
    """hull keeps built filters in <root>/.seccomp-cache (keyed by the profile text): the
    second run of a profile uses the cached BPF and behaves the same; another profile gets
    its own entry; a cache entry whose text does not match is rebuilt, not trusted."""
    hull_only(rt)
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO}),
                 *sh("mkdir /tmp/d || echo refused"))
    cache = rt.root / ".seccomp-cache"
    for _ in range(2):
        r = rt.run(rt.new_id(), bundle)
        assert r.returncode == 0 and "refused" in r.stdout, (r.stdout, r.stderr)
    entries = sorted(cache.iterdir())
    assert len(entries) == 1
    # same name, other text: must not be used (the run would then allow mkdir)
    data = entries[0].read_bytes()
    entries[0].write_bytes(data.replace(b"mkdir", b"mkdiR", 1))
    r = rt.run(rt.new_id(), bundle)
    assert "refused" in r.stdout, r.stdout
    assert b"mkdiR" not in entries[0].read_bytes()  # rewritten with the real profile
    with_seccomp(bundle, profile({"names": MKDIR, "action": ERRNO, "errnoRet": 28}),
                 *sh("mkdir /tmp/d || echo refused"))
    r = rt.run(rt.new_id(), bundle)
    assert "No space left on device" in r.stdout + r.stderr
    assert len(list(cache.iterdir())) == 2


def test_default_kill_allow_list(rt, bundle):
    """A strict profile: default SCMP_ACT_KILL_PROCESS, only the program's own syscalls
    allowed. Nothing of the runtime runs under it (runc's init would be killed by it)."""
    hull_only(rt)
    # what busybox-static true needs (strace), nothing more
    allowed = ["execve", "brk", "arch_prctl", "set_tid_address", "exit_group", "getuid",
               "getrandom", "mprotect", "prctl", "prlimit64", "readlink", "rseq",
               "set_robust_list", "write"]
    with_seccomp(bundle, profile({"names": allowed, "action": ALLOW},
                                 default="SCMP_ACT_KILL_PROCESS"), "/bin/true")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    assert r.returncode == 0, (r.returncode, r.stderr)
    with_seccomp(bundle, profile({"names": allowed, "action": ALLOW},
                                 default="SCMP_ACT_KILL_PROCESS"), "/bin/mkdir", "/tmp/x")
    r = rt.run(rt.new_id(), bundle, timeout=30)
    assert r.returncode == SIGSYS_EXIT, (r.returncode, r.stderr)
