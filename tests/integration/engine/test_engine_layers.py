"""Layers: whiteouts, opaque directories, metadata, and hostile tar files made by hand.
Every hostile layer is refused with one line naming the image and the entry, and the store
is left exactly as it was."""
import io
import os
import stat
import subprocess
import tarfile

import pytest

from engine_helpers import write_tar


def hostile(bb, tmp_path, name, entries, expect):
    path = write_tar(tmp_path / f"{name}.tar", entries)
    before = bb.store_snapshot()
    r = bb.run("import", path, name, check=False)
    assert r.returncode == 125, r.stdout
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert f"image localhost/{name}:latest" in line, line
    assert expect in line, line
    assert bb.store_snapshot() == before
    assert bb.tmp_is_empty()
    assert f"localhost/{name}" not in bb.out("images")
    return line


def test_dotdot_path(bb, tmp_path):
    line = hostile(bb, tmp_path, "dotdot", [("../../etc/evil", "file", "x")], "leaves the layer")
    assert "'../../etc/evil'" in line
    assert not os.path.exists(bb.root / "etc/evil")


def test_absolute_path(bb, tmp_path):
    line = hostile(bb, tmp_path, "abs", [("/tmp/hull-abs-evil", "file", "x")], "absolute path refused")
    assert "/tmp/hull-abs-evil" in line
    assert not os.path.exists("/tmp/hull-abs-evil")


def test_symlink_then_write_through(bb, tmp_path):
    target = tmp_path / "outside"
    target.mkdir()
    line = hostile(bb, tmp_path, "symwrite",
                   [("link", "symlink", str(target)), ("link/pwned", "file", "x")],
                   "goes through the symbolic link 'link'")
    assert "'link/pwned'" in line
    assert not (target / "pwned").exists()


def test_relative_symlink_escape(bb, tmp_path):
    hostile(bb, tmp_path, "relsym",
            [("a", "dir", None), ("a/up", "symlink", "../../../../.."), ("a/up/tmp/x", "file", "x")],
            "symbolic link 'up'")


def test_hardlink_outside(bb, tmp_path):
    line = hostile(bb, tmp_path, "hardout", [("evil", "hardlink", "../../../../etc/passwd")],
                   "hard link target")
    assert "'evil'" in line
    hostile(bb, tmp_path, "hardabs", [("evil", "hardlink", "/etc/passwd")],
            "absolute hard link target /etc/passwd refused")


def test_hardlink_through_symlink(bb, tmp_path):
    hostile(bb, tmp_path, "hardsym", [("etc", "symlink", "/etc"), ("evil", "hardlink", "etc/passwd")],
            "symbolic link 'etc'")


def test_duplicate_entry(bb, tmp_path):
    line = hostile(bb, tmp_path, "dup", [("a", "file", "one"), ("a", "file", "two")], "duplicate entry")
    assert "'a'" in line


def test_absurd_size(bb, tmp_path):
    """A header that declares a 1 TiB file (and no data): refused before anything is written."""
    path = tmp_path / "huge.tar"
    ti = tarfile.TarInfo("huge")
    ti.size = 1 << 40
    header = ti.tobuf(format=tarfile.GNU_FORMAT)
    path.write_bytes(header + b"\0" * 1024)
    before = bb.store_snapshot()
    r = bb.run("import", path, "huge", check=False)
    assert r.returncode == 125
    assert "'huge'" in r.stderr and "exceeds" in r.stderr
    assert bb.store_snapshot() == before and bb.tmp_is_empty()


def test_truncated_layer(bb, tmp_path):
    good = write_tar(tmp_path / "t.tar", [("a", "file", "x" * 5000)])
    data = good.read_bytes()[:1500]
    bad = tmp_path / "trunc.tar"
    bad.write_bytes(data)
    before = bb.store_snapshot()
    r = bb.run("import", bad, "trunc", check=False)
    assert r.returncode == 125 and "image localhost/trunc:latest" in r.stderr
    assert bb.store_snapshot() == before and bb.tmp_is_empty()


