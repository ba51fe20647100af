"""hull img compare, measure, dd, amend, snapshot: differential against qemu-img 7.2.

Images are generated from a seed (HULL_TEST_SEED) with qemu-img/qemu-io; each case runs the
same command with hull and with qemu-img and wants the same exit code and the same output or
guest data. HULL_TEST_CASES raises the number of cases.
"""
import json
import os
import random
import shutil

import pytest

CASES = int(os.environ.get("HULL_TEST_CASES", "12"))
MiB = 1 << 20


def qemu_writes(img, rng, image, size, count, fmt="qcow2"):
    cmds = []
    for _ in range(count):
        off = rng.randrange(0, size // 512) * 512
        length = min(rng.choice([512, 4096, 65536, 3 * 65536 + 512, 300 * 1024]), size - off)
        kind = rng.random()
        if kind < 0.7:
            cmds.append(f"write -P {rng.randrange(0, 256)} {off} {length}")
        elif kind < 0.85:
            cmds.append(f"write -z {off} {length}")
        else:
            cmds.append(f"discard {off} {length}")
    img.qemu_io(image, *cmds, fmt=fmt)


def random_image(img, rng, name, size=None, fmt=None, backing=None):
    """A qcow2 (sometimes over a backing file) or raw image with random content."""
    fmt = fmt or rng.choice(["qcow2", "qcow2", "raw"])
    size = size or rng.choice([1, 2, 3]) * MiB + rng.choice([0, 512, 64 * 1024])
    path = img.p(name)
    args = ["create", "-q", "-f", fmt]
    if fmt == "qcow2":
        cs = rng.choice(["4k", "64k", "512k"])
        args += ["-o", f"cluster_size={cs},compat={rng.choice(['0.10', '1.1'])}"]
        if backing:
            args += ["-b", backing, "-F", "qcow2"]
    img.qemu_img(*args, path, str(size))
    qemu_writes(img, rng, path, size, rng.randrange(0, 12), fmt=fmt)
    return path, fmt


def both(img, *args):
    h = img.img(*args, check=False)
    q = img.qemu_img(*args, check=False)
    return h, q


def test_compare_like_qemu(img, rng):
    for case in range(CASES):
        a, fa = random_image(img, rng, f"a{case}")
        kind = rng.random()
        if kind < 0.3:
            b, fb = a + ".copy", fa
            shutil.copy(a, b)
            if rng.random() < 0.5:
                qemu_writes(img, rng, b, os.path.getsize(a) if fa == "raw" else MiB, 2, fb)
        elif kind < 0.6:
            b, fb = img.p(f"b{case}"), rng.choice(["raw", "qcow2"])
            img.qemu_img("convert", "-f", fa, "-O", fb, a, b)
            if rng.random() < 0.5:
                qemu_writes(img, rng, b, MiB, 1, fb)
        else:
            b, fb = random_image(img, rng, f"b{case}")
        flags = rng.choice([[], ["-q"], ["-s"]])
        args = ["compare", *flags, "-f", fa, "-F", fb, a, b]
        h, q = both(img, *args)
        if "block status" in h.stdout + q.stdout:
            # strict mode compares allocation and zero flags only, not every qemu flag
            # (docs/qcow2.md): a status verdict may differ, content verdicts may not
            continue
        assert h.returncode == q.returncode, (args, h.stdout, h.stderr, q.stdout, q.stderr)
        if "-s" not in flags or "size" in q.stdout:
            assert h.stdout == q.stdout, (args, h.stdout, q.stdout)


def test_compare_errors_and_usage(img):
    img.qemu_img("create", "-q", "-f", "qcow2", img.p("x"), "1M")
    h, q = both(img, "compare", img.p("x"), img.p("missing"))
    assert h.returncode == q.returncode == 2
    assert "missing" in h.stderr
    h, q = both(img, "compare", img.p("x"))
    assert h.returncode == q.returncode == 1


def test_measure_like_qemu(img, rng):
    for case in range(CASES):
        src, fmt = random_image(img, rng, f"m{case}")
        opts = rng.choice(["", "cluster_size=4k", "refcount_bits=1", "compat=0.10",
                           "cluster_size=2M,refcount_bits=64", "cluster_size=512"])
        args = ["measure", "-O", rng.choice(["qcow2", "qcow2", "raw"])]
        if opts:
            args += ["-o", opts]
        if rng.random() < 0.5:
            args += ["--output=json"]
        if rng.random() < 0.3:
            args += ["--size", str(rng.randrange(1, 1 << 40))]
        else:
            args += ["-f", fmt, src]
        h, q = both(img, *args)
        assert (h.returncode, h.stdout) == (q.returncode, q.stdout), (
            args, h.stderr, q.stderr, img.qemu_img("map", "--output=json", src).stdout)


def test_measure_usage(img):
    img.qemu_img("create", "-q", "-f", "qcow2", img.p("x"), "1M")
    for args in (["measure"], ["measure", "--size", "1M", img.p("x")]):
        h, q = both(img, *args)
        assert h.returncode == q.returncode == 1, args
    h = img.img("measure", "--output=json", "-O", "qcow2", "--size", "1G")
    assert json.loads(h.stdout) == {"required": 393216, "fully-allocated": 1074135040}


def test_dd_like_qemu(img, rng):
    for case in range(CASES):
        src, fmt = random_image(img, rng, f"d{case}")
        ofmt = rng.choice(["raw", "qcow2"])
        ops = []
        bs = rng.choice([512, 1000, 4096, 65536, 1 << 20])
        ops.append(f"bs={bs}")
        if rng.random() < 0.5:
            ops.append(f"count={rng.randrange(0, 4 * MiB // bs + 2)}")
        if rng.random() < 0.5:
            ops.append(f"skip={rng.randrange(0, 4 * MiB // bs + 2)}")
        h = img.img("dd", "-f", fmt, "-O", ofmt, f"if={src}", f"of={img.p('h.out')}", *ops,
                    check=False)
        q = img.qemu_img("dd", "-f", fmt, "-O", ofmt, f"if={src}", f"of={img.p('q.out')}",
                         *ops, check=False)
        assert h.returncode == q.returncode == 0, (ops, h.stderr, q.stderr)
        assert ("cannot skip" in h.stderr) == ("cannot skip" in q.stderr), ops
        hi = json.loads(img.qemu_img("info", "--output=json", img.p("h.out")).stdout)
        qi = json.loads(img.qemu_img("info", "--output=json", img.p("q.out")).stdout)
        assert (hi["format"], hi["virtual-size"]) == (qi["format"], qi["virtual-size"]), ops
        img.qemu_compare(img.p("h.out"), img.p("q.out"), fmt_a=ofmt, fmt_b=ofmt)
        if ofmt == "qcow2":
            img.qemu_check_clean(img.p("h.out"))


def test_dd_usage(img):
    img.qemu_img("create", "-q", "-f", "raw", img.p("x"), "1M")
    for ops in ([f"if={img.p('x')}"], [f"if={img.p('x')}", "of=y", "foo=1"],
                [f"if={img.p('x')}", "of=y", "bs=0"], ["if=missing", "of=y"]):
        h, q = both(img, "dd", *ops)
        assert h.returncode == q.returncode == 1, ops
    assert not os.path.exists(img.p("y"))


def info_fields(img, path):
    i = json.loads(img.qemu_img("info", "--output=json", path).stdout)
    d = i.get("format-specific", {}).get("data", {})
    return (i["virtual-size"], d.get("compat"), d.get("lazy-refcounts"), d.get("refcount-bits"))


AMEND_OPTS = ["compat=0.10", "compat=1.1", "lazy_refcounts=on", "lazy_refcounts=off",
              "refcount_bits=1", "refcount_bits=2", "refcount_bits=8", "refcount_bits=64",
              "compat=0.10,refcount_bits=16", "compat=1.1,lazy_refcounts=on,refcount_bits=4",
              "size=5M", "compat=0.9", "cluster_size=4k", "lazy_refcounts=maybe",
              "refcount_bits=3"]


def test_amend_like_qemu(img, rng):
    base = img.p("base")
    img.qemu_img("create", "-q", "-f", "qcow2", base, "4M")
    qemu_writes(img, rng, base, 4 * MiB, 6)
    for case in range(CASES * 2):
        h = img.p(f"h{case}")
        create = rng.choice(["compat=0.10", "compat=1.1", "compat=1.1,lazy_refcounts=on",
                             "compat=1.1,refcount_bits=4", "compat=1.1,refcount_bits=64"])
        args = ["create", "-q", "-f", "qcow2", "-o", create + ",cluster_size=" +
                rng.choice(["4k", "64k"])]
        if rng.random() < 0.3:
            args += ["-b", base, "-F", "qcow2"]
        img.qemu_img(*args, h, "3M")
        qemu_writes(img, rng, h, 3 * MiB, rng.randrange(0, 10))
        if rng.random() < 0.2:  # clusters with refcount 2: refcount_bits=1 must refuse
            img.qemu_img("snapshot", "-c", "s1", h)
        q = h + ".q"
        shutil.copy(h, q)
        opts = rng.choice(AMEND_OPTS)
        hr = img.img("amend", "-o", opts, h, check=False)
        qr = img.qemu_img("amend", "-o", opts, q, check=False)
        assert hr.returncode == qr.returncode, (create, opts, hr.stderr, qr.stderr)
        assert info_fields(img, h) == info_fields(img, q), (create, opts)
        img.qemu_compare(h, q, fmt_a="qcow2", fmt_b="qcow2")
        img.qemu_check_clean(h)
        assert img.img("check", h, check=False).returncode == 0, (create, opts)


def test_amend_usage(img):
    img.qemu_img("create", "-q", "-f", "raw", img.p("r"), "1M")
    img.qemu_img("create", "-q", "-f", "qcow2", img.p("q"), "1M")
    for args in (["amend", img.p("q")], ["amend", "-o", "compat=0.10", img.p("missing")],
                 ["amend", "-f", "raw", "-o", "compat=0.10", img.p("r")]):
        h, q = both(img, *args)
        assert h.returncode == q.returncode == 1, args


def snap_names(img, path):
    i = json.loads(img.qemu_img("info", "--output=json", path).stdout)
    return [(s["id"], s["name"]) for s in i.get("snapshots", [])]


def test_snapshot_like_qemu(img, rng):
    """Random writes and snapshot -c/-a/-d, by hull on one copy and qemu-img on another:
    same exit codes, same snapshot tables, same guest data; each tool reads the other's
    snapshots; both checks are clean after every step."""
    for case in range(max(2, CASES // 3)):
        h = img.p(f"s{case}")
        cs = rng.choice(["4k", "64k"])
        compat = rng.choice(["0.10", "1.1"])
        img.qemu_img("create", "-q", "-f", "qcow2", "-o", f"cluster_size={cs},compat={compat}",
                     h, "2M")
        q = h + ".q"
        shutil.copy(h, q)
        names = []
        for step in range(12):
            kind = rng.random()
            if kind < 0.4:
                seed = rng.randrange(1 << 30)
                for path in (h, q):  # the same writes, through qemu-io, on both copies
                    qemu_writes(img, random.Random(seed), path, 2 * MiB, 3)
                continue
            if kind < 0.47 and compat == "1.1":  # snapshots keep the size: -a restores it
                for path in (h, q):
                    img.qemu_img("resize", "-q", path, "+512K")
                continue
            if kind < 0.65 or not names:
                name = rng.choice(["a", "b", "snap", "a"])
                args = ["snapshot", "-c", name]
                names.append(name)
            elif kind < 0.85:
                args = ["snapshot", "-a", rng.choice(names + ["1", "2", "missing"])]
            else:
                args = ["snapshot", "-d", rng.choice(names + ["missing"])]
            # hull on h, qemu-img on q; tool roles swap every other case
            a, b = (h, q) if case % 2 == 0 else (q, h)
            hr = img.img(*args, a, check=False)
            qr = img.qemu_img(*args, b, check=False)
            assert hr.returncode == qr.returncode, (args, hr.stderr, qr.stderr)
            assert snap_names(img, h) == snap_names(img, q), args
            img.qemu_compare(h, q, fmt_a="qcow2", fmt_b="qcow2")
            for path in (h, q):
                img.qemu_check_clean(path)
                assert img.img("check", path, check=False).returncode == 0, args
        # every snapshot reads the same in both copies (applied by the other tool)
        for sid, _ in snap_names(img, h):
            img.img("snapshot", "-a", sid, h)
            img.qemu_img("snapshot", "-a", sid, q)
            img.qemu_compare(h, q, fmt_a="qcow2", fmt_b="qcow2")
            img.qemu_check_clean(h)
        hl = img.img("snapshot", "-l", h).stdout.splitlines()
        ql = img.qemu_img("snapshot", "-l", h).stdout.splitlines()
        assert hl == ql


def test_snapshot_usage_and_raw(img):
    img.qemu_img("create", "-q", "-f", "raw", img.p("r"), "1M")
    img.qemu_img("create", "-q", "-f", "qcow2", img.p("q"), "1M")
    for args in (["snapshot", "-l", "-c", "x", img.p("q")], ["snapshot", "-d", "x", img.p("q")],
                 ["snapshot", "-a", "x", img.p("q")], ["snapshot", "-c", "x", "-f", "raw",
                                                        img.p("r")]):
        h, q = both(img, *args)
        assert h.returncode == q.returncode == 1, args
    h, q = both(img, "snapshot", "-l", img.p("q"))
    assert (h.returncode, h.stdout) == (q.returncode, q.stdout) == (0, "")


def test_bench_like_qemu(img, rng):
    """Same request stream as qemu-img bench: same first line, same exit code, and a write
    run leaves the same guest data."""
    for case in range(CASES):
        size = rng.choice([1, 4]) * MiB
        args = ["bench", "-c", str(rng.randrange(1, 300)), "-s",
                str(rng.choice([512, 4096, 65536])), "-d", "1"]
        if rng.random() < 0.5:
            args += ["-S", str(rng.choice([512, 3000, 65536, MiB]))]
        if rng.random() < 0.3:
            args += ["-o", str(rng.randrange(0, size // 512) * 512)]
        if rng.random() < 0.6:
            args += ["-w", f"--pattern={rng.randrange(256)}"]
            if rng.random() < 0.5:
                args += ["--flush-interval", str(rng.randrange(1, 20))]
        h, q = img.p(f"b{case}"), img.p(f"b{case}.q")
        img.qemu_img("create", "-q", "-f", "qcow2", h, str(size))
        shutil.copy(h, q)
        hr = img.img(*args, h, check=False)
        qr = img.qemu_img(*args, q, check=False)
        assert hr.returncode == qr.returncode, (args, hr.stderr, qr.stderr)
        assert hr.stdout.splitlines()[:1] == qr.stdout.splitlines()[:1], args
        if hr.returncode == 0:
            assert hr.stdout.splitlines()[-1].startswith("Run completed in ")
            img.qemu_compare(h, q, fmt_a="qcow2", fmt_b="qcow2")
            img.qemu_check_clean(h)


def test_bench_usage(img):
    img.qemu_img("create", "-q", "-f", "qcow2", img.p("q"), "1M")
    for args in (["bench", "--flush-interval=2", img.p("q")],
                 ["bench", "-w", "-c", "3", "--flush-interval=2", img.p("q")],
                 ["bench", img.p("missing")]):
        h, q = both(img, *args)
        assert h.returncode == q.returncode == 1, args


def test_hull_writes_after_hull_snapshot(img, rng):
    """hull's own write path copies the clusters a hull snapshot shares, and QEMU gets the
    snapshot's data back."""
    for case in range(max(2, CASES // 4)):
        p = img.p(f"w{case}")
        img.qemu_img("create", "-q", "-f", "qcow2", "-o",
                     f"cluster_size={rng.choice(['4k', '64k'])}", p, "2M")
        qemu_writes(img, rng, p, 2 * MiB, 6)
        img.qemu_img("convert", "-O", "raw", p, img.p("before.raw"))
        img.img("snapshot", "-c", "s", p)
        steps = []
        for _ in range(8):
            off = rng.randrange(0, 2 * MiB - 70000)
            steps.append(f"write:{off}:{rng.choice([1, 4096, 65536])}:{rng.randrange(1, 256)}")
        img.io(p, *steps)
        img.qemu_check_clean(p)
        img.qemu_img("convert", "-O", "raw", p, img.p("after.raw"))
        img.qemu_img("snapshot", "-a", "s", p)
        img.qemu_compare(p, img.p("before.raw"), fmt_a="qcow2")
        img.qemu_check_clean(p)
        img.img("snapshot", "-d", "s", p)
        img.qemu_check_clean(p)
        img.qemu_compare(p, img.p("before.raw"), fmt_a="qcow2")


def test_snapshot_on_hostile_image_fails_cleanly(img):
    """An active L2 entry that points past the end of the file: snapshot -c fails (exit 1,
    no crash), lists nothing new, and leaves no more corruption than the image had."""
    import struct
    p = img.p("bad")
    img.qemu_img("create", "-q", "-f", "qcow2", p, "1M")
    img.qemu_io(p, "write -P 1 0 64k", "write -P 2 128k 64k")
    with open(p, "r+b") as f:
        f.seek(40)
        l1 = struct.unpack(">Q", f.read(8))[0]
        f.seek(l1)
        l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
        f.seek(l2 + 16)  # guest cluster 2 (128k)
        f.write(struct.pack(">Q", (1 << 63) | (1 << 40)))
    before = json.loads(img.qemu_img("check", "--output=json", p, check=False).stdout)
    r = img.img("snapshot", "-c", "x", p, check=False)
    assert r.returncode == 1 and "snapshot 'x'" in r.stderr, r.stderr
    assert img.img("snapshot", "-l", p).stdout == ""
    after = json.loads(img.qemu_img("check", "--output=json", p, check=False).stdout)
    assert after.get("corruptions", 0) <= before.get("corruptions", 0), (before, after)


@pytest.mark.parametrize("op", [("snapshot-c", "new"), ("snapshot-d", "old"),
                                ("snapshot-a", "old"), ("amend", "refcount_bits=4"),
                                ("amend", "refcount_bits=64,lazy_refcounts=on")])
def test_crash_at_every_metadata_write(img, rng, op):
    """End the operation at each of its metadata writes in turn: no cluster is ever referenced
    beyond its refcount (leaks allowed; a COPIED flag that disagrees with a refcount, which
    refcount and L2 writes cannot change together, as in QEMU, and which check -r all fixes),
    the guest sees either the old or the new state, and the snapshot table is either the old
    or the new one."""
    helper = os.path.join(os.path.dirname(img.disk_io), "img-crash")
    base = img.p("base")
    img.qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", base, "1M")
    qemu_writes(img, rng, base, MiB, 6)
    img.qemu_img("snapshot", "-c", "old", base)
    qemu_writes(img, rng, base, MiB, 6)
    img.qemu_img("convert", "-O", "raw", base, img.p("active.raw"))
    shutil.copy(base, img.p("snapcopy"))
    img.qemu_img("snapshot", "-a", "old", img.p("snapcopy"))
    img.qemu_img("convert", "-O", "raw", img.p("snapcopy"), img.p("snap.raw"))
    allowed = [img.p("active.raw")] + ([img.p("snap.raw")] if op[0] == "snapshot-a" else [])
    old_names = snap_names(img, base)
    for n in range(1, 400):
        p = img.p("c")
        shutil.copy(base, p)
        r = img.run(helper, n, p, *op, check=False)
        assert r.returncode in (0, 99), (n, r.stderr)
        r2 = img.qemu_img("check", p, check=False)
        errors = [line for line in (r2.stdout + r2.stderr).splitlines()
                  if line.startswith("ERROR")]
        assert all("OFLAG_COPIED" in e for e in errors), (n, errors[:3])
        if errors:
            img.qemu_img("check", "-q", "-r", "all", p, check=False)
        out = json.loads(img.qemu_img("check", "--output=json", p, check=False).stdout)
        assert out.get("corruptions", 0) == 0, (n, out)
        same = [a for a in allowed if img.qemu_img("compare", "-F", "raw", p, a,
                                                   check=False).returncode == 0]
        assert same, n
        names = snap_names(img, p)
        assert names == old_names or len(names) == len(old_names) + (
            1 if op[0] == "snapshot-c" else -1 if op[0] == "snapshot-d" else 0), (n, names)
        if r.returncode == 0:
            break
    else:
        pytest.fail("the operation never finished")
    if op[0] == "snapshot-a":
        assert same == [img.p("snap.raw")]
