"""`hull img map`, `info` and `check` output against qemu-img 7.2's (issue 13 item 7), on
seeded random chains made with qemu-img/qemu-io: random cluster sizes, compat 0.10 and 1.1,
backing files shorter and longer than the image (depth past a shorter backing file), zero
writes that keep or drop their host clusters (`offset` on zero clusters), writes of zeroes
that leave holes in the file under data clusters (which qemu does not split), leaked
clusters (refcounts too high, in the file), and file names with quotes, backslashes and
control characters (JSON escaping). The parsed JSON must be equal, and so must the exit
codes and check's human output.

HULL_IMG_DIFF_CASES (default 150) sets the number of cases (a third of it here, each case
runs a dozen commands); HULL_TEST_SEED the seed. Failures name the case and seed."""
import json
import os
import random

from qcow2_layout import Layout

MiB = 1 << 20
CASES = max(1, int(os.environ.get("HULL_IMG_DIFF_CASES", "150")) // 3)
ODD_NAMES = ['q"uote.qcow2', 'back\\slash.qcow2', 'ctl\x01\x1f.qcow2', 'tab\tname.qcow2']


def random_ops(rng, size):
    cmds = []
    for _ in range(rng.randrange(0, 10)):
        off = rng.randrange(0, size // 512) * 512
        length = min(rng.choice([512, 4096, 65536, 200704, 1 * MiB]), size - off)
        k = rng.random()
        if k < 0.55:
            cmds.append(f"write -P {rng.randrange(1, 256)} {off} {length}")
        elif k < 0.75:
            cmds.append(f"write -z {off} {length}")
        elif k < 0.9:
            cmds.append(f"write -z -u {off} {length}")
        else:
            cmds.append(f"discard {off} {length}")
    return cmds


def make_chain(img, rng):
    """A base and, mostly, a top over it; returns the image to inspect."""
    base = img.p(rng.choice(ODD_NAMES) if rng.random() < 0.2 else "base.qcow2")
    bsize = rng.choice([1, 2, 4, 8]) * MiB + rng.choice([0, 512, 3 * 65536])
    opts = f"cluster_size={rng.choice([512, 4096, 65536, 2 * MiB])}," \
           f"compat={rng.choice(['0.10', '1.1'])}"
    img.qemu_img("create", "-q", "-f", "qcow2", "-o", opts, base, str(bsize))
    cmds = random_ops(rng, bsize)
    if cmds:
        img.qemu_io(base, *cmds)
    if rng.random() < 0.3:
        return base
    top = img.p(rng.choice(ODD_NAMES) if rng.random() < 0.2 else "top.qcow2")
    if top == base:
        top = img.p("top.qcow2")
    tsize = rng.choice([bsize, 2 * bsize, max(512, bsize // 2 // 512 * 512)])
    opts = f"cluster_size={rng.choice([512, 4096, 65536])}," \
           f"compat={rng.choice(['0.10', '1.1'])}"
    img.qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.basename(base),
                 "-o", opts, top, str(tsize))
    cmds = random_ops(rng, tsize)
    if cmds:
        img.qemu_io(top, *cmds)
    return top


def leak(rng, path):
    """Raise the refcount of a data cluster, or count an unused cluster inside the file."""
    lay = Layout(path)
    data = lay.data_clusters()
    if data and rng.random() < 0.6:
        lay.set_refcount(data[0] // lay.cs, 2)
        return
    with open(path, "ab") as f:  # one more cluster in the file, referenced by nothing
        f.truncate(lay.file_clusters() * lay.cs + lay.cs)
    cluster = Layout(path).file_clusters() - 1
    if cluster < lay.rb_entries and lay.reftable()[0]:
        lay.set_refcount(cluster, 1)


def both(img, *args):
    h = img.img(*args, check=False)
    q = img.qemu_img(*args, check=False)
    return h, q


def parsed(r):
    return json.loads(r.stdout) if r.stdout.strip() else None


def first_difference(h, q):
    """The first differing map entry (or the whole outputs)."""
    if isinstance(h, list) and isinstance(q, list):
        for i, (a, b) in enumerate(zip(h, q)):
            if a != b:
                return f"entry {i}:\n hull: {a}\n qemu: {b}"
        return f"lengths {len(h)} vs {len(q)}"
    return f"\n hull: {h}\n qemu: {q}"


def test_map_info_check_like_qemu(img):
    seed = os.environ.get("HULL_TEST_SEED", "1234")
    failures = []
    for i in range(CASES):
        rng = random.Random(f"{seed}-outputs-{i}")
        for name in os.listdir(img.tmp):
            os.unlink(img.p(name))
        path = make_chain(img, rng)
        if rng.random() < 0.3:
            leak(rng, path)
        where = f"case {i} (HULL_TEST_SEED={seed}) {os.path.basename(path)!r}"
        for args in (["map", "--output=json"], ["info", "--output=json"],
                     ["info", "--output=json", "--backing-chain"], ["check", "--output=json"],
                     ["check"]):
            h, q = both(img, *args, path)
            if args == ["check"]:
                same = h.stdout == q.stdout
            else:
                same = parsed(h) == parsed(q)
            if not same or h.returncode != q.returncode:
                what = (f"\n hull: {h.stdout}{h.stderr}\n qemu: {q.stdout}{q.stderr}"
                        if args == ["check"] else first_difference(parsed(h), parsed(q)))
                failures.append(f"{where}: {' '.join(args)}: exit {h.returncode} vs "
                                f"{q.returncode}: {what[:3000]}")
        if len(failures) > 3:
            break
    assert not failures, "\n".join(failures)
