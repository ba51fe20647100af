"""hull img / src/disk against qemu-img and qemu-io, both ways."""
import json
import subprocess

import pytest

from img_helpers import Mirror, random_steps

MiB = 1 << 20


def same_check_stats(img, image):
    ours = json.loads(img.img("check", "--output=json", image).stdout)
    theirs = json.loads(img.qemu_img("check", "--output=json", image).stdout)
    for k in ("total-clusters", "allocated-clusters", "fragmented-clusters",
              "compressed-clusters", "image-end-offset"):
        assert ours.get(k) == theirs.get(k), (k, ours, theirs)


@pytest.mark.parametrize("opts", [
    "compat=1.1", "compat=0.10", "cluster_size=512", "cluster_size=4096",
    "cluster_size=2M", "refcount_bits=1", "refcount_bits=2", "refcount_bits=4",
    "refcount_bits=8", "refcount_bits=32", "refcount_bits=64", "lazy_refcounts=on",
])
def test_created_image_passes_qemu_check(img, opts):
    img.img("create", "-q", "-f", "qcow2", "-o", opts, "a.qcow2", "3G")
    img.qemu_check_clean("a.qcow2")
    info = json.loads(img.qemu_img("info", "--output=json", "a.qcow2").stdout)
    assert info["virtual-size"] == 3 << 30
    ours = json.loads(img.img("info", "--output", "json", "a.qcow2").stdout)
    assert ours["virtual-size"] == info["virtual-size"]
    assert ours["cluster-size"] == info["cluster-size"]
    assert ours["format-specific"]["data"]["compat"] == info["format-specific"]["data"]["compat"]
    assert (ours["format-specific"]["data"]["refcount-bits"] ==
            info["format-specific"]["data"]["refcount-bits"])


@pytest.mark.parametrize("opts,size", [
    ("compat=1.1", 64 * MiB),
    ("compat=0.10", 64 * MiB),
    ("cluster_size=512,refcount_bits=1", 8 * MiB),  # grows the refcount table
    ("cluster_size=4096,refcount_bits=64", 32 * MiB),
    ("cluster_size=512,refcount_bits=64", 8 * MiB),
    ("cluster_size=2M", 64 * MiB),
    ("refcount_bits=4", 64 * MiB),
])
def test_hull_writes_pass_check_and_compare(img, rng, opts, size):
    img.img("create", "-q", "-f", "qcow2", "-o", opts, "w.qcow2", str(size))
    cluster = json.loads(img.qemu_img("info", "--output=json", "w.qcow2").stdout)["cluster-size"]
    m = Mirror(img, img.p("w.qcow2"), img.p("ref.raw"), size)
    for _ in range(4):
        m.steps(random_steps(rng, size, 40, cluster))
        img.qemu_check_clean("w.qcow2")
        img.qemu_compare("w.qcow2", "ref.raw")
    # hull's check agrees with qemu-img's statistics
    same_check_stats(img, "w.qcow2")
    # and hull reads back what it wrote
    img.img("convert", "-O", "raw", "w.qcow2", "back.raw")
    img.qemu_compare("back.raw", "ref.raw", fmt_a="raw")
    assert img.map_json("w.qcow2") == img.map_json("w.qcow2", tool="qemu")


def test_hull_writes_over_backing_chain(img, rng):
    size = 16 * MiB
    img.qemu_img("create", "-f", "qcow2", "base.qcow2", str(size))
    img.qemu_io("base.qcow2", "write -P 0x11 0 4M", "write -z 4M 1M", "write -P 0x12 6M 3M")
    img.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "mid.qcow2")
    img.io("mid.qcow2", "write:1000000:70000:33", "discard:0:131072", "zero:7340032:65536")
    img.img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", "top.qcow2",
            str(size))
    img.io("top.qcow2", "write:5000:1000:44", "write:8388608:300000:45", "discard:6291456:65536")
    for f in ("mid.qcow2", "top.qcow2"):
        img.qemu_check_clean(f)
    img.qemu_img("convert", "-O", "raw", "top.qcow2", "q.raw")
    img.img("convert", "-O", "raw", "top.qcow2", "h.raw")
    img.qemu_compare("h.raw", "q.raw", fmt_a="raw")
    assert img.map_json("top.qcow2") == img.map_json("top.qcow2", tool="qemu")


