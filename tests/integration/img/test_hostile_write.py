"""Hostile metadata on the write path (issue 13 item 4): an entry the writer would overwrite
or free is validated first (zero entries that keep a host offset too), reserved bits are
refused as qemu's QCOW_OFLAG masks refuse them, errors name the table and entry, rebase never
makes a loop, convert -c works with every refcount_bits, and random bit flips in the metadata
never make a writer crash, hang or claim a success that leaves new corruption behind."""
import json
import os
import struct

import pytest

from qcow2_layout import Layout

L1, L2, REFT, RB, DATA = 0x30000, 0x40000, 0x10000, 0x20000, 0x50000
COPIED, ZERO = 1 << 63, 1


def patch64(path, off, v):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(">Q", v))


def refcount(path, cluster):
    """16-bit refcount of a cluster of the qemu-made base image (one refcount block)."""
    with open(path, "rb") as f:
        f.seek(RB + 2 * cluster)
        return struct.unpack(">H", f.read(2))[0]


@pytest.fixture
def base(img):
    """header 0, reftable 0x10000, refcount block 0x20000, L1 0x30000, L2 0x40000, data
    0x50000 (as in test_hostile.py)."""
    img.qemu_img("create", "-f", "qcow2", "h.qcow2", "16M")
    img.qemu_io("h.qcow2", "write -P 0x5a 0 64k")
    assert img.map_json("h.qcow2", tool="qemu")[0]["offset"] == DATA
    return img.p("h.qcow2")


@pytest.mark.parametrize("flags", [ZERO, 0, ZERO | COPIED], ids=["zero", "normal", "zero-copied"])
@pytest.mark.parametrize("target", [REFT, RB, L1])  # (offset 0 means "none")
@pytest.mark.parametrize("op", ["write:0:4096:0x77", "write:0:65536:0x77", "zero:0:65536",
                                "discard:0:65536"])
