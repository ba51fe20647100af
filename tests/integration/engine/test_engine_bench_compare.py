"""`hull bench compare IMAGE [CMD]`: the container side measured on this host, the microVM
side failing cleanly when it cannot run (here: a kernel that does not exist), the table and
the SVG chart, the argument checks, and nothing left behind (no container, no temp file).
The full comparison with a booting microVM runs in the sandbox (tests/integration/vm/
test_run_vm_bench.py)."""
import os
import re
import xml.etree.ElementTree as ET

import pytest

ROWS = ("time to first output", "run --rm, end to end", "CPU-bound workload",
        "file-I/O workload", "memory per instance (PSS)", "disk needed",
        "instances in the budget")


def table(out):
    rows = {}
    for line in out.splitlines():
        for r in ROWS:
            if line.startswith(r):
                rows[r] = line[36:].split()
    return rows


def test_container_measured_vm_failure_named(bb, tmp_path):
    svg = tmp_path / "chart.svg"
    r = bb.run("bench", "compare", "--runs", "2", "--cpu-loops", "2000", "--io-mib", "2",
               "--budget", "1g", "--svg", svg, "--kernel", "/nonexistent/vmlinuz",
               "busybox", "echo", "hi", check=False, timeout=300)
    # the VM side cannot run: one line naming it, exit 125, the container's numbers printed
    assert r.returncode == 125, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hull bench compare: microVM cold: "), r.stderr
    rows = table(r.stdout)
    assert set(rows) == set(ROWS), r.stdout
    for name, cells in rows.items():
        assert cells[1] == cells[2] == "failed", (name, cells)  # cold, restored
        assert re.fullmatch(r"\d+(\.\d)?", cells[0]), (name, cells)
    assert 0 < float(rows["time to first output"][0]) <= float(rows["run --rm, end to end"][0])
    assert float(rows["memory per instance (PSS)"][0]) > 0
    assert float(rows["disk needed"][0]) > 0.5  # busybox-static alone is about 1-2 MiB
    assert "(1024 MiB)" in r.stdout
    assert int(rows["instances in the budget"][0]) >= 1
    # the chart is well-formed SVG with a bar per kind and metric
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) >= 3 * len(ROWS)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("chart")] == ["chart.svg"]
    # nothing left: the detached instance is removed, the store's temp dir is empty
    assert bb.out("ps", "-a", "-q") == ""
    assert bb.tmp_is_empty()


@pytest.mark.parametrize("args, msg", [
    (["--runs", "0", "busybox"], "--runs: 0: not a number from 1 to 100"),
    (["--runs", "x", "busybox"], "--runs: x: not a number from 1 to 100"),
    (["--io-mib", "-1", "busybox"], "--io-mib: -1: not a number from 1 to 65536"),
    (["--budget", "lots", "busybox"], "--budget: lots: not a size"),
    ([], "usage: hull bench compare"),
    (["--frob", "busybox"], "unknown flag: --frob"),
])
def test_bad_arguments(bb, args, msg, tmp_path):
    r = bb.run("bench", "compare", *args, check=False, cwd=tmp_path)
    assert r.returncode == 125
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list(tmp_path.iterdir()) == [] or all(p.name == "store" for p in tmp_path.iterdir())
    assert bb.out("ps", "-a", "-q") == ""


def test_unknown_image(bb, tmp_path):
    r = bb.run("bench", "compare", "--runs", "1", "--svg", "", "nosuchimage", check=False,
               cwd=tmp_path, timeout=120)
    assert r.returncode == 125
    assert "container: " in r.stderr and "nosuchimage" in r.stderr, r.stderr
    assert bb.out("ps", "-a", "-q") == ""


def test_bench_needs_compare(bb):
    r = bb.run("bench", "frob", check=False)
    assert r.returncode == 125 and "usage: hull bench compare" in r.stderr
