"""The man pages and the bash completion (issue 11, item 7): built and installed by meson,
the pages render with `man -l` and carry every command's usage, and the completion loads in
bash and completes commands, flags, containers and images (driven through `complete -p` and
the completion function, as bash's <TAB> would)."""
import json
import os
import subprocess

import pytest

from cli_helpers import COMMANDS, REPO, build_dir, table
from cli_helpers import hull_run  # noqa: F401 (a fixture: a store with the image "bb")

PAGES = ("hull", "hull-oci", "hull-vmm")
COMPLETION = REPO / "completion/hull.bash"


def installed():
    r = subprocess.run(["meson", "introspect", str(build_dir()), "--installed"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def render(page):
    r = subprocess.run(["man", "-l", str(build_dir() / "man" / f"{page}.1")],
                       capture_output=True, text=True, env=dict(os.environ, MANWIDTH="100"))
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("page", PAGES)
def test_man_page_built_and_installed(page):
    built = build_dir() / "man" / f"{page}.1"
    assert built.exists(), "no man page: is help2man installed (scripts/debian-packages.txt)?"
    assert installed()[str(built)].endswith(f"/man1/{page}.1")
    text = render(page)
    assert text.startswith(f"{page.upper()}(1)") and "NAME" in text and "COMMANDS" in text


@pytest.mark.parametrize("key", [k for k in COMMANDS if " " in k])
def test_man_page_has_every_command_and_option(key):
    text = render(key.split()[0])
    assert f"{key}\n" in text.replace("Usage: ", "\n"), key
    for name, _, _ in table(key):
        if name:
            assert f"--{name}" in text, (key, name)


def test_completion_installed():
    assert installed()[str(COMPLETION)].endswith("/bash-completion/completions/hull")


def complete(words, env=None):
    """COMPREPLY for `hull WORDS<TAB>` (the last word is the one being completed)."""
    hull = build_dir() / "src/cli/hull"
    script = f"""
source {COMPLETION} || exit 90
complete -p hull | grep -q -- '-F _hull hull$' || exit 91
COMP_WORDS=({hull} {' '.join(f"'{w}'" for w in words)})
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
COMPREPLY=()
_hull
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, env=dict(os.environ, **(env or {})), timeout=60)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.splitlines() if w)


def test_complete_commands_and_flags(tmp_path):
    env = {"HULL_ROOT": str(tmp_path / "empty")}
    assert complete(["r"], env) == ["rm", "rmi", "run"]
    assert complete(["run", "--rm"], env) == ["--rm"]
    assert complete(["run", "--r"], env) == ["--read-only", "--restart", "--rm", "--rootfs-copy"]
    assert complete(["img", "c"], env) == ["check", "commit", "compare", "convert", "create"]
    assert "--shrink" in complete(["img", "resize", "--"], env)
    assert complete(["help", "sy"], env) == ["system"]
    assert complete(["system", ""], env) == ["df", "prune"]
    assert not (tmp_path / "empty").exists()


def test_complete_containers_and_images(hull_run, tmp_path):  # noqa: F811
    hull_run("create", "--name", "web1", "bb", "true")
    root = str(tmp_path / "store")
    env = {"HULL_ROOT": root}
    assert complete(["rm", "we"], env) == ["web1"]
    assert complete(["--root", root, "start", "w"], {"HULL_ROOT": "/nonexistent"}) == ["web1"]
    assert "localhost/bb" in complete(["run", "-e", "A=1", "--name", "x", ""], env)
    assert complete(["run", "b"], env) == ["bb", "bb:latest"]
    # after the image come the command's words, not images
    assert complete(["run", "bb", "b"], env) == []
    assert "web1" in complete(["inspect", ""], env) and "bb" in complete(["inspect", ""], env)
