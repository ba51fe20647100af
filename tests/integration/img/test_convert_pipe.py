"""`hull img convert` with several reads in flight (issue 13 item 10): -m N (1..16, default 8,
as qemu-img) and -W (out-of-order writes).

Seeded random chains (made with qemu-img/qemu-io: raw or qcow2 bases, random cluster sizes,
data, zeroes and discards, sizes that make many 2 MiB extents) are converted to raw and qcow2
with -m 1, 2, 8, 16, with and without -W, and checked against qemu-img convert's output: the
same content (qemu-img compare), the same allocation (qemu-img map, host offsets aside), and
qcow2 outputs clean for qemu-img check. In-order outputs are byte for byte the -m 1 output:
the target sees the writes of a serial copy, in the same order.

A read that fails in the middle of the copy (a corrupt L2 entry, a corrupt compressed
cluster) gives one error line naming the table and entry where there is one, exit 1, and no
target (an existing one is kept as it was) and no temporary file.

HULL_IMG_DIFF_CASES (default 150; a twentieth of it here) sets the number of chains;
HULL_TEST_SEED the seed. Failures name the case and seed."""
import filecmp
import json
import os
import random
import resource
import struct
import subprocess

import pytest

from qcow2_layout import Layout

KiB, MiB = 1 << 10, 1 << 20
CASES = max(2, int(os.environ.get("HULL_IMG_DIFF_CASES", "150")) // 20)
PARALLEL = [1, 2, 8, 16]


def random_ops(rng, size, count):
    cmds = []
    for _ in range(count):
        off = rng.randrange(0, size // 512) * 512
        if rng.random() < 0.5:
            off -= off % (64 * KiB)
        length = min(rng.choice([512, 4096, 65536, 300 * KiB, 1 * MiB, 3 * MiB + 4096]),
                     size - off)
        k = rng.random()
        if k < 0.65:
            # pattern 0 now and then: data that reads as zeroes, which convert skips
            pat = 0 if rng.random() < 0.1 else rng.randrange(1, 256)
            cmds.append(f"write -P {pat} {off} {length}")
        elif k < 0.85:
            cmds.append(f"write -z {off} {length}")
        else:
            cmds.append(f"discard {off} {length}")
    return cmds


def make_chain(img, rng, d):
    """base [<- mid] <- top in directory d (a base of several MiB, partly full); returns the
    top's path."""
    os.makedirs(d)
    size = rng.randrange(4 * MiB, 24 * MiB) // 512 * 512
    prev, prev_fmt = None, None
    for i in range(rng.choice([1, 2, 2, 3])):
        fmt = "raw" if i == 0 and rng.random() < 0.3 else "qcow2"
        path = os.path.join(d, f"l{i}.{fmt}")
        args = ["create", "-q", "-f", fmt]
        if fmt == "qcow2":
            args += ["-o", f"cluster_size={rng.choice([4096, 65536, 65536, 2 * MiB])}"]
        if prev:
            args += ["-b", os.path.basename(prev), "-F", prev_fmt]
        lsize = size if i == 0 else rng.choice([size, size + 3 * MiB, size // 2 // 512 * 512])
        img.qemu_img(*args, path, str(lsize))
        if i == 0 and rng.random() < 0.7:
            img.qemu_io(path, f"write -P {rng.randrange(1, 256)} 0 {lsize // 2}", fmt=fmt)
        cmds = random_ops(rng, lsize, rng.randrange(1, 12))
        img.qemu_io(path, *cmds, fmt=fmt)
        prev, prev_fmt = path, fmt
    return prev


def allocation(img, path, fmt):
    """qemu-img map of path without host offsets, adjacent equal ranges merged."""
    out = json.loads(img.qemu_img("map", "--output=json", "-f", fmt, path).stdout)
    merged = []
    for e in out:
        key = (e["depth"], e["present"], e["zero"], e["data"])
        if merged and merged[-1][0] == key and merged[-1][1] + merged[-1][2] == e["start"]:
            merged[-1][2] += e["length"]
        else:
            merged.append([key, e["start"], e["length"]])
    return merged


def no_temporaries(d):
    return [n for n in os.listdir(d) if ".hull-tmp." in n] == []


def test_parallel_convert_like_qemu(img):
    seed = os.environ.get("HULL_TEST_SEED", "1234")
    for i in range(CASES):
        rng = random.Random(f"{seed}-convert-pipe-{i}")
        where = f"case {i} (HULL_TEST_SEED={seed})"
        d = img.p(f"c{i}")
        top = make_chain(img, rng, d)
        for fmt in ("raw", "qcow2"):
            ref = os.path.join(d, f"qemu.{fmt}")
            img.qemu_img("convert", "-O", fmt, top, ref)
            want = allocation(img, ref, fmt)
            serial = None
            for m in PARALLEL:
                for ooo in (False, True):
                    out = os.path.join(d, f"hull-m{m}{'-W' if ooo else ''}.{fmt}")
                    img.img("convert", "-m", str(m), *(["-W"] if ooo else []), "-O", fmt,
                            top, out)
                    what = f"{where}: -m {m}{' -W' if ooo else ''} -O {fmt}"
                    r = img.qemu_img("compare", "-F", fmt, "-f", fmt, ref, out, check=False)
                    assert r.returncode == 0, f"{what}: {r.stdout}{r.stderr}"
                    assert allocation(img, out, fmt) == want, what
                    if fmt == "qcow2":
                        img.qemu_check_clean(out)
                    if serial is None:
                        serial = out
                    elif not ooo:
                        assert filecmp.cmp(serial, out, shallow=False), \
                            f"{what}: not the serial copy's file"
                    if out != serial:
                        os.unlink(out)
            os.unlink(serial)
            os.unlink(ref)
        assert no_temporaries(d), os.listdir(d)


def test_default_is_parallel_and_w_keeps_content(img):
    """No -m: 8 readers (the same file as -m 8); -W and the default both as qemu-img's."""
    img.qemu_img("create", "-q", "-f", "qcow2", "b.qcow2", "40M")
    img.qemu_io("b.qcow2", "write -P 9 0 40M", "write -z 7M 3M", "write -P 0 20M 2M")
    img.qemu_img("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "t.qcow2")
    img.qemu_io("t.qcow2", *[f"write -P {k} {k * 1531 * 512} 4k" for k in range(1, 50)])
    img.img("convert", "-O", "qcow2", "t.qcow2", "d.qcow2")
    img.img("convert", "-m", "8", "-O", "qcow2", "t.qcow2", "m8.qcow2")
    assert filecmp.cmp(img.p("d.qcow2"), img.p("m8.qcow2"), shallow=False)
    img.img("convert", "-W", "-m", "16", "-O", "qcow2", "t.qcow2", "w.qcow2")
    img.qemu_compare(img.p("t.qcow2"), img.p("w.qcow2"), fmt_a="qcow2", fmt_b="qcow2")
    img.qemu_check_clean(img.p("w.qcow2"))


@pytest.mark.parametrize("value", ["0", "17", "abc", "-1", "8x", ""])
def test_bad_m_is_refused_like_qemu(img, value):
    img.qemu_img("create", "-q", "-f", "qcow2", "s.qcow2", "1M")
    q = img.qemu_img("convert", "-m", value, "s.qcow2", "q.raw", check=False)
    h = img.img("convert", "-m", value, "s.qcow2", "h.raw", check=False)
    assert h.returncode == q.returncode == 1, (h.stderr, q.stderr)
    assert h.stderr.count("\n") == 1 and "-m" in h.stderr and "1 to 16" in h.stderr, h.stderr
    assert sorted(os.listdir(img.tmp)) == ["s.qcow2"]


def patch64(path, off, v):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(">Q", v))


def corrupt_l2(img, base):
    """An L2 entry in the middle of the base points past the end of its file."""
    lay = Layout(base)
    l2 = lay.l2_tables()[0]
    entry = (12 * MiB) // lay.cs
    patch64(base, l2 + 8 * entry, (1 << 63) | (1 << 40))
    return f"entry {entry}: host offset is past the end of the file"


def corrupt_compressed(img, base):
    """A compressed cluster in the middle of the base holds garbage."""
    img.qemu_img("convert", "-c", "-O", "qcow2", base, base + ".c")
    os.replace(base + ".c", base)
    lay = Layout(base)
    l2 = lay.l2_tables()[0]
    with open(base, "rb") as f:
        f.seek(l2 + 8 * ((12 * MiB) // lay.cs))
        e = struct.unpack(">Q", f.read(8))[0]
    assert e & (1 << 62), hex(e)  # compressed
    host = e & ((1 << (62 - (lay.cs.bit_length() - 1 - 8))) - 1)
    with open(base, "r+b") as f:
        f.seek(host)
        f.write(bytes(random.Random(7).randrange(256) for _ in range(512)))
    return None


@pytest.mark.parametrize("corrupt", [corrupt_l2, corrupt_compressed])
def test_failing_read_mid_copy(img, corrupt):
    base = img.p("b.qcow2")
    img.qemu_img("create", "-q", "-f", "qcow2", base, "24M")
    img.qemu_io(base, *[f"write -P {k + 1} {k * MiB} 1M" for k in range(24)])
    img.qemu_img("create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "t.qcow2")
    img.qemu_io("t.qcow2", "write -P 0xee 1M 64k", "write -P 0xdd 20M 64k")
    needle = corrupt(img, base)
    old = b"the previous target" * 100
    for m in PARALLEL:
        for ooo in (False, True):
            for fmt in ("raw", "qcow2"):
                with open(img.p("keep.img"), "wb") as f:
                    f.write(old)
                for out in ("new.img", "keep.img"):
                    r = img.img("convert", "-m", str(m), *(["-W"] if ooo else []), "-O", fmt,
                                "t.qcow2", out, check=False)
                    what = (m, ooo, fmt, out, r.stderr)
                    assert r.returncode == 1, what
                    lines = r.stderr.strip().split("\n")
                    assert len(lines) == 1 and "convert t.qcow2 to " + out in lines[0], what
                    if needle:
                        assert "b.qcow2: L2 table at" in lines[0] and needle in lines[0], what
                    assert not os.path.exists(img.p("new.img")), what
                    assert open(img.p("keep.img"), "rb").read() == old, what
                    assert no_temporaries(img.tmp), os.listdir(img.tmp)
    os.unlink(img.p("keep.img"))
    assert sorted(os.listdir(img.tmp)) == ["b.qcow2", "t.qcow2"]


def test_many_readers_on_big_clusters_stay_in_memory(img):
    """Each reader opens the whole chain, and a QCOW2 handle with 2 MiB clusters keeps
    ~40 MiB of caches: -m 16 on three such layers is capped to what 192 MiB allows instead
    of aborting out of memory (the tests run hull with 1 GiB of address space)."""
    prev = None
    for i in range(3):
        args = ["create", "-q", "-f", "qcow2", "-o", "cluster_size=2M"]
        if prev:
            args += ["-b", prev, "-F", "qcow2"]
        img.qemu_img(*args, f"l{i}.qcow2", "64M")
        img.qemu_io(f"l{i}.qcow2", f"write -P {i + 1} {i * 3}M 40M")
        prev = f"l{i}.qcow2"
    for m in (8, 16):
        r = img.img("convert", "-m", str(m), "-O", "raw", prev, "o.raw", check=False)
        assert r.returncode == 0, (m, r.stderr)
        img.qemu_compare(img.p(prev), img.p("o.raw"), fmt_a="qcow2")
        os.unlink(img.p("o.raw"))
    assert no_temporaries(img.tmp)


def test_out_of_file_descriptors_uses_fewer_readers(img):
    """A 40-deep chain with 200 file descriptors: 16 readers do not fit, the ones that do
    copy it."""
    img.qemu_img("create", "-q", "-f", "qcow2", "l0.qcow2", "8M")
    img.qemu_io("l0.qcow2", "write -P 3 0 8M")
    for i in range(1, 40):
        img.qemu_img("create", "-q", "-f", "qcow2", "-b", f"l{i - 1}.qcow2", "-F", "qcow2",
                     f"l{i}.qcow2")
    img.qemu_io("l39.qcow2", "write -P 4 1M 64k")

    def few_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    r = subprocess.run([str(img.hull), "img", "convert", "-m", "16", "-O", "raw", "l39.qcow2",
                        "o.raw"], cwd=img.tmp, capture_output=True, text=True,
                       preexec_fn=few_fds, timeout=300)
    assert r.returncode == 0, r.stderr
    img.qemu_compare(img.p("l39.qcow2"), img.p("o.raw"), fmt_a="qcow2")
    assert no_temporaries(img.tmp)
