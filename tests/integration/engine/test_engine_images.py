"""The image store and the image commands: import, images, tag, rmi, save, load, pull,
system prune, and what bad input does (one clear line, exit 125, store unchanged)."""
import json
import os
import re
import subprocess
import tarfile

import pytest


def test_import_lists_image_with_columns(bb):
    out = bb.out("images")
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert re.match(r"localhost/busybox\s+latest\s+[0-9a-f]{12}\s+(Less than a second|\d+ seconds?) ago\s+[\d.]+[kM]?B$",
                    lines[1]), lines[1]


def test_import_prints_id_and_applies_changes(hull_store, rootfs_tar):
    r = hull_store.run("import", rootfs_tar, "cfg:1", "--change", "CMD echo from-cmd",
                       "--change", "ENV GREETING=hi", "--change", "WORKDIR /tmp",
                       "--change", "USER alice", "--change", "ENTRYPOINT [\"/bin/sh\", \"-c\"]")
    image_id = r.stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)
    img = hull_store.inspect("cfg:1")
    assert img["Id"] == image_id
    assert img["RepoTags"] == ["localhost/cfg:1"]
    cfg = img["Config"]
    assert cfg["Cmd"] == ["/bin/sh", "-c", "echo from-cmd"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"]
    assert "GREETING=hi" in cfg["Env"]
    assert cfg["WorkingDir"] == "/tmp" and cfg["User"] == "alice"
    assert len(img["RootFS"]["diff_ids"]) == 1


def test_import_bad_change_is_rejected(hull_store, rootfs_tar):
    r = hull_store.run("import", rootfs_tar, "x", "--change", "FROBNICATE 1", check=False)
    assert r.returncode == 125
    assert "unsupported instruction FROBNICATE" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sig", ["SIGBOGUS", "RTMIN+31", "0", "65"])
def test_import_bad_stopsignal_is_rejected(hull_store, rootfs_tar, sig):
    r = hull_store.run("import", rootfs_tar, "x", "--change", f"STOPSIGNAL {sig}", check=False)
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and f"STOPSIGNAL: unknown signal {sig}" in r.stderr
    assert hull_store.out("images", "-q") == ""  # no image half-made


def test_import_missing_file(hull_store):
    r = hull_store.run("import", "/nonexistent.tar", "x", check=False)
    assert r.returncode == 125 and "/nonexistent.tar" in r.stderr


def test_import_from_stdin_and_untagged(hull_store, rootfs_tar):
    with open(rootfs_tar, "rb") as f:
        r = subprocess.run([hull_store.binary, "import", "-"], stdin=f, capture_output=True,
                           text=True, env=hull_store.env)
    assert r.returncode == 0, r.stderr
    out = hull_store.out("images")
    assert re.search(r"<none>\s+<none>\s+" + r.stdout.strip()[7:19], out)


def test_layers_are_shared_between_images(hull_store, rootfs_tar):
    hull_store.run("import", rootfs_tar, "a")
    hull_store.run("import", rootfs_tar, "b", "--change", "CMD echo b")
    assert len(os.listdir(hull_store.root / "layers")) == 1
    ids = set(hull_store.out("images", "-q").split())
    assert len(ids) == 2


def test_tag_rmi_and_id_prefix(bb):
    image_id = bb.inspect("busybox")["Id"]
    bb.run("tag", "busybox", "other/name:v2")
    assert "localhost/other/name" in bb.out("images")
    assert bb.inspect(image_id[7:15])["Id"] == image_id
    r = bb.run("rmi", "other/name:v2")
    assert "Untagged" in r.stdout and "Deleted" not in r.stdout
    r = bb.run("rmi", image_id[7:19])
    assert "Deleted: " + image_id in r.stdout
    assert bb.out("images", "-q") == ""
    r = bb.run("rmi", "busybox", check=False)
    assert r.returncode == 125 and "no such image: busybox" in r.stderr


def test_tag_invalid_name(bb):
    r = bb.run("tag", "busybox", "Bad Name", check=False)
    assert r.returncode == 125 and "invalid image name" in r.stderr


def test_save_load_round_trip_both_formats(bb, tmp_path):
    image_id = bb.inspect("busybox")["Id"]
    for fmt in ("docker-archive", "oci-archive"):
        out = tmp_path / f"bb-{fmt}.tar"
        bb.run("save", "--format", fmt, "-o", out, "busybox")
        names = tarfile.open(out).getnames()
        assert ("manifest.json" in names) == (fmt == "docker-archive")
        assert ("index.json" in names) == (fmt == "oci-archive")
        bb.run("rmi", "busybox")
        r = bb.run("load", "-i", out)
        assert r.stdout.strip() == "Loaded image: localhost/busybox:latest"
        assert bb.inspect("busybox")["Id"] == image_id


def test_save_unknown_format_and_image(bb, tmp_path):
    r = bb.run("save", "--format", "zip", "-o", tmp_path / "x", "busybox", check=False)
    assert r.returncode == 125 and "--format zip" in r.stderr
    r = bb.run("save", "-o", tmp_path / "y", "nope", check=False)
    assert r.returncode == 125 and "no such image: nope" in r.stderr
    assert not (tmp_path / "y").exists()


def test_load_garbage_fails_cleanly(bb, tmp_path):
    before = bb.store_snapshot()
    bad = tmp_path / "garbage.tar"
    bad.write_bytes(os.urandom(4096))
    r = bb.run("load", "-i", bad, check=False)
    assert r.returncode == 125
    assert str(bad) in r.stderr
    assert bb.store_snapshot() == before and bb.tmp_is_empty()


def test_load_digest_mismatch_rejected(bb, tmp_path):
    out = tmp_path / "bb.tar"
    bb.run("save", "--format", "oci-archive", "-o", out, "busybox")
    bb.run("rmi", "busybox")
    bb.run("system", "prune", "-f")
    # corrupt the config blob: its content no longer matches its name
    d = tmp_path / "x"
    d.mkdir()
    subprocess.run(["tar", "-C", d, "-xf", out], check=True)
    idx = json.loads((d / "index.json").read_text())
    man = json.loads((d / "blobs/sha256" / idx["manifests"][0]["digest"][7:]).read_text())
    cfg = d / "blobs/sha256" / man["config"]["digest"][7:]
    cfg.write_text(cfg.read_text().replace("/bin/sh", "/bin/XX"))
    bad = tmp_path / "bad.tar"
    subprocess.run(["tar", "-C", d, "-cf", bad, "."], check=True)
    before = bb.store_snapshot()
    r = bb.run("load", "-i", bad, check=False)
    assert r.returncode == 125
    assert "digest mismatch" in r.stderr and man["config"]["digest"] in r.stderr
    assert bb.store_snapshot() == before and bb.tmp_is_empty()


def test_pull_oci_dir_with_tag_and_archives(bb, tmp_path):
    image_id = bb.inspect("busybox")["Id"]
    out = tmp_path / "bb.tar"
    bb.run("save", "--format", "oci-archive", "-o", out, "busybox")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-C", layout, "-xf", out], check=True)
    bb.run("rmi", "busybox")
    r = bb.run("pull", f"oci:{layout}:localhost/busybox:latest")
    assert bb.inspect("busybox")["Id"] == image_id
    bb.run("rmi", "busybox")
    bb.run("pull", f"oci-archive:{out}")
    assert bb.inspect("busybox")["Id"] == image_id
    dout = tmp_path / "bb-docker.tar"
    bb.run("save", "--format", "docker-archive", "-o", dout, "busybox")
    bb.run("rmi", "busybox")
    r = bb.run("pull", f"docker-archive:{dout}")
    assert r.stdout.strip() == "localhost/busybox:latest"
    assert bb.inspect("busybox")["Id"] == image_id
    r = bb.run("pull", f"docker-archive:{layout}/index.json", check=False)
    assert r.returncode == 125 and "index.json" in r.stderr
    # a registry reference (tests/integration/registry/ has the registry tests): nothing
    # listens on port 1, and the one line names the reference
    r = bb.run("pull", "127.0.0.1:1/library/busybox", check=False)
    assert r.returncode == 125 and "127.0.0.1:1/library/busybox:latest" in r.stderr
    r = bb.run("pull", f"oci:{layout}:nosuchtag", check=False)
    assert r.returncode == 125 and "no image tagged nosuchtag" in r.stderr


def test_rmi_and_system_prune_remove_unreferenced(bb, rootfs_tar, tmp_path):
    # a second, different layer that becomes garbage with rmi
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as t:
        ti = tarfile.TarInfo("hello")
        data = b"hello"
        ti.size = len(data)
        import io
        t.addfile(ti, io.BytesIO(data))
    bb.run("import", other, "other")
    assert len(os.listdir(bb.root / "layers")) == 2
    bb.run("rmi", "other")  # frees its blobs and layer at once
    assert len(os.listdir(bb.root / "layers")) == 1
    r = bb.run("system", "prune", "-f")
    assert re.search(r"Deleted 0 blobs and 0 layers", r.stdout)
    # what rmi left for nobody (a blob a killed load moved in) goes with prune
    (bb.root / "blobs/sha256" / ("a" * 64)).write_text("orphan")
    r = bb.run("system", "prune", "-f")
    assert re.search(r"Deleted 1 blobs and 0 layers", r.stdout)
    # busybox still runs from what is left
    assert bb.out("inspect", "-f", "{{.Id}}", "busybox").startswith("sha256:")


def test_root_flag_and_env(hull, tmp_path, rootfs_tar):
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run([hull, "--root", a, "import", rootfs_tar, "x"], check=True,
                   capture_output=True)
    env = dict(os.environ, HULL_ROOT=str(b))
    out = subprocess.run([hull, "images", "-q"], env=env, capture_output=True, text=True)
    assert out.stdout == ""
    out = subprocess.run([hull, "--root", a, "images", "-q"], env=env, capture_output=True,
                         text=True)
    assert len(out.stdout.split()) == 1
    assert (a / "oci-layout").exists() and (a / "index.json").exists()


@pytest.mark.slow
def test_kill_during_load_leaves_store_usable(bb, tmp_path):
    """kill -9 in the middle of `hull load`; then `hull images` and a retry both work."""
    big = tmp_path / "big"
    (big / "data").mkdir(parents=True)
    with open(big / "data/blob", "wb") as f:
        for _ in range(48):
            f.write(os.urandom(1 << 20))
    layer = tmp_path / "big.tar"
    subprocess.run(["tar", "-C", big, "-cf", layer, "."], check=True)
    bb.run("import", layer, "big")
    arch = tmp_path / "big-save.tar"
    bb.run("save", "-o", arch, "big")
    bb.run("rmi", "big")
    bb.run("system", "prune", "-f")
    before = bb.store_snapshot()
    killed = False
    for delay in (0.05, 0.1, 0.2, 0.3):
        p = subprocess.Popen([bb.binary, "load", "-i", str(arch)], env=bb.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            killed = True
            break
        bb.run("rmi", "big")
        bb.run("system", "prune", "-f")
        before = bb.store_snapshot()
    assert killed, "load finished before it could be killed"
    assert bb.store_snapshot()["index"] == before["index"]
    assert "localhost/big" not in bb.out("images")
    r = bb.run("load", "-i", arch)
    assert "localhost/big:latest" in r.stdout
    assert bb.tmp_is_empty()
    assert "localhost/big" in bb.out("images")


def test_docker_archive_paths_cannot_leave_the_archive(bb, tmp_path):
    """manifest.json names files: '..' and symlinks out of the archive are refused, and
    nothing of the store (index.json here) is taken as a blob."""
    d = tmp_path / "evil"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps(
        [{"Config": "../../index.json", "RepoTags": ["evil:1"], "Layers": []}]))
    arch = tmp_path / "evil.tar"
    subprocess.run(["tar", "-C", d, "-cf", arch, "."], check=True)
    before = bb.store_snapshot()
    r = bb.run("load", "-i", arch, check=False)
    assert r.returncode == 125 and "'../../index.json': path leaves the archive" in r.stderr
    # through a symlink that the archive itself carries
    (d / "manifest.json").write_text(json.dumps(
        [{"Config": "up/index.json", "RepoTags": ["evil:1"], "Layers": []}]))
    (d / "up").symlink_to("../..")
    subprocess.run(["tar", "-C", d, "-cf", arch, "."], check=True)
    r = bb.run("load", "-i", arch, check=False)
    assert r.returncode == 125
    assert bb.store_snapshot() == before and bb.tmp_is_empty()
    assert (bb.root / "index.json").exists()


def test_image_index_picks_host_platform(bb, tmp_path):
    import hashlib
    image_id = bb.inspect("busybox")["Id"]
    out = tmp_path / "bb.tar"
    bb.run("save", "--format", "oci-archive", "-o", out, "busybox")
    layout = tmp_path / "multi"
    layout.mkdir()
    subprocess.run(["tar", "-C", layout, "-xf", out], check=True)
    top = json.loads((layout / "index.json").read_text())
    amd64 = dict(top["manifests"][0])
    amd64.pop("annotations", None)
    amd64["platform"] = {"architecture": "amd64", "os": "linux"}
    # an arm64 entry whose blob is absent: choosing it would fail the pull
    arm64 = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": "sha256:" + "0" * 64, "size": 1,
             "platform": {"architecture": "arm64", "os": "linux"}}
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [arm64, amd64]}).encode()
    digest = hashlib.sha256(index).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(index)
    top["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json",
                         "digest": "sha256:" + digest, "size": len(index),
                         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]
    (layout / "index.json").write_text(json.dumps(top))
    bb.run("rmi", "busybox")
    r = bb.run("pull", f"oci:{layout}:multi")
    assert r.stdout.strip() == "localhost/multi:multi"
    assert bb.inspect("multi:multi")["Id"] == image_id


