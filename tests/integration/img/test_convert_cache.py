"""`hull img convert -t CACHE` (qemu-img's cache modes for the target; -T for the source):
`unsafe` syncs nothing (no fsync, fdatasync or sync_file_range: qemu's cache=unsafe), every
other mode, and no -t, leaves the target synced before it gets its name. The content is the
same either way, and the same as qemu-img's convert, on seeded random chains; a mode qemu
does not know is refused with one line naming the flag."""
import os
import random
import re
import shutil

import pytest

MiB = 1 << 20
SYNCS = re.compile(r"\b(fsync|fdatasync|sync_file_range|syncfs|sync)\(")


def syncs(img, *args):
    log = img.p("strace.log")
    if os.path.exists(log):
        os.unlink(log)
    img.run("strace", "-f", "-qq", "-o", log, "-e", "trace=fsync,fdatasync,sync_file_range,"
            "syncfs,sync", img.hull, "img", *args, limit=False)
    with open(log) as f:
        return [ln for ln in f if SYNCS.search(ln)]


def make_image(img, rng, name, fmt):
    size = rng.randrange(8, 40) * MiB
    img.qemu_img("create", "-q", "-f", fmt, name, str(size))
    ops = []
    for _ in range(rng.randrange(3, 20)):
        off = rng.randrange(0, size // 65536) * 65536
        n = min(rng.choice([4096, 65536, MiB, 3 * MiB]), size - off)
        ops.append(f"write -P {rng.randrange(1, 256)} {off} {n}" if rng.random() < 0.8
                   else f"write -z {off} {n}")
    img.qemu_io(name, *ops, fmt=fmt)


@pytest.mark.skipif(not shutil.which("strace"), reason="strace (Debian package) not installed")
@pytest.mark.parametrize("case", range(4))
def test_unsafe_syncs_nothing_and_keeps_content(img, case):
    seed = int(os.environ.get("HULL_TEST_SEED", "1234")) * 100 + case
    rng = random.Random(seed)
    fmt, out = rng.choice(["qcow2", "raw"]), rng.choice(["qcow2", "raw"])
    make_image(img, rng, "s", fmt)
    img.qemu_img("convert", "-f", fmt, "-O", out, "s", "ref")
    extra = rng.choice([[], ["-m", "1"], ["-W"], ["-T", "none"]])
    for mode in ["unsafe", None, "writeback", "none", "writethrough", "directsync"]:
        dst = f"o-{mode}"
        flags = ["-t", mode] if mode else []
        got = syncs(img, "convert", *flags, *extra, "-f", fmt, "-O", out, "s", dst)
        if mode == "unsafe":
            assert got == [], (seed, got)
        else:
            assert any("fsync(" in ln or "fdatasync(" in ln for ln in got), (seed, mode)
        img.qemu_compare(img.p("ref"), img.p(dst), fmt_a=out, fmt_b=out)
        if out == "qcow2":
            img.qemu_check_clean(img.p(dst))
        os.unlink(img.p(dst))
    assert sorted(os.listdir(img.tmp)) == ["ref", "s", "strace.log"]


@pytest.mark.parametrize("flag", ["-t", "-T"])
@pytest.mark.parametrize("value", ["", "fast", "Unsafe", "writeback,x"])
def test_bad_cache_mode_is_refused(img, flag, value):
    img.qemu_img("create", "-q", "-f", "qcow2", "s.qcow2", "1M")
    q = img.qemu_img("convert", flag, value, "s.qcow2", "q.raw", check=False)
    h = img.img("convert", flag, value, "s.qcow2", "h.raw", check=False)
    assert q.returncode == 1 and h.returncode == 1, (h.stderr, q.stderr)
    assert h.stderr.count("\n") == 1 and flag in h.stderr and "unsafe" in h.stderr, h.stderr
    assert not os.path.exists(img.p("h.raw"))
