"""The container record on disk (issue 14 item 3): versioned hull.json and state.json, and a
newer hull that reads a store written by an older one.

data/store-v0/ holds the records of two containers (one exited after printing, one only
created) as hull wrote them before the typed record (no "Version"), and what `hull inspect`
printed for them then (the store path replaced by @STORE@)."""
import json
import pathlib

import pytest

DATA = pathlib.Path(__file__).parent / "data" / "store-v0"
OLD_IDS = {"exited": "a7d990533e75e8b051f25750ea17fefe50bc1601e87dc127e19d81c77a97c843",
           "created": "61c7cce2035d138248e8980f9f9b5f0362747101b8c17fa6a439e7ae8151ced0"}


def record_files(h, cid):
    d = h.root / "containers" / cid
    return json.loads((d / "hull.json").read_text()), json.loads((d / "state.json").read_text())


def plant_old(h, kind, name):
    """A container made by this hull, whose records are then replaced by the old ones (its
    rootfs, config.json and image stay: they did not change format). Returns its id."""
    old = json.loads((DATA / f"{kind}.hull.json").read_text())
    # config.json decides what runs: the same command as the record's (the created one's
    # "sleep 5" is not waited for)
    cmd = old["Config"]["Cmd"] if kind == "exited" else ["true"]
    cid = h.out("create", "--name", name, "busybox", *cmd).strip()
    new, _ = record_files(h, cid)
    assert "Version" not in old
    old.update(Id=cid, Name=name, ImageID=new["ImageID"], Layers=new["Layers"])
    d = h.root / "containers" / cid
    (d / "hull.json").write_text(json.dumps(old))
    (d / "state.json").write_text((DATA / f"{kind}.state.json").read_text())
    return cid, new


def expected_inspect(h, kind, cid, name, new):
    text = (DATA / f"{kind}.inspect.json").read_text()
    text = text.replace("@STORE@", str(h.root)).replace(OLD_IDS[kind], cid)
    exp = json.loads(text)[0]
    exp.update(Name="/" + name, Image=new["ImageID"], ImageID=new["ImageID"])
    return exp


@pytest.mark.parametrize("kind", ["exited", "created"])
def test_old_store_reads_and_runs(bb, kind):
    name = f"old-{kind}"
    cid, new = plant_old(bb, kind, name)
    got = json.loads(bb.out("inspect", name))[0]
    exp = expected_inspect(bb, kind, cid, name, new)
    # the one key this hull adds to what the old one showed: an old record's network
    # (NetworkMode none, no network.json) has no address
    ns = got.pop("NetworkSettings")
    assert ns.get("IPAddress", "") == "" and not ns.get("Ports")
    # and Mounts (docker's), empty for an old record without mounts.json
    assert got.pop("Mounts") == []
    # and State.OOMKilled (docker's, between Restarting and Dead), false for an old record
    assert list(got["State"])[4] == "OOMKilled" and got["State"].pop("OOMKilled") is False
    # and the lifecycle options (docs/engine.md "Lifecycle"), at their defaults
    assert got.pop("RestartCount") == 0 and got["Config"].pop("Labels") == {}
    assert got["HostConfig"].pop("Init") is False
    assert got["HostConfig"].pop("RestartPolicy") == {"Name": "no", "MaximumRetryCount": 0}
    # and the security flags' keys, none for an old record
    assert [got["HostConfig"].pop(k) for k in ("SecurityOpt", "GroupAdd", "Sysctls", "Ulimits",
                                               "Devices")] == [None, None, None, None, []]
    assert got == exp
    assert list(got) == list(exp)  # docker's key order, as before
    ps = bb.out("ps", "-a", "--no-trunc")
    line = next(ln for ln in ps.splitlines() if ln.startswith(cid))
    assert name in line and ("Exited (0)" in line if kind == "exited" else "Created" in line)
    # it starts, runs its recorded command, and from then on its state file is version 1
    out = bb.out("start", "-a", name)
    if kind == "exited":
        assert out == "hello-old\n"
        assert "hello-old" in bb.out("logs", name)
    hull, state = record_files(bb, cid)
    assert "Version" not in hull  # hull.json is written once, at create
    assert state["Version"] == 1 and state["Status"] == "exited" and state["ExitCode"] == 0
    assert state["OOMKilled"] is False
    again = json.loads(bb.out("inspect", name))[0]
    assert again["Config"].pop("Labels") == {}
    assert again["State"]["Status"] == "exited" and again["Config"] == exp["Config"]
    bb.run("rm", name)
    assert not (bb.root / "containers" / cid).exists()


def test_new_records_carry_version(bb):
    cid = bb.out("create", "--name", "v1", "busybox", "true").strip()
    hull, state = record_files(bb, cid)
    assert hull["Version"] == 1 and state["Version"] == 1
    assert hull["Backend"] == "oci"
    # what inspect shows does not grow with the file's bookkeeping
    got = json.loads(bb.out("inspect", "v1"))[0]
    assert "Version" not in got and "Backend" not in got and "Layers" not in got
    bb.run("rm", "v1")


def test_newer_record_is_refused_not_misread(bb):
    cid = bb.out("create", "--name", "future", "busybox", "true").strip()
    p = bb.root / "containers" / cid / "hull.json"
    rec = json.loads(p.read_text())
    rec["Version"] = 99
    p.write_text(json.dumps(rec))
    r = bb.run("inspect", "--type", "container", cid, check=False)
    assert r.returncode == 125
    assert "Version 99" in r.stderr and "newer hull" in r.stderr, r.stderr
    rec["Version"] = 1
    p.write_text(json.dumps(rec))
    bb.run("rm", "future")


@pytest.mark.parametrize("field,value", [("ExitCode", "zero"), ("Pid", -5), ("Status", 3)])
def test_bad_state_field_is_named(bb, field, value):
    cid = bb.out("create", "--name", "bad", "busybox", "true").strip()
    p = bb.root / "containers" / cid / "state.json"
    good = p.read_text()
    st = json.loads(good)
    st[field] = value
    p.write_text(json.dumps(st))
    r = bb.run("inspect", "--type", "container", cid, check=False)
    assert r.returncode == 125
    assert "state.json" in r.stderr and field in r.stderr, r.stderr
    p.write_text(good)
    bb.run("rm", "bad")
