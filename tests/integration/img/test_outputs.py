"""What `hull img convert` and `create` show and leave behind (issue 11 item 9, issue 13
item 5): progress on a terminal as qemu-img prints it, no "Formatting" line for a create
that fails, and outputs that appear under their final name only when complete."""
import os
import pty
import re
import signal
import subprocess
import time

MiB = 1 << 20


def run_on_pty(args, cwd):
    """Run args with stdout on a new pty; returns (exit code, bytes written to the pty)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([str(a) for a in args], stdout=slave, stderr=subprocess.PIPE,
                         cwd=cwd)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    p.wait(timeout=120)
    p.stderr.close()
    return p.returncode, out


def test_convert_progress_on_a_terminal(img):
    img.qemu_img("create", "-q", "-f", "qcow2", "src.qcow2", "64M")
    img.qemu_io("src.qcow2", "write -P 1 0 64M")
    rc, out = run_on_pty([img.hull, "img", "convert", "-p", "-O", "raw", "src.qcow2",
                          "dst.raw"], img.tmp)
    assert rc == 0, out
    lines = out.replace(b"\r\n", b"\n").split(b"\r")
    assert lines[-1] == b"\n", out
    values = []
    for line in lines[:-1]:
        m = re.fullmatch(rb"    \((\d+\.\d\d)/100%\)", line)
        assert m, (line, out)
        values.append(float(m.group(1)))
    assert values[0] == 0.0 and values[-1] == 100.0, values
    assert values == sorted(values) and len(set(values)) > 10, values
    img.qemu_compare(img.p("src.qcow2"), img.p("dst.raw"), fmt_a="qcow2")
    # qemu-img prints the same kind of lines
    rc, qout = run_on_pty(["qemu-img", "convert", "-p", "-O", "raw", "src.qcow2", "q.raw"],
                          img.tmp)
    assert rc == 0 and re.match(rb"    \(0\.00/100%\)\r", qout), qout
    # without -p: nothing on stdout
    rc, out = run_on_pty([img.hull, "img", "convert", "-O", "raw", "src.qcow2", "d2.raw"],
                         img.tmp)
    assert rc == 0 and out == b"", out


def test_create_failure_prints_no_formatting_line_and_keeps_the_file(img):
    with open(img.p("x.qcow2"), "wb") as f:
        f.write(b"precious")
    r = img.img("create", "-f", "qcow2", "-b", "missing.qcow2", "-F", "qcow2", "new.qcow2",
                check=False)
    assert r.returncode == 1 and "missing.qcow2" in r.stderr, r.stderr
    assert "Formatting" not in r.stdout, r.stdout
    assert open(img.p("x.qcow2"), "rb").read() == b"precious"
    r = img.img("create", "-f", "qcow2", "nodir/x.qcow2", "1M", check=False)
    assert r.returncode == 1 and "nodir/x.qcow2" in r.stderr and r.stdout == "", r
    assert "hull-tmp" not in r.stderr, r.stderr
    assert sorted(os.listdir(img.tmp)) == ["x.qcow2"], os.listdir(img.tmp)


def test_create_over_an_existing_file_fails_first(img):
    """hull refuses to overwrite (docs/qcow2.md; qemu-img 7.2 would replace the file), and
    says so before printing anything."""
    with open(img.p("x.qcow2"), "wb") as f:
        f.write(b"precious")
    r = img.img("create", "-f", "qcow2", "x.qcow2", "1M", check=False)
    assert r.returncode == 1 and "x.qcow2: File exists" in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    assert open(img.p("x.qcow2"), "rb").read() == b"precious"
    r = img.img("create", "-f", "qcow2", "y.qcow2", "1M")
    assert r.stdout.startswith("Formatting 'y.qcow2', fmt=qcow2"), r.stdout
    img.qemu_check_clean(img.p("y.qcow2"))


def test_convert_killed_never_leaves_a_partial_image(img, rng):
    """SIGKILL at seeded moments: the target is the old file or the whole new image."""
    img.qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "src.qcow2", "48M")
    img.qemu_io("src.qcow2", "write -P 7 0 48M")
    old = b"the previous target" * 100
    t0 = time.monotonic()
    img.img("convert", "-O", "qcow2", "src.qcow2", "full.qcow2")
    span = time.monotonic() - t0
    for i in range(10):
        with open(img.p("t.qcow2"), "wb") as f:
            f.write(old)
        p = subprocess.Popen([str(img.hull), "img", "convert", "-O", "qcow2", "src.qcow2",
                              "t.qcow2"], cwd=img.tmp, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, span))
        p.send_signal(signal.SIGKILL)
        p.wait()
        data = open(img.p("t.qcow2"), "rb").read()
        if data != old:
            img.qemu_check_clean(img.p("t.qcow2"))
            img.qemu_compare(img.p("src.qcow2"), img.p("t.qcow2"), fmt_a="qcow2",
                             fmt_b="qcow2")
        for name in os.listdir(img.tmp):  # the killed run's temporary file
            if ".hull-tmp." in name:
                os.unlink(img.p(name))
    assert sorted(os.listdir(img.tmp)) == ["full.qcow2", "src.qcow2", "t.qcow2"]