@pytest.mark.parametrize("create_opts", ["compat=0.10", "compat=1.1", "cluster_size=4096",
                                         "refcount_bits=8"])
def test_hull_reads_qemu_images(img, create_opts):
    img.qemu_img("create", "-f", "qcow2", "-o", create_opts, "q.qcow2", "32M")
    img.qemu_io("q.qcow2", "write -P 0x5a 0 1M", "write -P 0x33 100k 7k", "write -z 2M 512k",
                "write -P 0x77 3M 256k", "discard 3M 64k", "write -P 0x10 31M 1M",
                "write -z -u 31M 128k")
    img.qemu_img("convert", "-O", "raw", "q.qcow2", "q.raw")
    img.img("convert", "-O", "raw", "q.qcow2", "h.raw")
    img.qemu_compare("h.raw", "q.raw", fmt_a="raw")
    assert img.map_json("q.qcow2") == img.map_json("q.qcow2", tool="qemu")
    # writes by hull on top of qemu's layout
    img.io("q.qcow2", "write:150000:100000:99", "zero:3145728:65536")
    img.qemu_check_clean("q.qcow2")


@pytest.mark.parametrize("ctype", ["zlib", "zstd"])
def test_compressed_both_ways(img, ctype):
    img.qemu_img("create", "-f", "qcow2", "src.qcow2", "8M")
    img.qemu_io("src.qcow2", "write -P 0x41 0 3M", "write -P 0x42 5M 100k")
    img.qemu_img("convert", "-c", "-O", "qcow2", "-o", f"compression_type={ctype}",
                 "src.qcow2", "qc.qcow2")
    img.img("convert", "-O", "raw", "qc.qcow2", "h.raw")
    img.qemu_compare("src.qcow2", "h.raw", fmt_a="qcow2")
    assert img.map_json("qc.qcow2") == img.map_json("qc.qcow2", tool="qemu")
    # hull writes over compressed clusters (copy-on-write) and keeps the image consistent
    img.io("qc.qcow2", "write:1000:10:7", "read:0:1000:0x41", "read:1000:10:7")
    img.qemu_check_clean("qc.qcow2")
    # hull's own compression (zlib), read by qemu
    img.img("convert", "-c", "-O", "qcow2", "src.qcow2", "hc.qcow2")
    img.qemu_check_clean("hc.qcow2")
    img.qemu_compare("hc.qcow2", "src.qcow2", fmt_a="qcow2", fmt_b="qcow2")
    out = json.loads(img.qemu_img("check", "--output=json", "hc.qcow2").stdout)
    assert out.get("compressed-clusters", 0) > 0
    same_check_stats(img, "hc.qcow2")
    same_check_stats(img, "qc.qcow2")


def test_snapshots_listed_and_shared_clusters_copied(img):
    img.qemu_img("create", "-f", "qcow2", "s.qcow2", "4M")
    img.qemu_io("s.qcow2", "write -P 0x61 0 1M")
    img.qemu_img("snapshot", "-c", "first", "s.qcow2")
    info = json.loads(img.img("info", "--output=json", "s.qcow2").stdout)
    assert [s["name"] for s in info["snapshots"]] == ["first"]
    assert "first" in img.img("info", "s.qcow2").stdout
    # writing into clusters shared with the snapshot copies them; the snapshot keeps its data
    img.io("s.qcow2", "write:4096:4096:0x62")
    img.qemu_check_clean("s.qcow2")
    img.qemu_img("snapshot", "-a", "first", "s.qcow2")
    img.qemu_io("s.qcow2", "read -P 0x61 0 1M")


