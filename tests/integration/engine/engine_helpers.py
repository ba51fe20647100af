"""Helpers shared by the engine tests (a unique module name: pytest puts every test folder on
sys.path, and conftest modules of other folders share the name)."""
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"

PASSWD = """root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
users:x:100:alice
wheel:x:10:alice
alice:x:1000:
nogroup:x:65534:
"""


def make_rootfs(root: pathlib.Path) -> pathlib.Path:
    """A minimal busybox-static root file system at root."""
    for d in ("bin", "etc", "tmp", "root", "home/alice", "proc", "sys", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, root / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        link = root / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    os.chown(root / "home/alice", 1000, 1000)
    (root / "tmp").chmod(0o1777)
    return root


def write_tar(path: pathlib.Path, entries):
    """entries: (name, kind, extra) with kind file|dir|symlink|hardlink|raw."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            data = None
            if kind == "file":
                data = extra if isinstance(extra, bytes) else (extra or "x").encode()
                ti.size = len(data)
                ti.mode = 0o644
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = extra
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = extra
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


class Hull:
    """Runs the hull binary against a private store."""

    def __init__(self, binary: str, root: pathlib.Path):
        self.binary = binary
        self.root = root
        self.env = dict(os.environ, HULL_ROOT=str(root))

    def run(self, *args, check=True, input=None, timeout=60, **kw):
        r = subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True,
                           env=self.env, input=input, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(map(str, args))} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def out(self, *args, **kw) -> str:
        return self.run(*args, **kw).stdout

    def inspect(self, name):
        return json.loads(self.out("inspect", name))[0]

    def store_snapshot(self):
        """What must not change when an operation fails."""
        snap = {}
        for sub in ("blobs/sha256", "layers"):
            d = self.root / sub
            snap[sub] = sorted(os.listdir(d)) if d.exists() else []
        idx = self.root / "index.json"
        snap["index"] = idx.read_text() if idx.exists() else None
        return snap

    def tmp_is_empty(self) -> bool:
        d = self.root / "tmp"
        return not d.exists() or os.listdir(d) == []


def cleanup_store(h: Hull):
    """Stop and remove containers (unmounting their rootfs) before the directory goes."""
    if not h.root.exists():
        return
    subprocess.run([h.binary, "rm", "-f", *h.run("ps", "-a", "-q", "--no-trunc",
                                                 check=False).stdout.split()],
                   capture_output=True, env=h.env)
    subprocess.run(["sh", "-c", f"grep -o ' {h.root}/[^ ]*' /proc/mounts | xargs -r -n1 umount -l"],
                   capture_output=True)
    # rm -rf, not pytest's own clean-up later: shutil.rmtree recurses once per level and
    # fails on the 2,000-level trees some tests store
    subprocess.run(["rm", "-rf", "--one-file-system", str(h.root)], capture_output=True)
