"""scripts/demo, the README's main job: makes the default image once, runs it."""
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_demo_makes_image_once_and_greets(hull, tmp_path):
    env = dict(os.environ, HULL=hull, HULL_ROOT=str(tmp_path / "store"))
    first = subprocess.run([REPO / "scripts/demo"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Hello from a hull container! I am pid 1")
    assert "made localhost/hull-demo:latest" in first.stderr
    second = subprocess.run([REPO / "scripts/demo"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert second.returncode == 0 and "Hello from a hull container" in second.stdout
    assert "made" not in second.stderr
    images = subprocess.run([hull, "images", "-q"], capture_output=True, text=True, env=env)
    assert len(images.stdout.split()) == 1
