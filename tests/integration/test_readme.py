"""Every example in README.md runs as written after the quickstart.

The quickstart's last step is scripts/demo (it makes localhost/hull-demo and runs it). This test
does the same into a private store, then runs the ```sh blocks of the README's "Using it"
section in one bash -e, from a scratch directory that looks like the repository root to the
examples (build/, scripts/ and tests/ are links). A block that fails names its line.
"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

SECTION = "## Using it"


def readme_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end >= 0 else None]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_readme_has_examples():
    blocks = readme_blocks()
    assert blocks, "README's 'Using it' section has no sh blocks"
    joined = "".join(blocks)
    for word in ("hull run", "hull-oci", "img create", "vm run"):
        assert word in joined.replace("$H ", "hull "), f"README examples lack {word}"


@pytest.fixture
def workdir(tmp_path, build):
    d = tmp_path / "repo"
    d.mkdir()
    (d / "build").symlink_to(build)
    # a copy, not a link: the sandbox VM shares the cwd (and the build dir) when they sit under
    # its fresh /tmp, but not a checkout a link there points to (the README runs scripts/demo
    # inside it)
    shutil.copytree(REPO / "scripts", d / "scripts", symlinks=True)
    (d / "tests").symlink_to(REPO / "tests")
    env = dict(os.environ, HULL_ROOT=str(tmp_path / "store"))
    yield d, env
    hull = str(build / "src/cli/hull")
    out = subprocess.run([hull, "ps", "-aq"], env=env, capture_output=True, text=True).stdout
    for cid in out.split():
        subprocess.run([hull, "rm", "-f", cid], env=env, capture_output=True)
    left = subprocess.run([hull, "ps", "-aq"], env=env, capture_output=True, text=True).stdout
    mounts = [ln for ln in pathlib.Path("/proc/mounts").read_text().splitlines()
              if str(tmp_path) in ln]
    shutil.rmtree(tmp_path / "store", ignore_errors=True)
    assert not left.strip(), f"containers left by the README examples: {left}"
    assert not mounts, f"mounts left by the README examples: {mounts}"


@pytest.mark.slow
def test_readme_examples_run(workdir, build):
    d, env = workdir
    # the quickstart's last step, as it runs it (from the repository root)
    demo = subprocess.run(["scripts/demo"], cwd=d, env=dict(env, HULL=str(build / "src/cli/hull")),
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert "Hello from a hull container" in demo.stdout
    # one shell for all the blocks, as a reader types them one after the other
    script = "".join(readme_blocks())
    r = subprocess.run(["bash", "-euo", "pipefail", "-x", "-c", script], cwd=d, env=env,
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (f"README examples failed ({r.returncode}):\n"
                               f"{r.stderr[-3000:]}\nstdout:\n{r.stdout[-2000:]}")
    assert "hello\n" in r.stdout and "hi from hull-oci" in r.stdout
    assert "hello from a hull VM, kernel" in r.stdout
    # `hull run --vm` printed the guest's kernel: the newest /boot/vmlinuz-*-amd64's release
    kernels = sorted(pathlib.Path("/boot").glob("vmlinuz-*-amd64"))
    assert kernels and kernels[-1].name[len("vmlinuz-"):] + "\n" in r.stdout, r.stdout[-2000:]
