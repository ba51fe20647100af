"""inspect's HostConfig.SecurityOpt as the user typed it (docker's shape, docs/engine.md
"Security"): the --security-opt values in order, duplicates and old spellings kept, null
without any; kept in the record (hull.json "SecurityOptGiven") across starts; a record from
before it still loads and shows what hull understood. podman 4.3 rebuilds the list from what
it understood (its own order, no duplicates, "no-new-privileges:true" normalized,
systempaths and "=false" dropped, [] for none): compared as sets where it agrees."""
import json
import os
import random

import pytest

NET = ("--network", "none")
VALID = ["seccomp=unconfined", "no-new-privileges", "no-new-privileges:true",
         "no-new-privileges=false", "label=disable", "label:disable", "apparmor=unconfined",
         "systempaths=unconfined", "label=type:svirt_apache_t", "label=level:s0:c100,c200"]


def opts(values):
    return [a for v in values for a in ("--security-opt", v)]


def shown(h, name):
    return json.loads(h.out("inspect", name))[0]["HostConfig"]["SecurityOpt"]


def test_security_opt_verbatim(bb):
    given = ["seccomp=unconfined", "no-new-privileges", "label=disable"]
    bb.run("create", *NET, "--name", "a", *opts(given), "busybox", "true")
    assert shown(bb, "a") == given
    odd = ["no-new-privileges:true", "seccomp=unconfined", "seccomp=unconfined",
           "label=disable", "apparmor=unconfined", "systempaths=unconfined",
           "no-new-privileges=false"]
    bb.run("create", *NET, "--name", "b", *opts(odd), "busybox", "true")
    assert shown(bb, "b") == odd
    # what it means still applies: the last no-new-privileges wins (false)
    cfg = json.loads((bb.root / "containers" / bb.inspect("b")["Id"] / "config.json")
                     .read_text())
    assert not cfg["process"].get("noNewPrivileges", False)
    bb.run("create", *NET, "--name", "c", "--privileged", "busybox", "true")
    assert shown(bb, "c") is None
    # through a run: the record keeps it across start and exit
    bb.run("run", *NET, "--name", "d", *opts(given), "busybox", "true")
    bb.run("start", "-a", "d")
    assert shown(bb, "d") == given
    bb.run("rm", "a", "b", "c", "d")


def test_security_opt_random_sequences(bb):
    seed = int(os.environ.get("HULL_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    for i in range(8):
        given = [rng.choice(VALID) for _ in range(rng.randrange(1, 7))]
        bb.run("create", *NET, "--name", f"r{i}", *opts(given), "busybox", "true")
        assert shown(bb, f"r{i}") == given, (seed, given)
    bb.run("rm", *[f"r{i}" for i in range(8)])


def test_refused_security_opt_leaves_nothing(bb):
    for bad in ("seccomp", "bogus=1", "systempaths=confined", "no-new-privileges=maybe"):
        r = bb.run("create", *NET, "--name", "x", "--security-opt", "label=disable",
                   "--security-opt", bad, "busybox", "true", check=False)
        assert r.returncode == 125 and "--security-opt" in r.stderr, (bad, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    assert bb.out("ps", "-a", "-q") == ""


def test_record_without_given_list_still_loads(bb):
    cid = bb.out("create", *NET, "--name", "old", *opts(["no-new-privileges:true",
                                                       "seccomp=unconfined", "label=disable"]),
                 "busybox", "true").strip()
    path = bb.root / "containers" / cid / "hull.json"
    rec = json.loads(path.read_text())
    assert rec["SecurityOptGiven"] == ["no-new-privileges:true", "seccomp=unconfined",
                                       "label=disable"]
    # what an older hull understood stays in HostConfig, for an older hull reading this record
    assert rec["HostConfig"]["SecurityOpt"] == ["seccomp=unconfined", "no-new-privileges"]
    del rec["SecurityOptGiven"]
    tmp = path.with_name("hull.json.tmp")
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, path)
    assert shown(bb, "old") == ["seccomp=unconfined", "no-new-privileges"]
    bb.run("start", "-a", "old")
    bb.run("rm", "old")


@pytest.fixture
def podman_bb(bb, podman, tmp_path):
    arch = tmp_path / "bb.tar"
    bb.run("save", "-o", arch, "busybox")
    podman("load", "-i", arch)
    return podman


@pytest.mark.parametrize("given", [
    ["seccomp=unconfined", "no-new-privileges", "label=disable"],
    ["apparmor=unconfined", "label=disable"],
    ["label=disable", "seccomp=unconfined"],
])
def test_security_opt_as_podman_where_it_agrees(bb, podman_bb, given):
    bb.run("create", *NET, "--name", "p", *opts(given), "busybox", "true")
    mine = shown(bb, "p")
    bb.run("rm", "p")
    name = "secopt-" + "".join(c for c in "-".join(given) if c.isalnum())
    podman_bb("rm", "-f", name, check=False)
    podman_bb("create", "--name", name, *opts(given), "localhost/busybox:latest", "true")
    try:
        theirs = json.loads(podman_bb("inspect", name).stdout)[0]["HostConfig"]["SecurityOpt"]
    finally:
        podman_bb("rm", "-f", name, check=False)
    assert mine == given  # docker's: as typed, in order
    assert sorted(theirs) == sorted(mine)  # podman: the same strings, in its own order
