"""The image store under faults: failed multi-image loads, FIFOs in layouts, declared sizes
that lie, a full disk, and SIGKILLs at random points of `hull load`. After any failure the
store is exactly as before; after any kill it is consistent."""
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import tarfile
import time

import pytest

from engine_helpers import write_tar


def blob_path(layout, digest):
    return layout / "blobs/sha256" / digest.split(":", 1)[1]


def put_json_blob(layout, obj):
    data = json.dumps(obj).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob_path(layout, digest).write_bytes(data)
    return digest, len(data)


def two_image_layout(bb, tmp_path, rootfs_tar):
    """An OCI layout holding first:1 (good, new to the store) then victim:1 (its layer
    corrupted), with victim:1 already in the store naming busybox."""
    a = write_tar(tmp_path / "a.tar", [("one", "file", "first image")])
    b = write_tar(tmp_path / "b.tar", [("two", "file", "second image")])
    bb.run("import", a, "first:1")
    bb.run("import", b, "second:1")
    arch = tmp_path / "two.tar"
    bb.run("save", "--format", "oci-archive", "-o", arch, "first:1", "second:1")
    bb.run("rmi", "first:1", "second:1")
    bb.run("system", "prune", "-f")
    bb.run("tag", "busybox", "victim:1")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-C", layout, "-xf", arch], check=True)
    idx = json.loads((layout / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in idx["manifests"]] \
        == ["localhost/first:1", "localhost/second:1"]
    for key in ("org.opencontainers.image.ref.name", "io.containerd.image.name"):
        idx["manifests"][1]["annotations"][key] = "localhost/victim:1"
    (layout / "index.json").write_text(json.dumps(idx))
    man = json.loads(blob_path(layout, idx["manifests"][1]["digest"]).read_text())
    layer = blob_path(layout, man["layers"][0]["digest"])
    data = bytearray(layer.read_bytes())
    data[600] ^= 0xFF  # inside the file's content: the digest no longer matches
    layer.chmod(0o644)
    layer.write_bytes(bytes(data))
    bad = tmp_path / "bad-two.tar"
    subprocess.run(["tar", "-C", layout, "-cf", bad, "."], check=True)
    return layout, bad


@pytest.mark.parametrize("how", ["load", "pull-oci"])
def test_failed_multi_image_load_changes_nothing(bb, tmp_path, rootfs_tar, how):
    layout, bad = two_image_layout(bb, tmp_path, rootfs_tar)
    busybox_id = bb.inspect("busybox")["Id"]
    before = bb.store_snapshot()
    if how == "load":
        r = bb.run("load", "-i", bad, check=False)
    else:
        r = bb.run("pull", f"oci:{layout}", check=False)
    assert r.returncode == 125 and "digest mismatch" in r.stderr, r.stderr
    # the first image is not listed without its blobs, and the tag was not re-pointed
    assert bb.store_snapshot() == before and bb.tmp_is_empty()
    assert "localhost/first" not in bb.out("images")
    assert bb.inspect("victim:1")["Id"] == busybox_id
    assert bb.run("run", "--rm", "victim:1", "true").returncode == 0


def test_successful_multi_image_load_writes_index_once(bb, tmp_path, rootfs_tar):
    """The positive case of the above: both images arrive, each runnable."""
    a = write_tar(tmp_path / "a.tar", [("one", "file", "first image")])
    bb.run("import", a, "first:1")
    arch = tmp_path / "two.tar"
    bb.run("save", "-o", arch, "first:1", "busybox")
    bb.run("rmi", "first:1", "busybox")
    r = bb.run("load", "-i", arch)
    assert r.stdout.split() == ["Loaded", "image:", "localhost/first:1", "Loaded", "image:",
                                "localhost/busybox:latest"]
    assert bb.run("run", "--rm", "busybox", "true").returncode == 0


def oci_layout_of_busybox(bb, tmp_path):
    out = tmp_path / "bb-oci.tar"
    bb.run("save", "--format", "oci-archive", "-o", out, "busybox")
    layout = tmp_path / "bblayout"
    layout.mkdir()
    subprocess.run(["tar", "-C", layout, "-xf", out], check=True)
    for p in (layout / "blobs/sha256").iterdir():
        p.chmod(0o644)
    return layout


@pytest.mark.parametrize("which", ["index.json", "config"])
def test_fifo_in_oci_layout_is_refused_not_waited_on(bb, tmp_path, which):
    layout = oci_layout_of_busybox(bb, tmp_path)
    bb.run("rmi", "busybox")
    bb.run("system", "prune", "-f")
    if which == "index.json":
        target = layout / "index.json"
    else:
        idx = json.loads((layout / "index.json").read_text())
        man = json.loads(blob_path(layout, idx["manifests"][0]["digest"]).read_text())
        target = blob_path(layout, man["config"]["digest"])
    target.unlink()
    os.mkfifo(target)
    before = bb.store_snapshot()
    # the old code opened the FIFO for reading and waited for a writer forever, holding
    # the store lock: the timeout only keeps this test from hanging too
    r = bb.run("pull", f"oci:{layout}", check=False, timeout=60)
    assert r.returncode == 125
    assert "not a regular file" in r.stderr and which.split(".")[0] in r.stderr or \
        "not a regular file" in r.stderr, r.stderr
    assert bb.store_snapshot() == before and bb.tmp_is_empty()
    # the store lock was released: another writer gets it
    bb.run("tag", "busybox", "x", check=False)


@pytest.mark.parametrize("what", ["config", "layer", "manifest"])
def test_declared_size_must_match_the_blob(bb, tmp_path, what):
    layout = oci_layout_of_busybox(bb, tmp_path)
    bb.run("rmi", "busybox")
    bb.run("system", "prune", "-f")
    idx = json.loads((layout / "index.json").read_text())
    desc = idx["manifests"][0]
    if what == "manifest":
        desc["size"] += 1
        digest = desc["digest"]
    else:
        man = json.loads(blob_path(layout, desc["digest"]).read_text())
        d = man["config"] if what == "config" else man["layers"][0]
        d["size"] -= 1
        digest = d["digest"]
        desc["digest"], desc["size"] = put_json_blob(layout, man)
    (layout / "index.json").write_text(json.dumps(idx))
    before = bb.store_snapshot()
    r = bb.run("pull", f"oci:{layout}", check=False)
    assert r.returncode == 125, r.stdout
    assert digest in r.stderr and "declares" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert bb.store_snapshot() == before and bb.tmp_is_empty()


@pytest.fixture
def small_store(hull, tmp_path):
    from engine_helpers import Hull, cleanup_store
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", root], check=True)
    h = Hull(hull, root)
    try:
        yield h
    finally:
        cleanup_store(h)
        subprocess.run(["umount", root], check=True)
    assert not os.path.ismount(root)


def test_full_disk_says_no_space_and_names_the_file(small_store, tmp_path):
    """A 1.2 MB file: its blob fits in the 2 MB store, its unpacked copy does not."""
    big = tmp_path / "big"
    big.mkdir()
    (big / "payload").write_bytes(random.Random(11).randbytes(1200 * 1024))
    tar = tmp_path / "big.tar"
    subprocess.run(["tar", "-C", big, "-cf", tar, "payload"], check=True)
    small_store.run("images")  # creates the store's layout
    before = small_store.store_snapshot()
    r = small_store.run("import", tar, "big", check=False)
    assert r.returncode == 125
    assert "No space left on device" in r.stderr, r.stderr
    assert "entry 'payload'" in r.stderr, r.stderr
    assert small_store.store_snapshot() == before and small_store.tmp_is_empty()
    # the same through load: the archive's blob does not fit twice either
    small = tmp_path / "small.tar"
    (big / "payload").write_bytes(b"x" * 1000)
    subprocess.run(["tar", "-C", big, "-cf", small, "payload"], check=True)
    small_store.run("import", small, "tiny")
    assert small_store.run("images", "-q").stdout.strip()


def store_files_ok(h):
    """Every image in index.json has its manifest, config and layers; no temp files
    outside tmp/."""
    idx = json.loads((h.root / "index.json").read_text()) if (h.root / "index.json").exists() \
        else {"manifests": []}
    for desc in idx["manifests"]:
        man = json.loads(blob_path(h.root, desc["digest"]).read_text())
        assert blob_path(h.root, man["config"]["digest"]).exists()
        cfg = json.loads(blob_path(h.root, man["config"]["digest"]).read_text())
        for l in man["layers"]:
            assert blob_path(h.root, l["digest"]).exists()
        for d in cfg["rootfs"]["diff_ids"]:
            assert (h.root / "layers" / d.split(":")[1]).is_dir()
    stray = [n for n in os.listdir(h.root) if ".tmp" in n]
    assert not stray, stray
    return [d["annotations"].get("org.opencontainers.image.ref.name") for d in idx["manifests"]]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["load", "pull-oci"])
