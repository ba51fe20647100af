"""`hull inspect` Mounts (docker's shape): a named volume, an anonymous volume, a bind with
its propagation and a read-only flag, a --mount tmpfs; none for a container without mounts;
a damaged mounts.json fails inspect with one line naming the file."""
import json
import subprocess

NET = ("--network", "none")


def mounts(bb, name):
    return json.loads(bb.out("inspect", name))[0]["Mounts"]


def test_inspect_mounts_shapes(bb, tmp_path):
    host = tmp_path / "h"
    host.mkdir()
    # rslave needs a source on a shared (or slave) mount, as docker says: make it one
    subprocess.run(["mount", "--bind", str(host), str(host)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(host)], check=True)
        bb.run("create", *NET, "--name", "m", "-v", "named:/data", "-v", "/anon",
               "-v", f"{host}:/h:ro,rslave", "--mount", "type=tmpfs,dst=/t", "busybox",
               "true")
    finally:
        subprocess.run(["umount", str(host)], check=True)
    assert f"{host} " not in open("/proc/self/mountinfo").read()
    got = {m["Destination"]: m for m in mounts(bb, "m")}
    assert set(got) == {"/data", "/anon", "/h", "/t"}
    named = got["/data"]
    assert named["Type"] == "volume" and named["Name"] == "named" and named["Driver"] == "local"
    assert named["RW"] is True and named["Propagation"] == ""
    assert named["Source"].endswith("/volumes/named/_data")
    anon = got["/anon"]
    assert anon["Type"] == "volume" and len(anon["Name"]) == 64 and anon["Driver"] == "local"
    bind = got["/h"]
    assert bind == {"Type": "bind", "Source": str(host), "Destination": "/h", "Mode": "",
                    "RW": False, "Propagation": "rslave"}
    assert got["/t"]["Type"] == "tmpfs" and got["/t"]["RW"] is True
    # the same through --format, as docker users script it
    out = bb.out("inspect", "--format", "{{json .Mounts}}", "m")
    assert {m["Destination"] for m in json.loads(out)} == set(got)
    bb.run("rm", "-v", "m")
    bb.run("volume", "rm", "named")


def test_inspect_mounts_empty_and_damaged(bb):
    bb.run("create", *NET, "--name", "plain", "busybox", "true")
    assert mounts(bb, "plain") == []
    bb.run("create", *NET, "--name", "dmg", "-v", "/anon", "busybox", "true")
    cdir = json.loads(bb.out("inspect", "dmg"))[0]["LogPath"].rsplit("/", 1)[0]
    with open(f"{cdir}/mounts.json", "w") as f:
        f.write("[{")
    r = bb.run("inspect", "dmg", check=False)
    assert r.returncode == 125 and r.stdout.strip() in ("", "[]")  # docker prints [] too
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "mounts.json" in lines[0], r.stderr
    with open(f"{cdir}/mounts.json", "w") as f:
        f.write("[]")
    bb.run("rm", "-v", "plain", "dmg")
