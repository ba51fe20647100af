"""Helpers shared by the engine tests (a unique module name: pytest puts every test folder on
sys.path, and conftest modules of other folders share the name)."""
import io
import pathlib
import tarfile


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
