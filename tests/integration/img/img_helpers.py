"""Helpers for the `hull img` / src/disk tests: qemu-img and qemu-io are the oracle.

(A module of its own, not conftest.py: several test folders have a conftest module.)
"""
import json
import os
import resource
import subprocess


def _limit_memory():
    # hostile images must never cause a huge allocation: 1 GiB of address space is plenty
    # (sanitizer builds reserve terabytes of shadow memory: they set HULL_TEST_NO_RLIMIT=1)
    if os.environ.get("HULL_TEST_NO_RLIMIT"):
        return
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


class Img:
    """Runs hull img, disk-io and qemu tools in a scratch directory."""

    def __init__(self, hull, disk_io, tmp):
        self.hull = hull
        self.disk_io = disk_io
        self.tmp = tmp

    def p(self, name):
        return str(self.tmp / name)

    def run(self, *args, check=True, limit=True):
        r = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                           cwd=self.tmp, timeout=300,
                           preexec_fn=_limit_memory if limit else None)
        if check and r.returncode != 0:
            raise AssertionError(f"{args} exited {r.returncode}\nstdout: {r.stdout}\n"
                                 f"stderr: {r.stderr}")
        return r

    def img(self, *args, check=True):
        return self.run(self.hull, "img", *args, check=check)

    def io(self, image, *steps, check=True, fmt=None, crash_after=None):
        pre = []
        if fmt:
            pre += ["-f", fmt]
        if crash_after:
            pre += ["--crash-after", str(crash_after)]
        return self.run(self.disk_io, *pre, image, *steps, check=check)

    def qemu_img(self, *args, check=True):
        return self.run("qemu-img", *args, check=check, limit=False)

    def qemu_io(self, image, *cmds, fmt="qcow2"):
        args = ["qemu-io", "-f", fmt]
        for c in cmds:
            args += ["-c", c]
        return self.run(*args, image, limit=False)

    def qemu_check_clean(self, image):
        r = self.qemu_img("check", "--output=json", image, check=False)
        assert r.returncode == 0, f"qemu-img check {image}: {r.stdout}{r.stderr}"
        out = json.loads(r.stdout)
        assert out.get("corruptions", 0) == 0 and out.get("leaks", 0) == 0, out
        return out

    def qemu_compare(self, a, b, fmt_a=None, fmt_b="raw"):
        args = ["compare"]
        if fmt_a:
            args += ["-f", fmt_a]
        args += ["-F", fmt_b, a, b]
        r = self.qemu_img(*args, check=False)
        assert r.returncode == 0, f"qemu-img compare {a} {b}: {r.stdout}{r.stderr}"

    def map_json(self, image, tool="hull"):
        if tool == "hull":
            return json.loads(self.img("map", "--output=json", image).stdout)
        return json.loads(self.qemu_img("map", "--output=json", image).stdout)


class Mirror:
    """Apply the same steps to an image (through disk-io) and to a raw reference file."""

    def __init__(self, img, image, ref, size):
        self.img, self.image, self.ref = img, image, ref
        with open(ref, "wb") as f:
            f.truncate(size)

    def steps(self, steps):
        self.img.io(self.image, *steps)
        with open(self.ref, "r+b") as f:
            for s in steps:
                parts = s.split(":")
                if parts[0] == "write":
                    f.seek(int(parts[1], 0))
                    f.write(bytes([int(parts[3], 0)]) * int(parts[2], 0))
                elif parts[0] == "zero":
                    f.seek(int(parts[1], 0))
                    f.write(b"\0" * int(parts[2], 0))


def random_steps(rng, size, count, cluster):
    steps = []
    for _ in range(count):
        kind = rng.random()
        off = rng.randrange(0, size - 1)
        if kind < 0.25:  # cluster-aligned
            off -= off % cluster
        length = rng.choice([1, 512, 4096, 65536, cluster, 3 * cluster + 17, 200000])
        length = min(length, size - off)
        if kind < 0.8:
            steps.append(f"write:{off}:{length}:{rng.randrange(1, 256)}")
        elif kind < 0.9:
            steps.append(f"zero:{off}:{length}")
        else:
            steps.append("flush")
    return steps


