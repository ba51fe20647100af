"""Hostile and damaged images: each is one clear error line naming the file, never a crash
or a huge allocation (the fixture caps the address space at 1 GiB)."""
import json
import os
import struct

import pytest

CL = 65536


def patch(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def be64(v):
    return struct.pack(">Q", v)


def be32(v):
    return struct.pack(">I", v)


@pytest.fixture
def base(img):
    """A qemu-made v3 image with data in cluster 0: header 0, reftable 0x10000, refcount
    block 0x20000, L1 0x30000, L2 0x40000, data 0x50000."""
    img.qemu_img("create", "-f", "qcow2", "h.qcow2", "16M")
    img.qemu_io("h.qcow2", "write -P 0x5a 0 64k")
    assert img.map_json("h.qcow2", tool="qemu")[0]["offset"] == 0x50000
    return img.p("h.qcow2")


def expect_error(img, base, *needles, cmd=("info",)):
    r = img.img(*cmd, "h.qcow2", check=False)
    assert 0 < r.returncode < 128, (r.returncode, r.stderr)
    err = r.stderr.strip()
    assert "h.qcow2" in err and "\n" not in err, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize("name,off,data,needle", [
    ("l1 past eof", 40, be64(1 << 40), "l1_table_offset"),
    ("l1 unaligned", 40, be64(0x30008), "l1_table_offset"),
    ("reftable past eof", 48, be64(1 << 40), "refcount_table_offset"),
    ("reftable huge", 56, be32(0xffffffff), "refcount_table_clusters"),
    ("l1 overlaps reftable", 40, be64(0x10000), "overlap"),
    ("l1 overlaps header", 40, be64(0), "l1_table_offset"),
    ("l1 entry past eof", 0x30000, be64((1 << 63) | (1 << 40)), "L1 entry 0"),
    ("l1 entry on the reftable", 0x30000, be64((1 << 63) | 0x10000), "L1 entry 0"),
    ("l1 entry on the l1 table", 0x30000, be64((1 << 63) | 0x30000), "L1 entry 0"),
    ("refblock past eof", 0x10000, be64(1 << 40), "refcount table entry 0"),
    ("refblock on the header", 0x10000, be64(0x200), "refcount block 0"),
    ("absurd size", 24, be64(1 << 63), "absurd"),
    ("size beyond l1", 24, be64(1 << 50), "l1_size"),
    ("l1_size huge", 36, be32(0x7fffffff), "l1_size"),
    ("cluster bits", 20, be32(31), "cluster_bits"),
    ("version", 4, be32(4), "version"),
    ("encrypted", 32, be32(1), "encrypted"),
    ("unknown incompatible", 72, be64(1 << 20), "incompatible feature bit 20"),
    ("extended l2", 72, be64(1 << 4), "extended L2 entries"),
    ("refcount order", 96, be32(7), "refcount_order"),
    ("header length", 100, be32(13), "header_length"),
    ("backing name too long", 8, be64(512) + be32(5000), "backing file name"),
    ("snapshots", 60, be32(10 ** 7) + be64(0x10000), "nb_snapshots"),
    ("extension runs past header", 112, be32(0x12345678) + be32(0xfffff), "extension"),
])
def test_hostile_header(img, base, name, off, data, needle):
    patch(base, off, data)
    expect_error(img, base, needle)
    # the data path refuses it too
    expect_error(img, base, needle, cmd=("map",))


def test_bad_magic_with_explicit_format(img, base):
    patch(base, 0, b"QFI\x00")
    expect_error(img, base, "not a qcow2 image", cmd=("info", "-f", "qcow2"))
    # probing sees a raw image, as qemu-img does
    assert json.loads(img.img("info", "--output=json", "h.qcow2").stdout)["format"] == "raw"


def test_truncated_file(img, tmp_path):
    (tmp_path / "h.qcow2").write_bytes(b"QFI\xfb\x00\x00\x00\x03" + b"\0" * 40)
    expect_error(img, None, "too short")


def test_l2_entry_past_eof_is_an_io_error(img, base):
    patch(base, 0x40000, be64((1 << 63) | (1 << 40)))
    r = img.img("convert", "-O", "raw", "h.qcow2", "out.raw", check=False)
    assert r.returncode == 1 and "Input/output error" in r.stderr, r.stderr
    assert not (img.tmp / "out.raw").exists(), "half-written output left behind"
    r = img.img("check", "h.qcow2", check=False)
    assert r.returncode == 2 and "past the end of the file" in r.stderr, r.stderr


def test_compressed_entry_past_eof(img, base):
    patch(base, 0x40000, be64((1 << 62) | (1 << 40)))
    r = img.img("convert", "-O", "raw", "h.qcow2", "out.raw", check=False)
    assert r.returncode == 1 and "Input/output error" in r.stderr, r.stderr


def test_overlapping_data_and_metadata_detected(img, base):
    # the data cluster points at the L1 table: two references, refcount 1
    patch(base, 0x40000, be64((1 << 63) | 0x30000))
    r = img.img("check", "h.qcow2", check=False)
    assert r.returncode == 2, r.stdout
    assert img.qemu_img("check", "h.qcow2", check=False).returncode == 2


def test_backing_loops(img):
    img.qemu_img("create", "-f", "qcow2", "a.qcow2", "1M")
    img.qemu_img("create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2")
    img.qemu_img("rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", "a.qcow2")
    for f in ("a.qcow2", "b.qcow2"):
        r = img.img("map", f, check=False)
        assert r.returncode == 1 and "loops" in r.stderr, r.stderr
    img.qemu_img("create", "-f", "qcow2", "self.qcow2", "1M")
    img.qemu_img("rebase", "-u", "-b", "self.qcow2", "-F", "qcow2", "self.qcow2")
    r = img.img("convert", "-O", "raw", "self.qcow2", "o.raw", check=False)
    assert r.returncode == 1 and "loops" in r.stderr, r.stderr


def test_backing_chain_too_deep(img):
    img.qemu_img("create", "-f", "qcow2", "c0.qcow2", "1M")
    for i in range(1, 70):
        img.qemu_img("create", "-f", "qcow2", "-u", "-b", f"c{i - 1}.qcow2", "-F", "qcow2",
                     f"c{i}.qcow2", "1M")
    r = img.img("map", "c69.qcow2", check=False)
    assert r.returncode == 1 and "deeper than" in r.stderr, r.stderr
    img.img("map", "c40.qcow2")  # a deep but legal chain works


def test_missing_backing_file(img):
    img.qemu_img("create", "-f", "qcow2", "a.qcow2", "1M")
    img.qemu_img("create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2")
    (img.tmp / "a.qcow2").unlink()
    r = img.img("map", "b.qcow2", check=False)
    assert r.returncode == 1 and "b.qcow2" in r.stderr and "a.qcow2" in r.stderr, r.stderr


def test_unknown_autoclear_cleared_compatible_kept(img, base):
    patch(base, 80, be64(1 << 7))        # unknown compatible bit: kept
    patch(base, 88, be64((1 << 9) | 1))  # unknown autoclear bits (and bitmaps): cleared
    img.io("h.qcow2", "write:65536:10:1")
    hdr = open(base, "rb").read(112)
    assert struct.unpack(">Q", hdr[80:88])[0] == 1 << 7
    assert struct.unpack(">Q", hdr[88:96])[0] == 0
    img.qemu_check_clean("h.qcow2")
    # a read-only open changes nothing
    patch(base, 88, be64(1 << 9))
    img.img("info", "h.qcow2")
    assert struct.unpack(">Q", open(base, "rb").read(96)[88:96])[0] == 1 << 9


def test_dirty_bit_repaired_on_open(img, base):
    # lazy refcounts left the refcount of the data cluster at 0 and the dirty bit set
    patch(base, 0x20000 + 5 * 2, struct.pack(">H", 0))
    patch(base, 72, be64(1))
    assert json.loads(img.img("info", "--output=json", "h.qcow2").stdout)["dirty-flag"]
    img.io("h.qcow2", "read:0:65536:0x5a", "write:131072:4096:3")
    assert struct.unpack(">Q", open(base, "rb").read(80)[72:80])[0] == 0
    img.qemu_check_clean("h.qcow2")
    img.qemu_io("h.qcow2", "read -P 0x5a 0 64k")


def test_corrupt_bit_read_only(img, base):
    patch(base, 72, be64(2))
    r = img.io("h.qcow2", "write:0:1:1", check=False)
    assert r.returncode == 1 and "marked corrupt" in r.stderr, r.stderr
    img.img("convert", "-O", "raw", "h.qcow2", "ro.raw")  # reading works
    info = json.loads(img.img("info", "--output=json", "h.qcow2").stdout)
    assert info["format-specific"]["data"]["corrupt"] is True
    img.img("check", "-r", "all", "h.qcow2")
    assert struct.unpack(">Q", open(base, "rb").read(80)[72:80])[0] == 0
    img.io("h.qcow2", "write:0:1:1")


def test_mutated_images_never_crash(img, build, rng):
    """A bounded mini-fuzz on the host: random byte flips in the metadata of qemu-made
    images, replayed through the fuzz target's replay build (open, map, read, check, write)."""
    replay = build / "tests/unit/disk/fuzz-qcow2-replay"
    if not replay.exists():
        pytest.skip("fuzz-qcow2-replay not built")
    img.qemu_img("create", "-f", "qcow2", "-o", "cluster_size=512", "s.qcow2", "1M")
    img.qemu_io("s.qcow2", "write -P 1 0 4k", "write -z 8k 2k", "write -P 2 100k 1k")
    img.qemu_img("convert", "-c", "-O", "qcow2", "-o", "cluster_size=512", "s.qcow2",
                 "c.qcow2")
    files = []
    for seed in ("s.qcow2", "c.qcow2"):
        data = open(img.p(seed), "rb").read()
        for i in range(150):
            b = bytearray(data)
            for _ in range(rng.randrange(1, 8)):
                pos = rng.randrange(0, min(len(b), 4096))
                b[pos] = rng.randrange(256)
            name = img.p(f"m-{seed}-{i}")
            open(name, "wb").write(bytes(b))
            files.append(name)
    r = img.run(replay, *files, check=False)
    assert r.returncode == 0, r.stderr[-2000:]


def test_copied_flag_mismatch(img, base):
    # the data cluster's COPIED flag cleared although its refcount is 1
    patch(base, 0x40000, be64(0x50000))
    r = img.img("check", "h.qcow2", check=False)
    assert r.returncode == 2 and "OFLAG_COPIED" in r.stderr, r.stderr
    assert img.qemu_img("check", "h.qcow2", check=False).returncode == 2
    img.img("check", "-r", "all", "h.qcow2")
    img.qemu_check_clean("h.qcow2")
    img.qemu_io("h.qcow2", "read -P 0x5a 0 64k")


@pytest.mark.parametrize("target,what", [
    (0x30000, "L1 table"), (0x10000, "refcount table"), (0x20000, "refcount block"),
    (0x40000, "L2 table")])
def test_guest_write_never_lands_on_metadata(img, base, target, what):
    # a COPIED data cluster whose host offset is a metadata cluster: writing the guest
    # data there in place would overwrite the image's own tables (QEMU refuses too)
    patch(base, 0x40000, be64((1 << 63) | target))
    before = open(base, "rb").read()
    r = img.io(base, "write:0:4096:0x77", "flush", check=False)
    assert r.returncode != 0, what
    assert "overlap" in r.stderr or "Input/output" in r.stderr, r.stderr
    after = open(base, "rb").read()
    assert after[target:target + 4096] == before[target:target + 4096], what


def test_allocation_never_lands_on_metadata(img, base):
    # the L1 table's refcount (cluster 3, 16-bit entries) zeroed: the allocator would
    # hand that cluster out for new guest data and overwrite the table
    patch(base, 0x20000 + 3 * 2, b"\0\0")
    before = open(base, "rb").read()
    r = img.io(base, "write:0x10000:0x10000:0x77", "flush", check=False)
    assert r.returncode != 0 and "Input/output" in r.stderr, (r.returncode, r.stderr)
    after = open(base, "rb").read()
    assert after[0x30000:0x31000] == before[0x30000:0x31000]


def test_backing_file_that_is_a_fifo(img):
    # a hostile image naming a FIFO (or socket) as its backing file must not hang hull
    os.mkfifo(img.p("fifo"))
    img.qemu_img("create", "-f", "qcow2", "b.qcow2", "1M")
    img.qemu_img("create", "-f", "qcow2", "-b", "b.qcow2", "-F", "raw", "top.qcow2")
    img.qemu_img("rebase", "-u", "-b", "fifo", "-F", "raw", "top.qcow2")
    for cmd in (("info", "--backing-chain"), ("map",)):
        r = img.img(*cmd, "top.qcow2", check=False)
        assert r.returncode == 1 and "fifo" in r.stderr, r.stderr
        assert "regular file" in r.stderr and "\n" not in r.stderr.strip(), r.stderr


def test_missing_refcount_block_never_placed_on_metadata(img, base):
    # reftable entry 0 cleared: the refcounts of clusters 0.. read as 0, and a new refcount
    # block for that range must not be put on the header (cluster 0) or any other table
    patch(base, 0x10000, be64(0))
    before = open(base, "rb").read()
    r = img.io(base, "write:0x10000:0x10000:0x77", "flush", check=False)
    assert r.returncode != 0 and "Input/output" in r.stderr, (r.returncode, r.stderr)
    after = open(base, "rb").read()
    for off in (0, 0x10000, 0x30000, 0x40000):
        assert after[off:off + 0x1000] == before[off:off + 0x1000], hex(off)
