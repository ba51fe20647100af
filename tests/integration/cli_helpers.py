"""Shared by the test_cli_*.py files: the programs, their commands (from each --help's
"Commands:" section) and option tables (from the binaries: HULL_CLI_DUMP_OPTIONS), and a
store with a busybox image. A module of its own name: `conftest` is ambiguous when pytest
collects several directories at once."""
import atexit
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    """As conftest.build_dir: $HULL_BUILD_DIR, else ./build-test or ./build."""
    env = os.environ.get("HULL_BUILD_DIR")
    if env:
        return pathlib.Path(env)
    for name in ("build-test", "build"):
        if (REPO / name / "build.ninja").exists():
            return REPO / name
    raise RuntimeError("no build directory: run scripts/test or set HULL_BUILD_DIR")


BUILD = build_dir() / "src/cli"
PROGS = {"hull": str(BUILD / "hull"), "hull-oci": str(BUILD / "hull-oci"),
         "hull-vmm": str(BUILD / "hull-vmm")}
# nothing these tests run may touch a real store: every run gets a private, empty root
ROOT = tempfile.mkdtemp(prefix="hull-cli-test-")
atexit.register(shutil.rmtree, ROOT, ignore_errors=True)
# `hull vm run` execs hull-vmm when it sits beside hull; keep it in process so the dump
# and the messages are hull's own
ENV = dict(os.environ, HULL_ROOT=ROOT, HULL_VM_IN_PROCESS="1")
ENV.pop("HULL_CLI_DUMP_OPTIONS", None)


def run(argv, **kw):
    env = dict(ENV, **kw.pop("env", {}))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, **kw)


def argv_of(key):
    """"hull img create" -> [/path/hull, --root ROOT, img, create] (hull-oci: --root too)."""
    prog, *words = key.split()
    head = [PROGS[prog]]
    if prog in ("hull", "hull-oci"):
        head += ["--root", ROOT]
    return head + words


def subcommands(key):
    r = run(argv_of(key) + ["--help"])
    m = re.search(r"^Commands:\n((?:  \S.*\n)+)", r.stdout, re.M)
    if r.returncode != 0 or not m:
        return []
    names = [line.split()[0] for line in m.group(1).splitlines()]
    return [n for n in names if n not in ("help", "version")]


def all_commands():
    keys = []
    for prog in PROGS:
        keys.append(prog)
        for sub in subcommands(prog):
            keys.append(f"{prog} {sub}")
            keys += [f"{prog} {sub} {s}" for s in subcommands(f"{prog} {sub}")]
    return keys


COMMANDS = all_commands()


def table(key):
    """[(long name or None, takes an argument, short letter or None)] of the command."""
    r = run(argv_of(key), env={"HULL_CLI_DUMP_OPTIONS": key})
    rows = []
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        assert len(parts) == 3, f"{key}: not a table dump: {r.stdout!r} {r.stderr!r}"
        name, arg, short = parts
        rows.append((None if name == "-" else name, arg == "1", None if short == "-" else short))
    assert r.returncode == 0 and any(n == "help" for n, _, _ in rows), \
        f"{key}: no option table (exit {r.returncode}): {r.stderr.strip()}"
    return rows


BUSYBOX = "/bin/busybox"


@pytest.fixture
def hull_run(hull, tmp_path):
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static not installed")
    root = tmp_path / "store"
    env = dict(os.environ, HULL_ROOT=str(root))

    def run(*args, check=True):
        r = subprocess.run([hull, *args], capture_output=True, text=True, env=env, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: {r.returncode}\n{r.stderr}")
        return r

    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin/busybox")
    for applet in ("sh", "true", "sleep"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    with tarfile.open(tmp_path / "rootfs.tar", "w") as t:
        t.add(rootfs, arcname=".")
    run("import", str(tmp_path / "rootfs.tar"), "bb")
    yield run
    ids = run("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
    if ids:
        run("rm", "-f", *ids, check=False)
    assert run("ps", "-a", "-q").stdout == ""
    subprocess.run(["sh", "-c", f"grep -o ' {root}/[^ ]*' /proc/mounts | xargs -r -n1 umount -l"],
                   capture_output=True)
