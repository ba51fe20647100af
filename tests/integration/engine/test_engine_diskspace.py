"""Disk space: `hull rmi` frees what no other image and no container uses, `system prune`
with docker's -a/-f/--volumes meanings reports what it actually freed (du's blocks), and
`system df` prints docker's table."""
import os
import pty
import random
import re
import subprocess

import pytest

from engine_helpers import write_tar

UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def du(path):
    """Bytes in use under path, as du counts them (allocated blocks, each inode once)."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split()[0])


def reclaimed(out):
    m = re.search(r"Total reclaimed space: ([\d.]+)(B|kB|MB|GB)$", out, re.M)
    assert m, out
    return float(m.group(1)) * UNITS[m.group(2)]


def random_layer(tmp_path, name, size, seed):
    d = tmp_path / f"src-{name}"
    d.mkdir()
    (d / name).write_bytes(random.Random(seed).randbytes(size))
    return write_tar(tmp_path / f"{name}.tar", [(name, "file", (d / name).read_bytes())])


def layers(h):
    return set(os.listdir(h.root / "layers"))


def unique_usage(h, name):
    """du of what only this image has: manifest, config, layer blobs, unpacked layers."""
    import json
    idx = json.loads((h.root / "index.json").read_text())
    full = f"localhost/{name}:latest"
    man_digest = [m["digest"] for m in idx["manifests"]
                  if m["annotations"].get("org.opencontainers.image.ref.name") == full][0]
    blob = lambda d: h.root / "blobs/sha256" / d.split(":")[1]
    man = json.loads(blob(man_digest).read_text())
    cfg = json.loads(blob(man["config"]["digest"]).read_text())
    paths = [blob(man_digest), blob(man["config"]["digest"])]
    paths += [blob(l["digest"]) for l in man["layers"]]
    paths += [h.root / "layers" / d.split(":")[1] for d in cfg["rootfs"]["diff_ids"]]
    return sum(du(p) for p in paths)


def test_rmi_frees_unique_data_and_keeps_shared_layers(bb, tmp_path):
    big = random_layer(tmp_path, "big", 1 << 20, 1)
    other = random_layer(tmp_path, "other", 512 << 10, 2)
    bb.run("import", big, "a")
    bb.run("import", big, "b", "--change", "CMD echo b")  # same layer, another config
    bb.run("import", other, "c")
    shared = layers(bb)
    unique = unique_usage(bb, "c")
    assert unique >= 2 * (512 << 10)  # its layer blob and the unpacked layer at least
    before = du(bb.root)
    r = bb.run("rmi", "c")
    assert "Deleted: sha256:" in r.stdout
    # the store shrinks by c's unique usage (index.json, rewritten, may change by a block)
    assert abs(before - du(bb.root) - unique) <= 8192, (before, du(bb.root), unique)
    assert len(layers(bb)) == len(shared) - 1
    # a's layer stays for b: only its config and manifest go
    before = du(bb.root)
    bb.run("rmi", "a")
    assert before - du(bb.root) < 64 << 10
    assert len(layers(bb)) == len(shared) - 1
    assert [l for l in layers(bb) if (bb.root / "layers" / l / "big").is_file()]
    assert bb.inspect("b")["Config"]["Cmd"] == ["/bin/sh", "-c", "echo b"]
    before = du(bb.root)
    bb.run("rmi", "b")
    assert before - du(bb.root) >= 2 << 20
    assert len(layers(bb)) == len(shared) - 2
    # busybox is whole
    assert bb.run("run", "--rm", "busybox", "true").returncode == 0


def test_prune_removes_dangling_images_and_all_with_a(bb, tmp_path):
    tagged = random_layer(tmp_path, "tagged", 64 << 10, 3)
    dangling = random_layer(tmp_path, "dangling", 64 << 10, 4)
    bb.run("import", tagged, "keepme")
    dangling_id = bb.out("import", dangling).strip()
    bb.run("create", "--name", "user", "busybox", "true")
    bb.run("rmi", "-f", "busybox")  # untagged now, but a container uses it
    r = bb.run("system", "prune", "-f")
    assert f"deleted: {dangling_id}" in r.stdout
    out = bb.out("images")
    assert "localhost/keepme" in out and dangling_id[7:19] not in out
    r = bb.run("system", "prune", "-a", "-f")
    assert "localhost/keepme" not in bb.out("images")
    # the container's image survives both, and the container runs
    assert bb.run("start", "-a", "user").returncode == 0
    assert len(layers(bb)) == 1


def test_prune_reports_what_it_freed(bb, tmp_path):
    # what a killed writer leaves: a blob and an unpacked layer nothing refers to (sizes
    # that are not multiples of a block, a hard link counted once, a sparse file)
    blob = bb.root / "blobs/sha256" / ("e" * 64)
    blob.write_bytes(random.Random(5).randbytes(700_001))
    lay = bb.root / "layers" / ("f" * 64)
    (lay / "d").mkdir(parents=True)
    (lay / "d/x").write_bytes(random.Random(6).randbytes(300_003))
    os.link(lay / "d/x", lay / "d/x-link")
    with open(lay / "sparse", "wb") as f:
        f.truncate(50 << 20)
    big = random_layer(tmp_path, "unused", 900_000, 7)
    bb.run("import", big, "unused")
    before = du(bb.root)
    r = bb.run("system", "prune", "-a", "-f")
    drop = before - du(bb.root)
    got = reclaimed(r.stdout)
    assert drop > 2 * 900_000 + 700_000 + 300_000, drop
    # three significant digits in docker's form, and index.json's block rewritten
    assert abs(got - drop) <= drop * 0.006 + 8192, (got, drop, r.stdout)
    assert not blob.exists() and not lay.exists()


def test_prune_asks_and_refuses_without_a_terminal(bb, tmp_path):
    dangling = random_layer(tmp_path, "dangling", 4096, 8)
    dangling_id = bb.out("import", dangling).strip()
    before = bb.store_snapshot()
    r = bb.run("system", "prune", stdin=subprocess.DEVNULL, check=False)
    assert r.returncode == 125 and "-f" in r.stderr and "terminal" in r.stderr
    assert bb.store_snapshot() == before
    # on a terminal it asks; "n" keeps everything, "y" prunes
    for answer, removed in (("n", False), ("y", True)):
        pid, fd = pty.fork()
        if pid == 0:
            os.environ.update(bb.env)
            os.execv(bb.binary, [bb.binary, "system", "prune"])
        out = b""
        while b"[y/N]" not in out:
            out += os.read(fd, 4096)
        os.write(fd, answer.encode() + b"\n")
        try:
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        assert os.waitstatus_to_exitcode(status) == 0, out
        assert b"WARNING! This will remove" in out and b"dangling images" in out
        assert (dangling_id[7:19] not in bb.out("images")) == removed


def test_prune_volumes_is_accepted_and_says_there_are_none(bb):
    r = bb.run("system", "prune", "-f", "--volumes")
    assert "no volumes" in r.stdout
    r = bb.run("system", "prune", "-f", "--bogus", check=False)
    assert r.returncode == 125


def df_rows(h):
    lines = h.out("system", "df").splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["TYPE", "TOTAL", "ACTIVE", "SIZE",
                                                    "RECLAIMABLE"]
    rows = {}
    for l in lines[1:]:
        m = re.match(r"(Images|Containers|Local Volumes|Build Cache)\s+(\d+)\s+(\d+)\s+(\S+)"
                     r"\s+(\S+)( \(\d+%\))?$", l)
        assert m, l
        rows[m.group(1)] = m.groups()[1:]
    assert list(rows) == ["Images", "Containers", "Local Volumes", "Build Cache"]
    return rows


def test_system_df(bb, tmp_path):
    big = random_layer(tmp_path, "big", 1 << 20, 9)
    bb.run("import", big, "big")
    rows = df_rows(bb)
    assert rows["Images"][:2] == ("2", "0")
    assert rows["Images"][2] == rows["Images"][3]  # nothing in use: all reclaimable
    assert rows["Containers"][:4] == ("0", "0", "0B", "0B")
    assert rows["Local Volumes"][:4] == ("0", "0", "0B", "0B")
    bb.run("create", "--name", "c1", "busybox", "true")
    rows = df_rows(bb)
    assert rows["Images"][:2] == ("2", "1")
    assert rows["Containers"][:2] == ("1", "0")
    size = float(re.match(r"[\d.]+", rows["Images"][2]).group()) * \
        UNITS[re.search(r"[a-zA-Z]+$", rows["Images"][2]).group()]
    rec = float(re.match(r"[\d.]+", rows["Images"][3]).group()) * \
        UNITS[re.search(r"[a-zA-Z]+$", rows["Images"][3]).group()]
    # big's blob and layer are reclaimable, busybox's are not
    assert 2 << 20 <= rec < size
    bb.run("system", "prune", "-a", "-f")
    rows = df_rows(bb)
    assert rows["Images"][:2] == ("1", "1") and rows["Images"][3] == "0B"


def test_system_df_verbose(bb, tmp_path):
    big = random_layer(tmp_path, "big", 1 << 20, 10)
    bb.run("import", big, "one")
    bb.run("import", big, "two", "--change", "CMD echo two")  # shares one's layer
    bb.run("create", "--name", "c1", "busybox", "true")
    out = bb.out("system", "df", "-v")
    sections = out.split("\n\n")
    assert sections[0] == "Images space usage:"
    lines = sections[1].splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
        "CONTAINERS"]
    rows = {}
    for l in lines[1:]:
        cells = re.split(r"\s{2,}", l.strip())
        rows[cells[0]] = cells
    one, two, box = rows["localhost/one"], rows["localhost/two"], rows["localhost/busybox"]
    size = lambda c: float(re.match(r"[\d.]+", c).group()) * UNITS[re.search(r"[a-zA-Z]+$", c).group()]
    # one and two share a 1 MiB layer (blob and unpacked): mostly shared, a little unique
    assert size(one[5]) >= 2 << 20 and size(one[6]) < 64 << 10
    assert box[5] == "0B" and box[7] == "1" and one[7] == "0"
    assert "Containers space usage:" in out and "c1" in out
    assert "Build cache usage: 0B" in out
