"""Image locking as QEMU 7.2 does it (src/disk/disk-lock.c): hull and qemu-io/qemu-img see
each other's users of an image through the same open-file-description lock bytes, both ways,
hull sees hull, and -U (force-share) lets read-only commands inspect a busy image.

Holders are kept open on a pipe: qemu-io reading commands from stdin (it has opened the
image once it prints its prompt) and tests/unit/disk/disk-io's `hold` step.
"""
import contextlib
import os
import subprocess

import pytest

WRITE_LOCK = 'failed to get "write" lock'
SHARED_LOCK = 'failed to get shared "write" lock'


@contextlib.contextmanager
def holder(args, ready):
    """Run args with stdin on a pipe until it prints ready; close stdin at the end."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = b""
    try:
        while ready not in out:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"{args} ended before {ready!r}: {out!r} "
                                     f"{p.stderr.read()!r}")
            out += chunk
        yield p
    finally:
        p.stdin.close()
        p.wait(timeout=60)
        p.stdout.close()
        p.stderr.close()


def qemu_io_holder(image, read_only=False, share=False):
    args = ["qemu-io", "-f", "qcow2"] + (["-r"] if read_only else [])
    args += (["-U"] if share else []) + [image]
    return holder(args, b"qemu-io>")


def hull_holder(img, image, read_only=False, share=False):
    args = [img.disk_io] + (["--ro"] if read_only else []) + (["-U"] if share else [])
    return holder(args + [image, "hold"], b"holding")


def refused(r, text, image):
    assert r.returncode != 0, r.stdout
    assert text in r.stderr and image in r.stderr, r.stderr


def make(img, name, backing=None, data=True):
    path = img.p(name)
    if backing:
        img.qemu_img("create", "-f", "qcow2", "-F", "qcow2", "-b", backing, path)
    else:
        img.qemu_img("create", "-f", "qcow2", path, "4M")
    if data:
        img.qemu_io(path, "write -P 7 0 64k")
    return path


def read_only_commands(img, image, flag):
    """Every read-only hull img command over image, each with flag ([] or ["-U"])."""
    out = img.p("out.raw")
    cmds = [["info"], ["check"], ["map", "--output=json"], ["compare", image, image],
            ["convert", "-O", "raw", image, out], ["measure", "-O", "qcow2"],
            ["dd", f"if={image}", f"of={out}", "bs=64k", "count=1"], ["snapshot", "-l"]]
    for c in cmds:
        args = [c[0]] + flag + c[1:]
        if c[0] not in ("compare", "convert", "dd"):
            args.append(image)
        if os.path.exists(out):
            os.unlink(out)
        yield args


def test_qemu_writer_blocks_hull(img):
    image = make(img, "a.qcow2")
    with qemu_io_holder(image):
        for args in read_only_commands(img, image, []):
            refused(img.img(*args, check=False), SHARED_LOCK, image)
        for args in read_only_commands(img, image, ["-U"]):
            img.img(*args)
        for args in (["resize", image, "8M"], ["check", "-r", "all", image],
                     ["snapshot", "-c", "s1", image], ["amend", "-o", "compat=0.10", image],
                     ["bench", "-w", "-c", "1", image]):
            refused(img.img(*args, check=False), WRITE_LOCK, image)
        refused(img.io(image, "write:0:512:1", check=False), WRITE_LOCK, image)
    # the holder is gone: its locks with it
    img.img("resize", image, "8M")
    img.qemu_check_clean(image)


def test_qemu_reader_blocks_hull_writer_only(img):
    image = make(img, "a.qcow2")
    with qemu_io_holder(image, read_only=True):
        for args in read_only_commands(img, image, []):
            img.img(*args)
        refused(img.img("resize", image, "8M", check=False), WRITE_LOCK, image)
    with qemu_io_holder(image, read_only=True, share=True):
        img.img("resize", image, "8M")


def test_hull_writer_blocks_qemu(img):
    image = make(img, "a.qcow2")
    with hull_holder(img, image):
        r = img.run("qemu-io", "-c", "read 0 512", image, check=False, limit=False)
        assert r.returncode != 0 and 'Failed to get "write" lock' in r.stderr, r.stderr
        r = img.qemu_img("info", image, check=False)
        assert r.returncode != 0 and 'Failed to get shared "write" lock' in r.stderr, r.stderr
        img.qemu_img("info", "-U", image)
    with hull_holder(img, image, read_only=True):
        r = img.run("qemu-io", "-c", "write 0 512", image, check=False, limit=False)
        assert r.returncode != 0 and 'Failed to get "write" lock' in r.stderr, r.stderr
        img.qemu_img("info", image)
    img.run("qemu-io", "-c", "write 0 512", image, limit=False)
    img.qemu_check_clean(image)


def test_backing_files_are_locked(img):
    """A backing file hull opens is held read-only (not sharing write); commit writes it."""
    base = make(img, "base.qcow2")
    top = make(img, "top.qcow2", backing="base.qcow2")
    with hull_holder(img, top, read_only=True):
        r = img.run("qemu-io", "-c", "write 0 512", base, check=False, limit=False)
        assert r.returncode != 0 and 'Failed to get "write" lock' in r.stderr, r.stderr
    with qemu_io_holder(base):
        refused(img.img("info", "--backing-chain", top, check=False), SHARED_LOCK, base)
        img.img("info", "-U", "--backing-chain", top)
        refused(img.img("commit", top, check=False), SHARED_LOCK, base)
    with qemu_io_holder(base, read_only=True):
        refused(img.img("commit", top, check=False), WRITE_LOCK, base)
    img.img("commit", top)
    img.qemu_check_clean(base)


@pytest.mark.parametrize("first,second,ok", [
    ("rw", "rw", False), ("rw", "ro", False), ("rw", "U", True),
    ("ro", "rw", False), ("ro", "ro", True), ("U", "rw", True),
])
def test_hull_vs_hull(img, first, second, ok):
    image = make(img, "a.qcow2")
    with hull_holder(img, image, read_only=first != "rw", share=first == "U"):
        if second == "rw":
            r = img.io(image, "write:0:512:3", check=False)
        else:
            r = img.img("info", *(["-U"] if second == "U" else []), image, check=False)
        if ok:
            assert r.returncode == 0, r.stderr
        else:
            refused(r, WRITE_LOCK if second == "rw" else SHARED_LOCK, image)


def test_force_share_is_read_only(img):
    image = make(img, "a.qcow2", data=False)
    r = img.img("check", "-U", "-r", "all", image, check=False)
    assert r.returncode == 1 and "-U" in r.stderr, r.stderr


def test_vm_disk_is_locked_like_an_image(img):
    """`hull vm run --disk` opens its disks through the same disk_open: a qemu-io writer, or a
    qemu-io reader that does not share write, makes it refuse the disk (one line naming the
    flag and the lock, exit 125) before the VM is built, with or without /dev/kvm (run here as
    on a host without it, so that every machine gives the same result)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    kernels = sorted(f for f in os.listdir("/boot") if f.startswith("vmlinuz-"))
    if not kernels:
        pytest.skip("no /boot/vmlinuz-* (Debian's linux-image package)")
    image = make(img, "vm.qcow2")
    vm = [os.path.join(repo, "tests/sandbox/without-kvm"), str(img.hull), "vm", "run",
          "--kernel", os.path.join("/boot", kernels[-1]), "--disk", image]
    for read_only in (False, True):
        with qemu_io_holder(image, read_only=read_only):
            r = img.run(*vm, check=False, limit=False)
            assert r.returncode == 125, r.stderr
            assert r.stderr.count("\n") == 1 and "--disk" in r.stderr, r.stderr
            refused(r, WRITE_LOCK, image)
    # with the holder gone, the disk is taken (and the run fails later, for want of KVM)
    r = img.run(*vm, check=False, limit=False)
    assert WRITE_LOCK not in r.stderr and "/dev/kvm" in r.stderr, r.stderr
    img.qemu_check_clean(image)