def test_sigkill_load_at_random_points_keeps_store_consistent(bb, tmp_path, how):
    rng = random.Random(20261207 + (how == "load"))
    # two images, several layers each, so kills land in extraction, hashing, unpacking
    # and the index write
    for n in range(3):
        d = tmp_path / f"l{n}"
        (d / f"dir{n}").mkdir(parents=True)
        for k in range(40):
            (d / f"dir{n}" / f"f{k}").write_bytes(rng.randbytes(16 * 1024))
        t = tmp_path / f"l{n}.tar"
        subprocess.run(["tar", "-C", d, "-cf", t, "."], check=True)
        bb.run("import", t, f"part{n}")
    arch = tmp_path / "parts.tar"
    bb.run("save", *(["--format", "oci-archive"] if how != "load" else []), "-o", arch,
           "part0", "part1", "part2", "busybox")
    if how == "load":
        cmd = [bb.binary, "load", "-i", str(arch)]
    else:
        layout = tmp_path / "layout"
        layout.mkdir()
        subprocess.run(["tar", "-C", layout, "-xf", arch], check=True)
        cmd = [bb.binary, "pull", f"oci:{layout}"]
    names = ["localhost/part0:latest", "localhost/part1:latest", "localhost/part2:latest"]
    bb.run("rmi", *names)
    bb.run("system", "prune", "-f")
    t0 = time.monotonic()
    subprocess.run(cmd, env=bb.env, check=True, capture_output=True)
    span = time.monotonic() - t0
    kills = runs = 0
    # 30 kills at random points, at most 90 runs: a load that finished before its kill
    # shortens the window for the next ones (the first, timed run may have been slower)
    while kills < 30 and runs < 90:
        runs += 1
        bb.run("rmi", *names, check=False)
        bb.run("system", "prune", "-f")
        # what the killed writer staged is gone after the next exclusive command
        assert bb.tmp_is_empty()
        p = subprocess.Popen(cmd, env=bb.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        started = time.monotonic()
        try:
            p.wait(timeout=rng.uniform(0, span))
            span = min(span, time.monotonic() - started)
        except subprocess.TimeoutExpired:
            p.kill()
            kills += 1
        p.wait()
        # the next command works, and every image listed is whole
        listed = store_files_ok(bb)
        out = bb.out("images")
        for n in listed:
            if n:
                assert n.split(":")[0] in out
    assert kills >= 10, f"only {kills} of {runs} runs were killed"
    for n in store_files_ok(bb):
        assert bb.run("run", "--rm", n, "true").returncode == 0
    bb.run("system", "prune", "-f")
    assert bb.tmp_is_empty()
    assert bb.run("run", "--rm", "busybox", "true").returncode == 0
