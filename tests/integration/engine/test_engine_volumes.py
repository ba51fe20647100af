"""Volumes and mounts (docs/engine.md, "Volumes"): named and anonymous volumes, -v, --mount,
--tmpfs, --volumes-from; bad input refused with one line naming the flag, nothing made."""
import json
import os
import random
import subprocess

import pytest
from engine_helpers import make_rootfs

NET = ("--network", "none")


def run(bb, *args, check=True):
    return bb.run("run", *NET, *args, check=check)


def volumes(bb):
    return sorted(bb.out("volume", "ls", "-q").split())


def ctrs(bb):
    return bb.out("ps", "-a", "-q").split()


def test_named_volume_survives_rm_and_is_shared(bb):
    run(bb, "--name", "a", "-v", "data:/data", "busybox", "sh", "-c", "echo hi > /data/f")
    assert volumes(bb) == ["data"]
    bb.run("rm", "-v", "a")
    assert volumes(bb) == ["data"]          # named volumes stay even with rm -v
    bb.run("create", "--name", "b", *NET, "-v", "data:/d", "busybox", "sleep", "30")
    r = run(bb, "--rm", "--mount", "type=volume,src=data,dst=/x", "busybox", "cat", "/x/f")
    assert r.stdout == "hi\n"
    r = bb.run("volume", "rm", "data", check=False)
    assert r.returncode == 125 and "in use by container b" in r.stderr
    bb.run("rm", "b")
    bb.run("volume", "rm", "data")
    assert volumes(bb) == []


def test_anonymous_volumes_rm_v_and_image_volume(bb, rootfs_tar):
    bb.run("import", rootfs_tar, "withvol", "--change", 'VOLUME /vol', "--change",
           'CMD ["/bin/sh"]')
    run(bb, "--name", "a", "-v", "/anon", "-v", "keep:/keep", "withvol", "sh", "-c",
        "touch /anon/x /vol/y /keep/z")
    vs = volumes(bb)
    assert len(vs) == 3 and "keep" in vs
    info = json.loads(bb.out("volume", "inspect", "keep"))[0]
    assert os.path.exists(os.path.join(info["Mountpoint"], "z"))
    bb.run("rm", "-v", "a")
    assert volumes(bb) == ["keep"]
    run(bb, "--rm", "-v", "/anon", "busybox", "true")
    assert volumes(bb) == ["keep"]            # --rm takes anonymous volumes along
    bb.run("volume", "rm", "keep")


def test_copy_up_and_rel_bind(bb, tmp_path):
    r = run(bb, "--rm", "-v", "etcv:/etc", "busybox", "cat", "/etc/passwd")
    assert "root" in r.stdout
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "f").write_text("rel\n")
    r = bb.run("run", *NET, "--rm", "-v", "./h:/m:ro,z", "busybox", "cat", "/m/f",
               cwd=tmp_path)
    assert r.stdout == "rel\n"
    bb.run("volume", "rm", "etcv")


def test_tmpfs_and_ro(bb, tmp_path):
    r = run(bb, "--rm", "--tmpfs", "/t:size=1m,mode=0700", "--mount",
            "type=tmpfs,target=/u,tmpfs-size=2097152,tmpfs-mode=1770", "busybox", "sh", "-c",
            "grep -E ' /(t|u) ' /proc/mounts; stat -c %a /t /u")
    assert "size=1024k" in r.stdout and "size=2048k" in r.stdout
    assert r.stdout.split()[-2:] == ["700", "1770"]
    r = run(bb, "--rm", "-v", f"{tmp_path}:/m:ro", "busybox", "touch", "/m/x", check=False)
    assert r.returncode != 0 and not (tmp_path / "x").exists()
    r = run(bb, "--rm", "--mount", f"type=bind,source={tmp_path},target=/m,readonly",
            "busybox", "touch", "/m/x", check=False)
    assert r.returncode != 0 and not (tmp_path / "x").exists()
    assert volumes(bb) == []


def test_volumes_from(bb, tmp_path):
    bb.run("create", "--name", "src", *NET, "-v", "shared:/s", "-v", f"{tmp_path}:/b",
           "busybox", "true")
    run(bb, "--rm", "--volumes-from", "src", "busybox", "sh", "-c",
        "echo 1 > /s/f; echo 2 > /b/g")
    assert (tmp_path / "g").read_text() == "2\n"
    r = run(bb, "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c",
            "cat /s/f; touch /s/no", check=False)
    assert r.stdout == "1\n" and r.returncode != 0
    bb.run("rm", "-v", "src")
    bb.run("volume", "rm", "shared")


