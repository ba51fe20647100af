"""docker's --flag=value forms do what they say on a real container (issue 11, item 6):
--rm=false keeps the container, --name=x names it, --detach=true detaches, a later
--flag=false unsets an earlier --flag, and --pid (no such flag) runs nothing."""
import re

from cli_helpers import hull_run  # noqa: F401 (a fixture: a store with the image "bb")

def names(run):
    out = run("ps", "-a").stdout.splitlines()[1:]
    return sorted(line.split()[-1] for line in out)


def test_rm_false_keeps_and_name_equals(hull_run):
    hull_run("run", "--rm=false", "--name=kept", "bb", "true")
    hull_run("run", "--rm", "--rm=0", "--name=kept2", "bb", "true")
    hull_run("run", "--rm=true", "--name=gone", "bb", "true")
    assert names(hull_run) == ["kept", "kept2"]


def test_detach_true_and_false(hull_run):
    r = hull_run("run", "--detach=true", "--name=bg", "bb", "sleep", "30")
    assert re.fullmatch(r"[0-9a-f]{64}\n", r.stdout)
    assert hull_run("ps", "-q").stdout.strip() == r.stdout.strip()[:12]
    # -d then --detach=false: in the foreground (no id printed, the exit status is the
    # command's)
    r = hull_run("run", "-d", "--detach=false", "--name=fg", "bb", "sh", "-c", "exit 3",
                 check=False)
    assert r.returncode == 3 and r.stdout == ""
    hull_run("rm", "-f", "bg")


def test_abbreviation_creates_nothing(hull_run):
    for args in (["--pid", "5"], ["--pid", "host"], ["--priv"], ["--na", "x"]):
        r = hull_run("run", *args, "bb", "true", check=False)
        assert r.returncode == 125 and f"unknown flag: {args[0]}" in r.stderr
    assert names(hull_run) == []
