"""The binaries exist and report their version."""
import subprocess


def test_hull_oci_version(hull_oci):
    out = subprocess.run([hull_oci, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("hull-oci version ")


def test_hull_version(hull):
    out = subprocess.run([hull, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("hull version ")


def test_hull_unknown_command_exits_125(hull):
    r = subprocess.run([hull, "no-such-command"], capture_output=True, text=True)
    assert r.returncode == 125
    assert "unknown command" in r.stderr
