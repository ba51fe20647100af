"""Authentication and TLS: htpasswd basic auth, hull login/logout and the auth files, the
bearer token flow (a token server in the test, in front of the registry), a registry with a
certificate of a CA made by the test (certs.d), --tls-verify=false."""
import base64
import json
import shutil

from registry_helpers import Proxy, htpasswd, make_ca, make_client_cert, store_listing

NOTLS = "--tls-verify=false"


def test_basic_auth_login_logout(h, bb, make_registry, tmp_path):
    htpasswd(tmp_path / "htpasswd", "alice", "s3cret")
    reg = make_registry("basic", htpasswd=tmp_path / "htpasswd")
    ref = f"{reg.addr}/priv/bb:1"
    h.fails("push", NOTLS, bb, ref, want=f"{ref}")
    line = h.fails("pull", NOTLS, ref, want=ref)
    assert "authentication required" in line or "unauthorized" in line
    h.fails("login", NOTLS, "-u", "alice", "-p", "wrong", reg.addr, want="(HTTP 401)")
    assert not (tmp_path / "auth.json").exists()
    out = h.run("login", NOTLS, "-u", "alice", "--password-stdin", reg.addr,
                input="s3cret\n").stdout
    assert "Login Succeeded" in out
    auth = json.loads((tmp_path / "auth.json").read_text())
    assert base64.b64decode(auth["auths"][reg.addr]["auth"]) == b"alice:s3cret"
    assert (tmp_path / "auth.json").stat().st_mode & 0o077 == 0
    h.run("push", NOTLS, bb, ref)
    h.run("rmi", bb)
    h.run("pull", NOTLS, ref)
    h.run("logout", reg.addr)
    assert reg.addr not in json.loads((tmp_path / "auth.json").read_text())["auths"]
    h.fails("logout", reg.addr, want=f"not logged in to {reg.addr}")
    snap = store_listing(h.root)
    h.run("rmi", ref)
    snap = store_listing(h.root)
    h.fails("pull", NOTLS, ref, want=ref)
    assert store_listing(h.root) == snap
    # docker's config.json is read too
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker/config.json").write_text(json.dumps({"auths": {
        f"http://{reg.addr}/v1/": {"auth": base64.b64encode(b"alice:s3cret").decode()}}}))
    h.run("pull", NOTLS, ref)


def test_tls_with_test_ca(h, bb, make_registry, tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    ca, crt, key = make_ca(d)
    reg = make_registry("tls", tls=(crt, key))
    ref = f"{reg.addr}/tls/bb:1"
    line = h.fails("push", bb, ref, want=ref)
    assert "certificate" in line.lower() or "SSL" in line
    certs = tmp_path / "certs.d"
    (certs / reg.addr).mkdir(parents=True)
    shutil.copy(ca, certs / reg.addr / "ca.crt")
    h.run("push", "--cert-dir", certs, bb, ref)
    h.run("rmi", bb)
    snap = store_listing(h.root)
    h.fails("pull", ref, want=ref)
    assert store_listing(h.root) == snap
    h.run("pull", "--cert-dir", certs, ref)
    h.run("rmi", ref)
    h.run("pull", NOTLS, ref)


def test_tls_client_certificate(h, bb, make_registry, tmp_path):
    """A registry that requires a client certificate signed by the test's CA: certs.d's
    NAME.cert and NAME.key pair (docker's and podman's), refused without it, a .cert without
    its .key one line naming both."""
    d = tmp_path / "pki"
    d.mkdir()
    ca, crt, key = make_ca(d)
    ccert, ckey = make_client_cert(d)
    reg = make_registry("mtls", tls=(crt, key), clientca=ca)
    ref = f"{reg.addr}/mtls/bb:1"
    certs = tmp_path / "certs.d"
    host = certs / reg.addr
    host.mkdir(parents=True)
    shutil.copy(ca, host / "ca.crt")
    snap = store_listing(h.root)
    # the CA alone: the server refuses the handshake
    h.fails("push", "--cert-dir", certs, bb, ref, want=ref)
    h.fails("pull", "--cert-dir", certs, ref, want=ref)
    shutil.copy(ccert, host / "client.cert")
    h.fails("pull", "--cert-dir", certs, ref,
            want=f"client certificate {host}/client.cert: missing key {host}/client.key")
    assert store_listing(h.root) == snap
    shutil.copy(ckey, host / "client.key")
    h.run("push", "--cert-dir", certs, bb, ref)
    h.run("rmi", bb)
    h.run("pull", "--cert-dir", certs, ref)
    assert h.config_of(ref)
    # a certificate of another CA is refused by the server
    other = tmp_path / "other"
    other.mkdir()
    make_ca(other)
    ocert, okey = make_client_cert(other)
    shutil.copy(ocert, host / "client.cert")
    shutil.copy(okey, host / "client.key")
    h.fails("pull", "--cert-dir", certs, ref, want=ref)


def test_bearer_token_flow(h, bb, registry):
    px = Proxy(registry.port, token="tok-19", user="bob", password="pw")
    try:
        ref = f"{px.addr}/tok/bb:1"
        line = h.fails("push", NOTLS, bb, ref, want=ref)
        assert "token server" in line or "unauthorized" in line
        h.fails("login", NOTLS, "-u", "bob", "-p", "nope", px.addr)
        h.run("login", NOTLS, "-u", "bob", "-p", "pw", px.addr)
        h.run("push", NOTLS, bb, ref)
        h.run("rmi", bb)
        h.run("pull", NOTLS, ref)
        assert any("scope=repository%3Atok%2Fbb%3Apull%2Cpush" in s for s in px.scopes), \
            px.scopes
        assert all("service=hull-test" in s for s in px.scopes)
    finally:
        px.stop()