BAD = ["", ":", "::", "/a:/b:/c:/d", "a:b", "bad name:/x", "/x:/y:bogus", "vol:/",
       "./h:rel"]


def test_bad_input_refused_nothing_made(bb):
    before = (volumes(bb), ctrs(bb))
    for v in BAD:
        r = bb.run("create", *NET, "-v", v, "busybox", check=False)
        assert r.returncode == 125 and "-v" in r.stderr and "Traceback" not in r.stderr, v
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for t in ["rel", "/t:size=x", "/t:mode=9", "/t:bogus", "/"]:
        r = bb.run("create", *NET, "--tmpfs", t, "busybox", check=False)
        assert r.returncode == 125 and "--tmpfs" in r.stderr, t
    r = bb.run("create", *NET, "-v", "newvol:/x", "--mount", "type=bind,src=/nonexistent-x,"
               "dst=/y", "busybox", check=False)
    assert r.returncode == 125 and "--mount" in r.stderr
    r = bb.run("create", *NET, "--volumes-from", "nosuch", "busybox", check=False)
    assert r.returncode == 125 and "--volumes-from" in r.stderr
    assert (volumes(bb), ctrs(bb)) == before
    assert not os.path.exists(bb.root / "volumes" / "newvol")


KEYS = ["type=bind", "type=volume", "type=tmpfs", "type=nope", "source=v1", "src=/tmp",
        "target=/m", "dst=/n", "destination=rel", "readonly", "ro=false", "ro=maybe",
        "bind-propagation=rshared", "bind-propagation=x", "tmpfs-size=1m", "tmpfs-size=-1",
        "tmpfs-mode=755", "tmpfs-mode=99", "volume-nocopy", "volume-label=a=b",
        "volume-opt=o=x", "volume-driver=local", "consistency=cached", "bogus=1", "=", "",
        "target=/"]


def test_random_mount_strings(bb):
    rnd = random.Random(1515)
    for _ in range(60):
        arg = ",".join(rnd.choice(KEYS) for _ in range(rnd.randint(1, 4)))
        r = bb.run("create", *NET, "--mount", arg, "busybox", "true", check=False)
        assert r.returncode in (0, 125), (arg, r.stderr)
        if r.returncode == 0:
            bb.run("rm", "-v", r.stdout.strip())
        else:
            assert "--mount" in r.stderr and len(r.stderr.strip().splitlines()) == 1, \
                (arg, r.stderr)
    assert ctrs(bb) == []
    for v in volumes(bb):
        bb.run("volume", "rm", v)