def test_commit_rebase_resize_like_qemu(img):
    for tool in ("hull", "qemu"):
        d = f"{tool}-"
        img.qemu_img("create", "-f", "qcow2", d + "base.qcow2", "8M")
        img.qemu_io(d + "base.qcow2", "write -P 1 0 4M")
        img.qemu_img("create", "-f", "qcow2", "-b", d + "base.qcow2", "-F", "qcow2",
                     d + "top.qcow2")
        img.qemu_io(d + "top.qcow2", "write -P 2 1M 1M", "write -z 3M 64k")
        img.qemu_img("create", "-f", "qcow2", d + "other.qcow2", "8M")
        img.qemu_io(d + "other.qcow2", "write -P 3 0 512k")
        run = img.img if tool == "hull" else img.qemu_img
        run("commit", d + "top.qcow2")
        run("rebase", "-b", d + "other.qcow2", "-F", "qcow2", d + "top.qcow2")
        run("resize", d + "top.qcow2", "12M")
        for f in ("base", "top", "other"):
            img.qemu_check_clean(d + f + ".qcow2")
    for f in ("base", "top"):
        img.qemu_img("convert", "-O", "raw", f"hull-{f}.qcow2", f"h-{f}.raw")
        img.qemu_img("convert", "-O", "raw", f"qemu-{f}.qcow2", f"q-{f}.raw")
        img.qemu_compare(f"h-{f}.raw", f"q-{f}.raw", fmt_a="raw")
    # unsafe rebase only rewrites the header
    img.img("rebase", "-u", "-b", "", "hull-top.qcow2")
    info = json.loads(img.qemu_img("info", "--output=json", "hull-top.qcow2").stdout)
    assert "backing-filename" not in info
    # shrinking needs --shrink
    r = img.img("resize", "hull-other.qcow2", "1M", check=False)
    assert r.returncode == 1 and "--shrink" in r.stderr
    img.img("resize", "--shrink", "hull-other.qcow2", "1M")
    img.qemu_check_clean("hull-other.qcow2")
    assert json.loads(img.qemu_img("info", "--output=json",
                                   "hull-other.qcow2").stdout)["virtual-size"] == 1 << 20


