"""hull push: only missing blobs go up (HEAD), a blob another repository of the registry has
is mounted, big blobs go up in PATCH chunks; faults during a push; progress lines only on a
terminal."""
import os
import pty
import subprocess

from registry_helpers import Proxy

NOTLS = "--tls-verify=false"


def uploads(px):
    return [(m, p) for m, p in px.log if m in ("POST", "PATCH", "PUT") and "/blobs/" in p]


def test_push_skips_present_mounts_and_chunks(h, bb, registry):
    px = Proxy(registry.port)
    try:
        ref = f"{px.addr}/p/one:1"
        h.env["HULL_PUSH_CHUNK_SIZE"] = "65536"
        h.run("push", NOTLS, bb, ref)
        patches = [p for m, p in uploads(px) if m == "PATCH"]
        assert len(patches) > 5, px.log  # busybox: > 400 KiB compressed
        # again: every blob is there (HEAD), nothing is uploaded
        px.log.clear()
        h.run("push", NOTLS, bb, ref)
        assert uploads(px) == [], px.log
        assert [m for m, _ in px.log if m == "HEAD"]
        # an image pulled from p/one pushed to p/two: its blobs are mounted, not uploaded
        h.run("pull", NOTLS, ref)
        px.log.clear()
        h.run("push", NOTLS, ref, f"{px.addr}/p/two:1")
        ups = uploads(px)
        assert ups and all(m == "POST" and "mount=" in p and "from=p/one" in p
                           for m, p in ups), ups
        h.run("rmi", ref)
        h.run("pull", NOTLS, f"{px.addr}/p/two:1")
    finally:
        px.stop()


def test_push_faults_then_retry(h, bb, registry):
    px = Proxy(registry.port)
    try:
        ref = f"{px.addr}/pf/bb:1"
        px.faults = {("PUT", "/manifests/"): ["500"] * 4}
        h.fails("push", NOTLS, bb, ref, want=f"{ref}: manifest: server error (HTTP 500)")
        px.faults = {("POST", "/blobs/uploads/"): ["429", "429"]}
        h.run("push", NOTLS, bb, ref)
        h.fails("push", NOTLS, "nosuch", ref, want="no such image: nosuch")
        h.fails("push", NOTLS, bb, f"{px.addr}/pf/bb@sha256:" + "0" * 64,
                want="push to a tag, not a digest")
    finally:
        px.stop()


def test_progress_on_a_terminal_only(h, bb, registry):
    ref = f"{registry.addr}/tty/bb:1"
    piped = h.run("push", NOTLS, bb, ref).stdout
    assert "\033[" not in piped and piped.strip().startswith("sha256:")
    h.run("rmi", bb)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(h.binary, [h.binary, "pull", NOTLS, ref], h.env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WEXITSTATUS(status) == 0, out
    assert b"Download complete" in out and b"\033[" in out
    piped = subprocess.run([h.binary, "pull", NOTLS, ref], env=h.env, capture_output=True,
                           text=True).stdout
    assert piped == ref + "\n"
