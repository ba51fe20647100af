"""Crash safety: end the writer at every metadata write or sync (disk-io --crash-after N, the
ordering points of src/disk/qcow2.h) and check that the image is still consistent for
qemu-img (leaks allowed, no corruption) and that every acknowledged flush is durable."""
import json
import shutil

import pytest

MiB = 1 << 20


def plan(cluster):
    """Steps, and for each flush the regions (off, len, byte) that it makes durable."""
    steps, durable, pending = [], [], []
    scratch = 6 * MiB
    for i in range(6):
        off, length, byte = i * 300000 + 1000 + (i % 3) * cluster, 70000, i + 1
        steps.append(f"write:{off}:{length}:{byte}")
        pending.append((off, length, byte))
        if i % 3 == 1:
            # churn that frees clusters (not verified): zero and discard scratch space
            steps.append(f"write:{scratch}:{4 * cluster}:200")
            steps.append(f"zero:{scratch}:{2 * cluster}:unmap")
            steps.append(f"discard:{scratch + 2 * cluster}:{2 * cluster}")
        if i % 2 == 1:
            steps.append("flush")
            durable.append(list(pending))
    return steps, durable


@pytest.mark.slow
@pytest.mark.parametrize("opts", ["cluster_size=65536", "cluster_size=512,refcount_bits=4",
                                  "compat=0.10", "backing"])
def test_crash_at_every_ordering_point(img, opts):
    size = 8 * MiB
    if opts == "backing":
        img.qemu_img("create", "-f", "qcow2", "base.qcow2", str(size))
        img.qemu_io("base.qcow2", "write -P 0xee 0 8M")
        img.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                "pristine.qcow2")
    else:
        img.img("create", "-q", "-f", "qcow2", "-o", opts, "pristine.qcow2", str(size))
    cluster = json.loads(img.qemu_img("info", "--output=json",
                                      "pristine.qcow2").stdout)["cluster-size"]
    steps, durable = plan(cluster)
    completed = False
    for n in range(1, 2000):
        shutil.copy(img.p("pristine.qcow2"), img.p("c.qcow2"))
        r = img.io("c.qcow2", *steps, crash_after=n, check=False)
        assert r.returncode in (0, 99), r.stderr
        acked = r.stdout.count("flushed")
        chk = img.qemu_img("check", "--output=json", "c.qcow2", check=False)
        assert chk.returncode in (0, 3), f"crash point {n}: {chk.stdout}{chk.stderr}"
        assert json.loads(chk.stdout).get("corruptions", 0) == 0, n
        img.qemu_img("convert", "-O", "raw", "c.qcow2", "c.raw")
        data = open(img.p("c.raw"), "rb").read()
        if acked:
            for off, length, byte in durable[acked - 1]:
                assert data[off:off + length] == bytes([byte]) * length, \
                    f"crash point {n}: flush {acked} acknowledged but region {off} lost"
        # our own checker agrees with qemu-img's verdict
        ours = img.img("check", "c.qcow2", check=False)
        assert ours.returncode == chk.returncode, (n, ours.stdout, chk.stdout)
        if r.returncode == 0:
            completed = True
            assert acked == len(durable)
            break
    assert completed, "the writer never finished: too many ordering points?"
    assert n > 5, "expected several ordering points"