def test_entry_on_metadata_never_freed(img, base, flags, target, op):
    # an entry whose host cluster is a table: replacing it would drop the table's refcount
    # (the old code freed the active L1 table's cluster on a zero entry)
    patch64(base, L2, target | flags)
    before = open(base, "rb").read()
    r = img.io(base, op, "flush", check=False)
    assert r.returncode == 1, (op, r.stdout, r.stderr)
    assert "L2 table at 0x40000, entry 0" in r.stderr, r.stderr
    assert "metadata" in r.stderr, r.stderr
    after = open(base, "rb").read()
    assert refcount(base, target // 0x10000) == 1
    for off in (0, REFT, RB, L1):
        assert after[off:off + 0x1000] == before[off:off + 0x1000], hex(off)


@pytest.mark.parametrize("entry,why", [
    (0x50200 | ZERO, "not cluster-aligned"),
    ((1 << 40) | ZERO, "past the end of the file"),
    (COPIED | 0x50200, "not cluster-aligned"),
])
def test_zero_entry_offset_validated(img, base, entry, why):
    patch64(base, L2, entry)
    r = img.io(base, "write:0:4096:0x77", "flush", check=False)
    assert r.returncode == 1 and "L2 table at 0x40000, entry 0" in r.stderr, r.stderr
    assert why in r.stderr, r.stderr


@pytest.mark.parametrize("bit", [1, 2, 8, 56, 61])
@pytest.mark.parametrize("op", ["write:0:4096:0x77", "write:0:65536:0x77", "zero:0:65536"])
def test_l2_reserved_bits_refused(img, base, bit, op):
    patch64(base, L2, COPIED | DATA | (1 << bit))
    before = open(base, "rb").read()
    r = img.io(base, op, "flush", check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "L2 table at 0x40000, entry 0: reserved bits set" in r.stderr, r.stderr
    assert open(base, "rb").read() == before


def test_l2_reserved_bits_in_a_later_entry_of_a_run(img, base):
    # entry 1 continues entry 0's in-place run but has a reserved bit: the run stops there
    # and the entry is refused on its own, with its index
    img.qemu_io(base, "write -P 0x5b 64k 64k")
    e1 = struct.unpack(">Q", open(base, "rb").read()[L2 + 8:L2 + 16])[0]
    patch64(base, L2 + 8, e1 | (1 << 3))
    r = img.io(base, "write:0:131072:0x77", "flush", check=False)
    assert r.returncode == 1 and "L2 table at 0x40000, entry 1: reserved bits set" \
        in r.stderr, r.stderr


@pytest.mark.parametrize("where,value,needle", [
    (L1, COPIED | L2 | 2, "L1 entry 0"),
    (REFT, RB | 0x100, "refcount table entry 0"),
])
def test_l1_and_reftable_reserved_bits_refused(img, base, where, value, needle):
    patch64(base, where, value)
    before = open(base, "rb").read()
    r = img.io(base, "write:0:4096:0x77", "write:0x100000:4096:1", "flush", check=False)
    assert r.returncode == 1 and needle in r.stderr, r.stderr
    assert open(base, "rb").read() == before


def test_convert_error_names_the_entry(img, base):
    patch64(base, L2, COPIED | (1 << 40))
    r = img.img("convert", "-O", "raw", "h.qcow2", "out.raw", check=False)
    assert r.returncode == 1, r.stderr
    assert "L2 table at 0x40000, entry 0: host offset is past the end of the file" \
        in r.stderr, r.stderr
    assert "\n" not in r.stderr.strip()


def test_commit_error_names_the_entry(img):
    img.qemu_img("create", "-f", "qcow2", "b.qcow2", "16M")
    img.qemu_io(img.p("b.qcow2"), "write -P 0x5a 0 64k")
    img.qemu_img("create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "t.qcow2")
    img.qemu_io(img.p("t.qcow2"), "write -P 0x66 0 4k")
    # the backing file's data entry now points at its own L1 table, without COPIED
    lay = Layout(img.p("b.qcow2"))
    l2 = lay.l2_tables()[0]
    patch64(img.p("b.qcow2"), l2, lay.l1_off)
    before = open(img.p("b.qcow2"), "rb").read()
    r = img.img("commit", "t.qcow2", check=False)
    assert r.returncode == 1, r.stderr
    assert f"L2 table at {l2:#x}, entry 0" in r.stderr and "b.qcow2" in r.stderr, r.stderr
    after = open(img.p("b.qcow2"), "rb").read()
    assert after[lay.l1_off:lay.l1_off + 512] == before[lay.l1_off:lay.l1_off + 512]
    img.qemu_io(img.p("t.qcow2"), "read -P 0x66 0 4k")  # the top keeps its data


def test_rebase_refuses_loops(img):
    img.qemu_img("create", "-f", "qcow2", "a.qcow2", "1M")
    img.qemu_img("create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2")
    os.mkdir(img.p("sub"))
    img.qemu_img("create", "-f", "qcow2", "-b", "../b.qcow2", "-F", "qcow2", "sub/c.qcow2")
    cases = [
        ("a.qcow2", "a.qcow2", []),          # onto itself
        ("a.qcow2", "b.qcow2", []),          # a -> b -> a
        ("a.qcow2", "b.qcow2", ["-u"]),      # unsafe too
        ("a.qcow2", "sub/c.qcow2", []),      # a -> c -> (../b relative to sub/) -> a
        ("sub/c.qcow2", "../a.qcow2", []),   # relative to the image's directory: fine
    ]
    for image, onto, extra in cases[:4]:
        before = open(img.p(image), "rb").read()
        r = img.img("rebase", *extra, "-b", onto, "-F", "qcow2", image, check=False)
        assert r.returncode == 1 and "loop" in r.stderr, (image, onto, r.stderr)
        assert open(img.p(image), "rb").read() == before, (image, onto)
    # and from another working directory: relative names resolve against the image's dir
    r = img.run(img.hull, "img", "rebase", "-b", "c.qcow2", "-F", "qcow2",
                img.p("a.qcow2"), check=False)
    assert r.returncode == 1, r.stderr  # ./c.qcow2 next to a.qcow2 does not exist
    img.img("rebase", "-b", "../a.qcow2", "-F", "qcow2", "sub/c.qcow2")
    info = json.loads(img.qemu_img("info", "--output=json", img.p("sub/c.qcow2")).stdout)
    assert info["backing-filename"] == "../a.qcow2"


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16, 32, 64])
def test_convert_compressed_every_refcount_bits(img, bits):
    img.qemu_img("create", "-f", "qcow2", "s.qcow2", "2M")
    img.qemu_io(img.p("s.qcow2"), "write -P 3 0 1M", "write -P 4 1536k 100k")
    img.img("convert", "-c", "-O", "qcow2", "-o", f"refcount_bits={bits},cluster_size=4096",
            "s.qcow2", "c.qcow2")
    img.qemu_check_clean(img.p("c.qcow2"))
    img.qemu_compare(img.p("s.qcow2"), img.p("c.qcow2"), fmt_a="qcow2", fmt_b="qcow2")
    m = img.map_json("c.qcow2", tool="qemu")
    assert any(e["data"] for e in m)


def metadata_ranges(path):
    lay = Layout(path)
    out = [(0, 104), (lay.l1_off, lay.l1_size * 8), (lay.rt_off, lay.rt_clusters * lay.cs)]
    out += [(t, lay.cs) for t in lay.l2_tables()]
    out += [(e & ~0x1ff, lay.cs) for e in lay.reftable() if e & ~0x1ff]
    return out


def qemu_corruptions(img, path):
    r = img.qemu_img("check", "--output=json", path, check=False)
    try:
        return json.loads(r.stdout).get("corruptions", 0)
    except ValueError:
        return None  # qemu-img cannot open it at all


def test_bit_flips_then_write(img, rng):
    """Seeded: flip a few random bits in the tables of a small image, then write to it with
    disk-io or hull img commit. No crash, no hang (the helper's timeout), and a write that
    claims success never leaves qemu-img check reporting corruption where it saw none."""
    img.qemu_img("create", "-f", "qcow2", "-o", "cluster_size=512", "b.qcow2", "256k")
    img.qemu_io(img.p("b.qcow2"), "write -P 1 0 8k", "write -z 16k 2k", "write -P 2 100k 3k")
    img.qemu_img("create", "-f", "qcow2", "-o", "cluster_size=512", "-b", "b.qcow2",
                 "-F", "qcow2", "t.qcow2")
    img.qemu_io(img.p("t.qcow2"), "write -P 5 4k 8k", "write -z 120k 1k")
    seeds = {n: open(img.p(n), "rb").read() for n in ("b.qcow2", "t.qcow2")}
    ranges = {n: metadata_ranges(img.p(n)) for n in seeds}
    claimed = refused = 0
    for i in range(int(os.environ.get("HULL_TEST_FLIPS", "60"))):
        victim = rng.choice(sorted(seeds))
        for n, data in seeds.items():
            open(img.p(n), "wb").write(data)
        b = bytearray(seeds[victim])
        for _ in range(rng.randrange(1, 4)):
            off, ln = rng.choice(ranges[victim])
            pos = off + rng.randrange(ln)
            b[pos] ^= 1 << rng.randrange(8)
        open(img.p(victim), "wb").write(bytes(b))
        before = {n: qemu_corruptions(img, img.p(n)) for n in seeds}
        if rng.random() < 0.5:
            steps = []
            for _ in range(rng.randrange(1, 5)):
                off = rng.randrange(0, 256 * 1024 - 4096)
                kind = rng.choice(["write", "zero", "discard"])
                ln = rng.randrange(1, 4096)
                steps.append(f"{kind}:{off}:{ln}" + (":9" if kind == "write" else ""))
            r = img.io(img.p("t.qcow2"), *steps, "flush", check=False)
        else:
            r = img.img("commit", "t.qcow2", check=False)
        assert r.returncode in (0, 1), (i, victim, r.returncode, r.stderr[-2000:])
        assert "\n" not in r.stderr.strip() or r.returncode == 0, (i, r.stderr)
        if r.returncode != 0:
            refused += 1
            continue
        claimed += 1
        for n in seeds:
            # an image qemu-img found clean stays clean. (One it found corrupt may change:
            # a dangling entry past the end of the file becomes a double reference once the
            # file grows over it, as with qemu; only a full scan before each write would tell)
            if before[n] == 0:
                assert qemu_corruptions(img, img.p(n)) == 0, (i, victim, n, before)
    assert claimed and refused, (claimed, refused)
