"""The registry's credentials stay with the registry: an upload Location or a redirect that
names another origin (scheme, host, port) gets no Authorization header, and its 401
challenge is not answered (neither Basic nor a Bearer realm it chose); plain http URLs from
a registry reached over verified https are refused. The other origin is a recorder on
another 127.0.0.1 port that logs every request it gets."""
import base64
import json

import subprocess

import pytest

from registry_helpers import Proxy, Recorder, make_ca, oci_image, store_listing, tar_of

NOTLS = "--tls-verify=false"
USER, SECRET, TOKEN = "carol", "S3cret-only-for-the-registry", "tok-origin-77"
BASIC = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()


def login(h, addr):
    """Credentials for addr in the auth file (hull login would need the registry's TLS)."""
    with open(h.env["REGISTRY_AUTH_FILE"], "w") as f:
        f.write(json.dumps({"auths": {addr: {"auth": BASIC}}}))


def no_leak(rec):
    assert rec.log, "nothing reached the other origin: the test proves nothing"
    assert rec.leaked(SECRET, TOKEN, BASIC) == [], rec.log
    assert not [p for _, p, _, _ in rec.log if p.startswith("/token")], rec.log


@pytest.mark.parametrize("answer", ["401", "201"])
def test_foreign_upload_location_gets_no_credentials(h, bb, registry, answer):
    rec = Recorder((401, [("WWW-Authenticate", 'Basic realm="elsewhere"')])
                   if answer == "401" else (201, []))
    px = Proxy(registry.port, token=TOKEN, user=USER, password=SECRET)
    try:
        login(h, px.addr)
        ref = f"{px.addr}/o/bb:1"
        px.faults = {("POST", "/blobs/uploads/"): [("location", rec.base)]}
        # (with 201 the recorder "takes" the first blob; the registry then lacks it)
        r = h.run("push", NOTLS, bb, ref, check=False)
        no_leak(rec)
        if answer == "401":
            line = r.stderr.strip()
            assert r.returncode == 125 and len(line.splitlines()) == 1, r.stderr
            assert ref in line and f"{rec.base}/v2/o/bb/blobs/uploads/" in line, line
            assert "asks for authentication" in line, line
        # the registry's own origin still gets them: a clean push works
        px.faults = {}
        h.run("push", NOTLS, bb, ref)
    finally:
        px.stop()
        rec.stop()


@pytest.mark.parametrize("what", ["/manifests/sha256:", "/blobs/"])
def test_foreign_redirect_challenge_not_answered(h, registry, tmp_path, what):
    """A multi-arch index: its platform manifest is the session's second request, made
    with the token already in hand; that GET (or a blob's) is redirected elsewhere."""
    rec = Recorder()
    rec.answer = (401, [("WWW-Authenticate",
                         f'Bearer realm="{rec.base}/token",service="elsewhere"')])
    lay = oci_image(tmp_path / "ma", {"amd64": [tar_of({"arch": b"amd64\n"})],
                                      "arm64": [tar_of({"arch": b"arm64\n"})]})
    subprocess.run(["skopeo", "copy", "-q", "--all", f"oci:{lay}:latest",
                    f"docker://{registry.addr}/r/ma:1", "--dest-tls-verify=false"], check=True)
    px = Proxy(registry.port, token=TOKEN, user=USER, password=SECRET)
    try:
        login(h, px.addr)
        ref = f"{px.addr}/r/ma:1"
        h.run("images")  # the store exists: a failed pull leaves it as it was
        snap = store_listing(h.root)
        px.faults = {("GET", what): [("redirect", rec.base + "/elsewhere")] * 4}
        r = h.run("pull", NOTLS, ref, check=False)
        no_leak(rec)
        line = r.stderr.strip()
        assert r.returncode == 125 and len(line.splitlines()) == 1, r.stderr
        assert ref in line and f"{rec.base}/elsewhere asks for authentication" in line, line
        assert store_listing(h.root) == snap
        px.faults = {}
        assert h.run("pull", NOTLS, ref).stdout.strip() == ref
    finally:
        px.stop()
        rec.stop()


@pytest.mark.parametrize("where", ["realm", "location"])
def test_plain_http_refused_over_verified_tls(h, bb, registry, tmp_path, where):
    d = tmp_path / "pki"
    d.mkdir()
    ca, crt, key = make_ca(d)
    certs = tmp_path / "certs.d"
    rec = Recorder((201, []))
    # an http realm, or the proxy's own https one and an http upload Location
    px = Proxy(registry.port, token=TOKEN, user=USER, password=SECRET, tls=(crt, key),
               realm=f"{rec.base}/token" if where == "realm" else None)
    try:
        (certs / px.addr).mkdir(parents=True)
        (certs / px.addr / "ca.crt").write_bytes(ca.read_bytes())
        login(h, px.addr)
        ref = f"{px.addr}/t/bb:1"
        if where == "location":
            px.faults = {("POST", "/blobs/uploads/"): [("location", rec.base)]}
        r = h.run("push", "--cert-dir", certs, bb, ref, check=False)
        assert rec.log == []
        line = r.stderr.strip()
        assert r.returncode == 125 and len(line.splitlines()) == 1, r.stderr
        assert ref in line and "plain http" in line, line
        assert f"GET {rec.base}/token" in line or f"{rec.base}/v2/t/bb" in line, line
        px.faults = {}
        if where == "location":
            h.run("push", "--cert-dir", certs, bb, ref)
    finally:
        px.stop()
        rec.stop()
