"""Bad input (issue 2 item 7): one clear error line naming the file and the field, a non-zero
exit, and nothing left behind (no state dir under --root, no mounts, no processes).

runc's wording differs from hull's; for every runtime the tests check the exit status, that
something was said on stderr and that nothing was left; for hull-oci they also check that the
one line names config.json and the field."""
import json
import os

import pytest

from ocilib import default_config


def mutate(path, value):
    """Return a mutator setting config[path...] = value (a dotted path; ints index lists)."""
    def f(cfg):
        keys = path.split(".")
        node = cfg
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
        last = keys[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
        return cfg
    return f


def delete(path):
    def f(cfg):
        keys = path.split(".")
        node = cfg
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        del node[keys[-1]]
        return cfg
    return f


# (case id, mutator of the default config, field words hull's message must contain)
CASES = [
    ("args-not-array", mutate("process.args", "/bin/true"), ["args"]),
    ("args-empty", mutate("process.args", []), ["args"]),
    ("uid-string", mutate("process.user.uid", "0"), ["uid"]),
    ("uid-negative", mutate("process.user.uid", -1), ["uid"]),
    ("env-not-strings", mutate("process.env", [1, 2]), ["env"]),
    ("hostname-number", mutate("hostname", 5), ["hostname"]),
    ("root-missing", delete("root"), ["root"]),
    ("root-path-number", mutate("root.path", 7), ["path"]),
    ("rootfs-missing", mutate("root.path", "no-such-rootfs"), ["root", "path"]),
    ("unknown-namespace", lambda c: c["linux"]["namespaces"].append({"type": "bogus"}) or c,
     ["namespaces", "bogus"]),
    ("namespace-type-number", lambda c: c["linux"]["namespaces"].append({"type": 3}) or c,
     ["namespaces"]),
    ("namespace-duplicate", lambda c: c["linux"]["namespaces"].append({"type": "pid"}) or c,
     ["namespaces", "pid"]),
    ("namespace-path-relative",
     lambda c: c["linux"]["namespaces"].append({"type": "cgroup", "path": "proc/1/ns/cgroup"})
     or c, ["path"]),
    ("cwd-relative", mutate("process.cwd", "tmp"), ["cwd"]),
    ("mounts-not-array", mutate("mounts", {"destination": "/x"}), ["mounts"]),
    ("mount-no-destination", lambda c: c["mounts"].append({"type": "tmpfs", "source": "t"}) or c,
     ["destination"]),
    ("mount-options-string",
     lambda c: c["mounts"].append({"destination": "/x", "type": "tmpfs", "source": "t",
                                   "options": "ro"}) or c, ["options"]),
    ("rlimit-unknown",
     mutate("process.rlimits", [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
     ["RLIMIT_BOGUS"]),
    ("rlimit-soft-above-hard",
     mutate("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 10}]),
     ["RLIMIT_NOFILE"]),
    ("hook-path-relative",
     mutate("hooks", {"createRuntime": [{"path": "bin/true"}]}), ["path"]),
    ("device-type-bad",
     mutate("linux.devices", [{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}]),
     ["type"]),
    ("device-path-relative",
     mutate("linux.devices", [{"path": "dev/x", "type": "c", "major": 1, "minor": 3}]),
     ["path"]),
    ("uidmapping-without-userns",
     mutate("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": "big"}]),
     ["size"]),
    ("oomscoreadj-range", mutate("process.oomScoreAdj", 5000), ["oomScoreAdj"]),
]


def only_line(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one error line, got: {stderr!r}"
    return lines[0]


def check_failure(rt, r, leftovers, cid, words):
    assert r.returncode != 0
    assert r.stderr.strip(), "no error message"
    if rt.is_hull:
        line = only_line(r.stderr)
        assert "config.json" in line, line
        for w in words:
            assert w in line, f"{w!r} not named in: {line}"
    leftovers(rt, cid)


@pytest.mark.parametrize("case,fix,words", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("cmd", ["create", "run"])
def test_bad_config(rt, bundle, leftovers, case, fix, words, cmd):
    bundle.write(fix(default_config()))
    cid = rt.new_id()
    if cmd == "create":
        r = rt.create(cid, bundle, check=False)
    else:
        r = rt.run(cid, bundle)
    if r.returncode == 0 and not rt.is_hull and case in LENIENT.get(rt.name, ()):
        pytest.skip(f"{rt.name} accepts {case}")
    check_failure(rt, r, leftovers, cid, words)


# What runc 1.1 accepts without complaint (hull-oci must reject it): recorded, not hidden.
LENIENT = {
    "runc": {"device-path-relative"},
}


def test_malformed_json(rt, bundle, leftovers):
    bundle.config_path.write_text('{"ociVersion": "1.0.2", "process": {')
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    check_failure(rt, r, leftovers, cid, [])


def test_config_not_an_object(rt, bundle, leftovers):
    bundle.config_path.write_text("[1, 2, 3]")
    cid = rt.new_id()
    check_failure(rt, rt.create(cid, bundle, check=False), leftovers, cid, [])


def test_missing_config(rt, bundle, leftovers):
    bundle.config_path.unlink()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    if rt.is_hull:
        assert "config.json" in only_line(r.stderr)
    leftovers(rt, cid)


def test_missing_bundle_dir(rt, workdir, leftovers):
    cid = rt.new_id()
    r = rt("create", "--bundle", str(workdir / "nope"), cid)
    assert r.returncode != 0 and r.stderr.strip()
    leftovers(rt, cid)


def test_missing_executable(rt, bundle, leftovers):
    bundle.set_args("/bin/no-such-binary")
    cid = rt.new_id()
    r = rt.run(cid, bundle)
    assert r.returncode != 0
    assert "no-such-binary" in r.stderr
    leftovers(rt, cid)


@pytest.mark.parametrize("bad_id", ["a/b", "../escape", "..", ".", "", "x" * 1025,
                                    "has space", "new\nline"],
                         ids=["slash", "dotdot-slash", "dotdot", "dot", "empty", "too-long",
                              "space", "newline"])
def test_invalid_container_ids(rt, bundle, leftovers, bad_id):
    before = set(os.listdir(rt.root)) if rt.root.exists() else set()
    r = rt.create(bad_id, bundle, check=False)
    assert r.returncode != 0
    assert r.stderr.strip()
    if rt.is_hull:
        only_line(r.stderr)
    after = set(os.listdir(rt.root)) if rt.root.exists() else set()
    assert after == before
    assert not os.path.exists(rt.root.parent / "escape")
    leftovers(rt)


def test_duplicate_id(rt, bundle, leftovers):
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    st = rt.state(cid)
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    assert cid in r.stderr or "exist" in r.stderr.lower()
    if rt.is_hull:
        only_line(r.stderr)
    # the first container is untouched
    assert rt.state(cid) == st
    assert os.path.exists(f"/proc/{st['pid']}")


def test_bundle_config_is_not_modified(rt, bundle):
    before = bundle.config_path.read_bytes()
    rt.run(rt.new_id(), bundle)
    assert bundle.config_path.read_bytes() == before


def test_unknown_command_and_missing_id(rt):
    r = rt("no-such-command")
    assert r.returncode != 0 and r.stderr.strip()
    for cmd in ("start", "state", "kill", "delete", "create"):
        r = rt(cmd)
        assert r.returncode != 0, cmd
        assert r.stderr.strip(), cmd


def test_unknown_fields_are_ignored(rt, bundle):
    """The spec allows unknown properties: they must not be errors."""
    cfg = default_config()
    cfg["x-vendor-field"] = {"a": 1}
    cfg["process"]["x-extra"] = True
    cfg["annotations"] = {"org.example.key": "value"}
    bundle.write(cfg)
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr


def test_state_json_written_atomically(rt, bundle):
    """The persisted state is a complete JSON document whenever it exists."""
    bundle.set_args("/bin/sleep", "1000")
    cid = rt.new_id()
    rt.create(cid, bundle)
    d = rt.root / cid
    files = [d / f for f in os.listdir(d)] if d.is_dir() else [d]
    jsons = [f for f in files if f.name.endswith(".json") and f.is_file()]
    assert jsons, f"no state file under {d}"
    for f in jsons:
        json.loads(f.read_text())
    leftover_tmp = [f for f in files if ".tmp" in f.name or f.name.startswith(".")]
    assert not leftover_tmp, leftover_tmp
