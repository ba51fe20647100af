"""The security flags in `inspect` (docker's HostConfig keys: SecurityOpt, GroupAdd, Sysctls,
Ulimits, Devices), null or empty without them, and unlimited ulimits (-1 / unlimited), which
reach config.json as the number 18446744073709551615 (RLIM_INFINITY)."""
import json

NET = ("--network", "none")
KEYS = ("SecurityOpt", "GroupAdd", "Sysctls", "Ulimits", "Devices")


def host_config(bb, name):
    return json.loads(bb.out("inspect", name))[0]["HostConfig"]


def test_inspect_shows_security_flags(bb):
    bb.run("create", *NET, "--name", "sec", "--security-opt", "seccomp=unconfined",
           "--security-opt", "no-new-privileges:true", "--group-add", "123", "--group-add",
           "root", "--sysctl", "kernel.msgmax=1000", "--ulimit", "nofile=1000:2000",
           "--ulimit", "core=-1", "--device", "/dev/null:/dev/mynull:r", "busybox", "true")
    h = host_config(bb, "sec")
    assert h["SecurityOpt"] == ["seccomp=unconfined", "no-new-privileges:true"]  # as typed
    assert h["GroupAdd"] == ["123", "root"]
    assert h["Sysctls"] == {"kernel.msgmax": "1000"}
    assert h["Ulimits"] == [{"Name": "nofile", "Hard": 2000, "Soft": 1000},
                            {"Name": "core", "Hard": -1, "Soft": -1}]
    assert h["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                             "CgroupPermissions": "r"}]
    bb.run("create", *NET, "--name", "plain", "busybox", "true")
    h = host_config(bb, "plain")
    assert [h[k] for k in KEYS] == [None, None, None, None, []]
    bb.run("rm", "sec", "plain")


def test_unlimited_ulimit_runs(bb):
    # (raising a hard limit past the host's needs CAP_SYS_RESOURCE, which root lacks here:
    # core's hard limit is unlimited on the host)
    for arg in ("core=-1", "core=unlimited", "core=-1:-1", "core=1024:unlimited"):
        r = bb.run("run", "--rm", *NET, "--ulimit", arg, "busybox", "cat", "/proc/self/limits",
                   check=False)
        assert r.returncode == 0, (arg, r.stderr)
        name = "Max core file size"
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(name))
        soft, hard = line[len(name):].split()[:2]
        assert hard == "unlimited", (arg, line)
        assert soft == ("1024" if arg.startswith("core=1024") else "unlimited"), (arg, line)