def test_whiteouts_and_metadata_are_unpacked_in_overlay_form(bb, tmp_path):
    entries = []
    path = tmp_path / "meta.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        def add(name, typ=tarfile.REGTYPE, data=b"", **kw):
            ti = tarfile.TarInfo(name)
            ti.type = typ
            ti.size = len(data)
            for k, v in kw.items():
                setattr(ti, k, v)
            t.addfile(ti, io.BytesIO(data) if data else None)
        add("d", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=100)
        add("d/file", data=b"hello", mode=0o4755, uid=1000, gid=100, mtime=1234567890)
        add("d/hard", tarfile.LNKTYPE, linkname="d/file")
        add("d/sym", tarfile.SYMTYPE, linkname="file")
        add("dev", tarfile.DIRTYPE, mode=0o755)
        add("dev/null2", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
        add("dev/fifo", tarfile.FIFOTYPE, mode=0o600)
        add("gone/.wh.removed", mode=0o600)
        add("opq", tarfile.DIRTYPE, mode=0o755)
        add("opq/.wh..wh..opq", mode=0o600)
        ti = tarfile.TarInfo("x")
        ti.size = 1
        ti.pax_headers = {"SCHILY.xattr.user.hull": "yes"}
        t.addfile(ti, io.BytesIO(b"1"))
    r = bb.run("import", path, "meta")
    diff_id = bb.inspect("meta")["RootFS"]["diff_ids"][0]
    layer = bb.root / "layers" / diff_id[7:]
    st = os.stat(layer / "d/file")
    assert (st.st_uid, st.st_gid) == (1000, 100)
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert st.st_mtime == 1234567890
    assert os.stat(layer / "d/hard").st_ino == st.st_ino
    assert os.readlink(layer / "d/sym") == "file"
    assert stat.S_IMODE(os.stat(layer / "d").st_mode) == 0o750
    dev = os.lstat(layer / "dev/null2")
    assert stat.S_ISCHR(dev.st_mode) and os.major(dev.st_rdev) == 1 and os.minor(dev.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(layer / "dev/fifo").st_mode)
    wh = os.lstat(layer / "gone/removed")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert not os.path.exists(layer / "gone/.wh.removed")
    assert os.getxattr(layer / "opq", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(layer / "x", "user.hull") == b"yes"


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_compressed_layers_detected_by_magic(bb, tmp_path, compress):
    plain = write_tar(tmp_path / "c.tar", [("hello", "file", "compressed layer")])
    subprocess.run([compress, "-k", "-f", plain], check=True, capture_output=True)
    comp = tmp_path / ("c.tar.gz" if compress == "gzip" else "c.tar.zst")
    # misleading name: the content decides
    disguised = tmp_path / "layer.bin"
    os.rename(comp, disguised)
    bb.run("import", disguised, f"c{compress}")
    diff_id = bb.inspect(f"c{compress}")["RootFS"]["diff_ids"][0]
    import hashlib
    assert diff_id == "sha256:" + hashlib.sha256(plain.read_bytes()).hexdigest()
    assert (bb.root / "layers" / diff_id[7:] / "hello").read_text() == "compressed layer"


def test_mutated_layers_never_half_apply(bb, tmp_path):
    """60 random corruptions of a small valid layer (plain and gzip): each import either
    succeeds or fails with exit 125 and one line, and a failure leaves the store as it was."""
    import gzip
    import random
    rng = random.Random(5)
    base = write_tar(tmp_path / "base.tar", [("d", "dir", None), ("d/f", "file", "hello" * 50),
                                           ("d/l", "symlink", "f"), ("d/h", "hardlink", "d/f")])
    plain = base.read_bytes()
    variants = [plain, gzip.compress(plain)]
    for i in range(60):
        data = bytearray(variants[i % 2])
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data))]
        path = tmp_path / f"m{i}.tar"
        path.write_bytes(bytes(data))
        before = bb.store_snapshot()
        r = bb.run("import", path, f"m{i}", check=False)
        assert r.returncode in (0, 125), (i, r.returncode, r.stderr)
        if r.returncode == 125:
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert bb.store_snapshot() == before, i
        assert bb.tmp_is_empty()