def test_concurrent_volume_create(bb):
    procs = [subprocess.Popen([bb.binary, "volume", "create", "same"], env=bb.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(10)]
    outs = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
    assert all(o == ("same\n", "", 0) for o in outs), outs
    assert volumes(bb) == ["same"]
    assert sorted(os.listdir(bb.root / "volumes" / "same")) == ["_data", "meta.json"]
    bb.run("volume", "rm", "same")
    r = bb.run("volume", "rm", "same", check=False)
    assert r.returncode == 125 and "no such volume" in r.stderr
    bb.run("volume", "rm", "-f", "same")
    assert volumes(bb) == [] and os.listdir(bb.root / "volumes") == [".lock"]


def test_copy_up_leaves_device_nodes_and_volumes_are_nodev(bb, tmp_path):
    """Security review item 2: an image's device nodes under a VOLUME path never reach the
    volume's _data on the host (copy-up skips character and block devices), and volumes,
    named and anonymous, are mounted nodev (binds keep their source's flags)."""
    root = make_rootfs(tmp_path / "devimg")
    (root / "vol").mkdir()
    (root / "vol" / "keep").write_text("kept\n")
    os.mknod(root / "vol" / "sda", 0o660 | 0o060000, os.makedev(8, 0))   # block
    os.mknod(root / "vol" / "mem", 0o660 | 0o020000, os.makedev(1, 1))   # char
    os.mkfifo(root / "vol" / "fifo")
    tar = tmp_path / "devimg.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    bb.run("import", tar, "devimg", "--change", "VOLUME /vol", "--change", 'CMD ["/bin/sh"]')
    for vol in (("-v", "devv:/vol"), ()):
        r = run(bb, "--name", "d", *vol, "devimg", "sh", "-c",
                "ls /vol; grep ' /vol ' /proc/mounts")
        names = r.stdout.split("\n")
        assert "keep" in names and "fifo" in names, r.stdout
        assert "sda" not in names and "mem" not in names, r.stdout
        opts = [ln.split()[3].split(",") for ln in r.stdout.splitlines() if " /vol " in ln]
        assert opts and "nodev" in opts[-1], r.stdout
        (vname,) = volumes(bb)
        data = json.loads(bb.out("volume", "inspect", vname))[0]["Mountpoint"]
        assert sorted(os.listdir(data)) == ["fifo", "keep"]
        for n in os.listdir(data):
            m = os.lstat(os.path.join(data, n)).st_mode
            assert not (m & 0o170000 in (0o060000, 0o020000)), n
        bb.run("rm", "-v", "d")
        if vol:
            bb.run("volume", "rm", "devv")
        assert volumes(bb) == []


def test_killed_copy_up_leaves_no_complete_looking_volume(bb, tmp_path):
    """Security review item 5: meta.json is written after the copy-up. hull create is killed
    (SIGKILL) at seeded random points while it copies 3,000 files into a new volume: the
    volume is then either listed with every file, or not listed (and made again whole)."""
    root = make_rootfs(tmp_path / "bigvol")
    (root / "vol").mkdir()
    for i in range(3000):
        (root / "vol" / f"f{i}").write_text(f"{i}\n")
    tar = tmp_path / "bigvol.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    bb.run("import", tar, "bigvol", "--change", 'CMD ["/bin/sh"]')
    rnd = random.Random(5)
    seen_killed = 0
    for _ in range(6):
        p = subprocess.Popen([bb.binary, "create", *NET, "-v", "kv:/vol", "bigvol", "true"],
                             env=bb.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.wait(timeout=rnd.uniform(0.1, 2.5))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            seen_killed += 1
        p.stdout.close()
        p.stderr.close()
        if "kv" in volumes(bb):
            data = json.loads(bb.out("volume", "inspect", "kv"))[0]["Mountpoint"]
            assert len(os.listdir(data)) == 3000
        ids = bb.out("ps", "-a", "-q").split()
        if ids:
            bb.run("rm", "-f", *ids)
        if "kv" in volumes(bb):
            bb.run("volume", "rm", "kv")
    # a later create makes the volume whole again
    bb.run("create", "--name", "w", *NET, "-v", "kv:/vol", "bigvol", "true")
    data = json.loads(bb.out("volume", "inspect", "kv"))[0]["Mountpoint"]
    assert len(os.listdir(data)) == 3000
    bb.run("rm", "w")
    bb.run("volume", "rm", "kv")
    assert volumes(bb) == []


def anon_of(bb, name):
    """The volumes in the store (the tests below make one, name's anonymous one)."""
    return volumes(bb)


def test_rm_v_spares_a_volume_another_container_uses(bb):
    bb.run("create", "--name", "a", *NET, "-v", "/anon", "busybox", "true")
    vol = anon_of(bb, "a")
    assert len(vol) == 1 and volumes(bb) == vol
    bb.run("create", "--name", "b", *NET, "--volumes-from", "a", "busybox", "true")
    bb.run("rm", "-v", "a")
    assert volumes(bb) == vol                 # b still uses it
    bb.run("rm", "-v", "b")
    assert volumes(bb) == []


def lock_waiters(pid):
    """The blocked lock requests of pid in /proc/locks ("N: -> FLOCK ... WRITE PID ...")."""
    return [line for line in open("/proc/locks").read().splitlines()
            if " -> " in line and line.split()[5] == str(pid)]


def test_rm_v_takes_the_names_lock(bb):
    """rm -v removes anonymous volumes under the containers' names lock, as `volume rm`
    does: a creation (which holds it throughout, reading --volumes-from records) never sees
    a half-removed container and its volumes."""
    import fcntl
    bb.run("create", "--name", "a", *NET, "-v", "/anon", "busybox", "true")
    vol = anon_of(bb, "a")
    with open(bb.root / "containers" / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        p = subprocess.Popen([bb.binary, "rm", "-v", "a"], env=bb.env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            while p.poll() is None and not lock_waiters(p.pid):
                pass
            assert p.poll() is None, "rm -v went on without the names lock"
            assert volumes(bb) == vol
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and out == "a\n", err
    assert volumes(bb) == [] and ctrs(bb) == []


def test_rm_v_races_volumes_from(bb):
    """Bounded races of rm -v A and create --volumes-from A: B is either refused (A gone) or
    made with A's volume still there."""
    for i in range(8):
        bb.run("create", "--name", "a", *NET, "-v", "/anon", "busybox", "true")
        vol = anon_of(bb, "a")
        rm = subprocess.Popen([bb.binary, "rm", "-v", "a"], env=bb.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r = bb.run("create", "--name", "b", *NET, "--volumes-from", "a", "busybox", "true",
                   check=False)
        rm.communicate(timeout=60)
        assert rm.returncode == 0
        if r.returncode == 0:
            assert volumes(bb) == vol, i
            bb.run("rm", "-v", "b")
        else:
            assert r.returncode == 125 and "--volumes-from" in r.stderr, r.stderr
        assert volumes(bb) == [] and ctrs(bb) == [], i


def image_with_volumes(bb, tmp_path, name, vols):
    """busybox re-made (docker-archive, loaded) with config.Volumes = vols."""
    import hashlib
    import tarfile
    d = tmp_path / f"img-{name}"
    d.mkdir()
    bb.run("save", "--format", "docker-archive", "-o", d / "in.tar", "busybox")
    with tarfile.open(d / "in.tar") as t:
        t.extractall(d / "x")
    x = d / "x"
    man = json.loads((x / "manifest.json").read_text())
    cfg = json.loads((x / man[0]["Config"]).read_text())
    cfg["config"]["Volumes"] = vols
    data = json.dumps(cfg).encode()
    (x / man[0]["Config"]).unlink()
    man[0]["Config"] = hashlib.sha256(data).hexdigest() + ".json"
    (x / man[0]["Config"]).write_bytes(data)
    man[0]["RepoTags"] = [f"{name}:latest"]
    (x / "manifest.json").write_text(json.dumps(man))
    subprocess.run(["tar", "-C", x, "-cf", d / "out.tar", "."], check=True)
    bb.run("load", "-i", d / "out.tar")
    return f"localhost/{name}"


def test_image_volumes_capped(bb, tmp_path):
    """An image's VOLUME entries: at most 128, each shorter than PATH_MAX; more is refused at
    create with one line naming the image and the field, and nothing is made."""
    rng = random.Random(4)
    many = {f"/v{i}-{rng.randrange(10**6)}": {} for i in range(129)}
    cases = {"many": many, "long": {"/" + "a" * 4096: {}}}
    for name, vols in cases.items():
        ref = image_with_volumes(bb, tmp_path, name, vols)
        before = (volumes(bb), ctrs(bb))
        r = bb.run("create", *NET, ref, "true", check=False)
        assert r.returncode == 125, (name, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and ref in lines[0] and "config.Volumes" in lines[0], r.stderr
        assert (volumes(bb), ctrs(bb)) == before
    # the cap itself is fine
    ref = image_with_volumes(bb, tmp_path, "cap", dict(list(many.items())[:128]))
    cid = bb.out("create", *NET, ref, "true").strip()
    assert len(volumes(bb)) == 128
    bb.run("rm", "-v", cid)
    assert volumes(bb) == [] and ctrs(bb) == []
    for name in ("many", "long", "cap"):
        bb.run("rmi", f"localhost/{name}")


def test_volumes_from_destination_matches_image_volume(bb, rootfs_tar):
    """An inherited "/data/" is the image's VOLUME /data: one mount, A's volume, and no
    second (anonymous) volume made for the image's entry; also from a record written before
    destinations were normalised."""
    bb.run("import", rootfs_tar, "withdata", "--change", "VOLUME /data", "--change",
           'CMD ["/bin/sh"]')
    for legacy in (False, True):
        bb.run("create", "--name", "a", *NET, "-v", "/data/", "busybox", "true")
        mounts = bb.root / "containers" / bb.inspect("a")["Id"] / "mounts.json"
        rec = json.loads(mounts.read_text())
        assert [m["Destination"] for m in rec] == ["/data"]
        if legacy:
            rec[0]["Destination"] = "/data//"
            mounts.write_text(json.dumps(rec))
        vol = volumes(bb)
        run(bb, "--name", "b", "--volumes-from", "a", "withdata", "sh", "-c",
            "echo shared > /data/f")
        assert volumes(bb) == vol, legacy            # no volume for the image's /data
        info = json.loads(bb.out("volume", "inspect", vol[0]))[0]
        assert open(os.path.join(info["Mountpoint"], "f")).read() == "shared\n"
        bb.run("rm", "-v", "b", "a")
        assert volumes(bb) == [] and ctrs(bb) == []
    bb.run("rmi", "withdata")