def test_info_matches_qemu(img):
    img.qemu_img("create", "-f", "qcow2", "b.qcow2", "1G")
    img.img("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "t.qcow2")
    ours = json.loads(img.img("info", "--output=json", "t.qcow2").stdout)
    theirs = json.loads(img.qemu_img("info", "--output=json", "t.qcow2").stdout)
    for k in ("virtual-size", "filename", "cluster-size", "format", "backing-filename",
              "full-backing-filename", "backing-filename-format", "dirty-flag",
              "format-specific"):
        assert ours[k] == theirs[k], k


def test_raw_create_convert(img):
    img.img("create", "-q", "-f", "raw", "r.raw", "2M")
    img.io("r.raw", "write:4096:8192:5", fmt="raw")
    img.img("convert", "-f", "raw", "-O", "qcow2", "r.raw", "r.qcow2")
    img.qemu_check_clean("r.qcow2")
    img.qemu_compare("r.qcow2", "r.raw", fmt_a="qcow2")
    assert img.img("check", "r.raw", check=False).returncode == 63


def test_check_exit_codes_and_repair(img):
    img.img("create", "-q", "-f", "qcow2", "l.qcow2", "4M")
    img.io("l.qcow2", "write:0:65536:1")
    host = img.map_json("l.qcow2")[0]["offset"]
    # leak a cluster: append one to the file and give it a refcount that nothing explains
    with open(img.p("l.qcow2"), "r+b") as f:
        end = f.seek(0, 2)
        f.write(b"\0" * 65536)
        # refcount block is cluster 2 (hull's layout); 16-bit big-endian entries
        f.seek(2 * 65536 + (end // 65536) * 2)
        f.write((1).to_bytes(2, "big"))
    r = img.img("check", "l.qcow2", check=False)
    assert r.returncode == 3, r.stdout
    assert img.qemu_img("check", "l.qcow2", check=False).returncode == 3
    img.img("check", "-r", "leaks", "l.qcow2")
    img.qemu_check_clean("l.qcow2")
    # a refcount below the references is a corruption: exit 2, repaired by -r all
    with open(img.p("l.qcow2"), "r+b") as f:
        f.seek(2 * 65536 + (host // 65536) * 2)
        f.write((0).to_bytes(2, "big"))
    r = img.img("check", "l.qcow2", check=False)
    assert r.returncode == 2 and "ERROR" in r.stderr
    img.img("check", "-r", "all", "l.qcow2")
    img.qemu_check_clean("l.qcow2")
    img.qemu_io("l.qcow2", "read -P 1 0 64k")


def test_dirty_image_from_qemu_lazy_refcounts(img):
    """qemu-io aborts with lazy refcounts: the image is dirty and its refcounts stale; hull's
    check reports it like qemu-img, and a read-write open repairs it."""
    img.qemu_img("create", "-f", "qcow2", "-o", "lazy_refcounts=on", "lz.qcow2", "4M")
    subprocess.run(["qemu-io", "-c", "write -P 7 0 200k", "-c", "write -P 8 1M 64k",
                    "-c", "abort", "lz.qcow2"], cwd=img.tmp, capture_output=True)
    theirs = json.loads(img.qemu_img("info", "--output=json", "lz.qcow2").stdout)
    assert theirs["dirty-flag"] is True
    ours = json.loads(img.img("info", "--output=json", "lz.qcow2").stdout)
    assert ours["dirty-flag"] is True
    assert img.img("check", "lz.qcow2", check=False).returncode == \
        img.qemu_img("check", "lz.qcow2", check=False).returncode == 2
    img.io("lz.qcow2", "read:0:204800:7", "read:1048576:65536:8", "write:2097152:4096:9")
    img.qemu_check_clean("lz.qcow2")
    assert json.loads(img.qemu_img("info", "--output=json", "lz.qcow2").stdout)["dirty-flag"] \
        is False


def test_convert_replaces_target_create_refuses(img):
    img.img("create", "-q", "-f", "qcow2", "a.qcow2", "1M")
    img.io("a.qcow2", "write:0:4096:3")
    (img.tmp / "out.raw").write_bytes(b"old" * 1000)
    img.img("convert", "-O", "raw", "a.qcow2", "out.raw")  # replaced, as qemu-img does
    img.qemu_compare("a.qcow2", "out.raw", fmt_a="qcow2")
    r = img.img("convert", "-O", "qcow2", "a.qcow2", "a.qcow2", check=False)
    assert r.returncode == 1 and "target is the source" in r.stderr
    img.qemu_check_clean("a.qcow2")
    # create never overwrites an existing image (qemu-img would)
    r = img.img("create", "-q", "-f", "qcow2", "a.qcow2", "2M", check=False)
    assert r.returncode == 1 and "File exists" in r.stderr
    img.qemu_io("a.qcow2", "read -P 3 0 4k")


def test_human_map_names_the_file(img):
    img.qemu_img("create", "-f", "qcow2", "b.qcow2", "4M")
    img.qemu_io("b.qcow2", "write -P 1 0 64k")
    img.qemu_img("create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "t.qcow2")
    img.qemu_io("t.qcow2", "write -P 2 1M 64k")
    assert img.img("map", "t.qcow2").stdout == img.qemu_img("map", "t.qcow2").stdout


def test_info_backing_chain(img):
    img.qemu_img("create", "-f", "qcow2", "a.qcow2", "4M")
    img.qemu_img("create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2")
    img.img("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "c.qcow2")
    ours = json.loads(img.img("info", "--backing-chain", "--output=json", "c.qcow2").stdout)
    theirs = json.loads(img.qemu_img("info", "--backing-chain", "--output=json",
                                     "c.qcow2").stdout)
    assert [i["filename"] for i in ours] == [i["filename"] for i in theirs]
    assert [i.get("backing-filename") for i in ours] == \
        [i.get("backing-filename") for i in theirs]
