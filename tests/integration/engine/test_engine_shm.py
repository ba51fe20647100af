"""hull run/create --shm-size (docker's): the size of the /dev/shm tmpfs, 64m by default,
docker's size grammar; a bad value is exit 125 with one line naming --shm-size. The flag is
one entry in the CLI table and one field the model's defaults write (docs/architecture.md)."""
import pytest


def shm_kib(bb, *flags):
    """The size= option of /dev/shm in the container's /proc/mounts, in KiB."""
    out = bb.out("run", "--rm", *flags, "busybox", "grep", " /dev/shm ", "/proc/mounts")
    opts = out.split()[3].split(",")
    size = [o for o in opts if o.startswith("size=")]
    assert size, out
    assert size[0].endswith("k"), out
    return int(size[0][len("size="):-1])


def test_default_is_64m(bb):
    assert shm_kib(bb) == 64 * 1024


@pytest.mark.parametrize("value,kib", [("128m", 128 * 1024), ("1g", 1024 * 1024),
                                       ("1.5m", 1536), ("100k", 100), ("64MiB", 64 * 1024),
                                       ("8388608", 8 * 1024)])
def test_shm_size_sets_the_mount(bb, value, kib):
    assert shm_kib(bb, "--shm-size", value) == kib


def test_shm_size_usable_space(bb):
    # df sees the size too (busybox df -k: 1K blocks in column 2)
    out = bb.out("run", "--rm", "--shm-size", "3m", "busybox", "df", "-k", "/dev/shm")
    assert out.splitlines()[-1].split()[1] == "3072", out


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.", "64mm", "", "1e3", "-64m",
                                   "99999999999p"])
def test_bad_shm_size_is_a_flag_error(bb, value):
    for cmd in ("create", "run"):
        r = bb.run(cmd, "--shm-size", value, "busybox", "true", check=False)
        assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and f"--shm-size {value}:" in lines[0], r.stderr
        assert r.stdout == ""
    assert bb.out("ps", "-a", "-q") == ""