def test_load_from_stdin(bb, tmp_path):
    out = tmp_path / "bb.tar"
    bb.run("save", "-o", out, "busybox")
    bb.run("rmi", "busybox")
    with open(out, "rb") as f:
        r = subprocess.run([bb.binary, "load"], stdin=f, capture_output=True, text=True,
                           env=bb.env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Loaded image: localhost/busybox:latest"


@pytest.mark.parametrize("cmd", ["save", "export"])
def test_output_temp_file_never_follows_a_planted_symlink(bb, tmp_path, cmd):
    # hull writes FILE.tmp.PID, then renames it: a symbolic link planted at that name (in
    # a directory others can write) must not make root overwrite the file it points to
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out.tar"

    def plant():  # runs in the child: its pid is hull's after exec
        os.symlink(victim, f"{out}.tmp.{os.getpid()}")

    if cmd == "export":
        bb.run("create", "--name", "exp", "busybox", "true")
    r = bb.run(cmd, "-o", out, "busybox" if cmd == "save" else "exp", preexec_fn=plant)
    assert victim.read_text() == "precious"
    assert tarfile.is_tarfile(out)
    assert not list(tmp_path.glob("out.tar.tmp.*")), r.stderr


def test_docker_archive_listing_one_layer_file_twice(bb, tmp_path):
    # docker save stores identical layers (e.g. two empty ones) once and names the file
    # twice in manifest.json
    import hashlib
    import io
    lay = io.BytesIO()
    with tarfile.open(fileobj=lay, mode="w") as t:
        ti = tarfile.TarInfo("f")
        ti.size = 2
        t.addfile(ti, io.BytesIO(b"hi"))
    lay = lay.getvalue()
    diff = "sha256:" + hashlib.sha256(lay).hexdigest()
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Cmd": ["/f"]},
                      "rootfs": {"type": "layers", "diff_ids": [diff, diff]}}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    man = json.dumps([{"Config": cname, "RepoTags": ["twice:latest"],
                       "Layers": ["l/layer.tar", "l/layer.tar"]}]).encode()
    out = tmp_path / "twice.tar"
    with tarfile.open(out, "w") as t:
        for name, data in (("l/layer.tar", lay), (cname, cfg), ("manifest.json", man)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    r = bb.run("load", "-i", out, check=False)
    assert r.returncode == 0, r.stderr
    assert "localhost/twice" in bb.out("images")


def test_save_to_standard_output(bb, tmp_path):
    image_id = bb.inspect("busybox")["Id"]
    out = tmp_path / "stdout.tar"
    with open(out, "wb") as f:
        r = subprocess.run([bb.binary, "save", "busybox"], stdout=f, stderr=subprocess.PIPE,
                           env=bb.env)
    assert r.returncode == 0, r.stderr
    assert "manifest.json" in tarfile.open(out).getnames()
    bb.run("rmi", "busybox")
    r = bb.run("load", "-i", out)
    assert r.stdout.strip() == "Loaded image: localhost/busybox:latest"
    assert bb.inspect("busybox")["Id"] == image_id
    # never to a terminal
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(bb.env)
        os.execv(bb.binary, [bb.binary, "save", "busybox"])
    text = b""
    try:
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            text += chunk
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 125
    assert b"refusing to write an archive to a terminal" in text, text
    assert len(text) < 400, text  # an error line, not tar data


def test_save_piped_into_load_on_the_same_store(bb, tmp_path):
    """`hull save X | hull load`: load reads the whole archive before it takes the store
    lock that save holds while it writes (the old code waited forever: the timeout only
    keeps the test from hanging)."""
    image_id = bb.inspect("busybox")["Id"]
    bb.run("tag", "busybox", "piped:1")
    save = subprocess.Popen([bb.binary, "save", "piped:1"], stdout=subprocess.PIPE,
                            env=bb.env)
    try:
        r = subprocess.run([bb.binary, "load"], stdin=save.stdout, capture_output=True,
                           text=True, env=bb.env, timeout=60)
    finally:
        save.stdout.close()
        if save.poll() is None:
            save.kill()
        save.wait()
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Loaded image: localhost/piped:1"
    assert bb.inspect("piped:1")["Id"] == image_id
    assert bb.tmp_is_empty()


def test_stale_staging_of_dead_writers_is_swept_live_ones_kept(bb, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid names staging nobody owns any more
    stale = bb.root / "tmp" / f"{dead.pid}-abcdef"
    stale.mkdir()
    (stale / "x").write_text("left by a killed load")
    live = bb.root / "tmp" / f"blob-{os.getpid()}-ghijkl"
    live.write_text("a load that is still reading its archive")
    bb.run("tag", "busybox", "sweep:1")  # takes the exclusive lock
    assert not stale.exists()
    assert live.exists()
    live.unlink()


def test_import_volume_change_forms(hull_store, rootfs_tar):
    """--change VOLUME in docker's two forms (JSON array, blank-separated paths), adding up
    over repeated instructions; bad JSON or a relative path: one line naming --change, 125,
    no image."""
    hull_store.run("import", rootfs_tar, "vols", "--change", 'VOLUME ["/a", "/b c"]',
                   "--change", "VOLUME /d  /e", "--change", "VOLUME /f")
    vols = hull_store.inspect("vols")["Config"]["Volumes"]
    assert sorted(vols) == ["/a", "/b c", "/d", "/e", "/f"]
    hull_store.run("rmi", "vols")
    for bad in ('VOLUME ["/a"', 'VOLUME ["/a", 1]', 'VOLUME {"a": 1}', "VOLUME []",
                'VOLUME ["rel"]', "VOLUME /ok rel"):
        r = hull_store.run("import", rootfs_tar, "x", "--change", bad, check=False)
        assert r.returncode == 125, (bad, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--change" in lines[0] and "VOLUME" in lines[0], r.stderr
        assert hull_store.out("images", "-q") == ""
