"""Faults injected by a proxy between hull and the registry: a connection cut mid-blob
(resumed with Range), a wrong digest, a blob longer than declared, 429 then success, 5xx,
a stalled server (timeout), manifests that lie, absurd sizes, an index that points to
itself. After every failure: exit 125, one line naming the reference, the store unchanged,
and a retry works."""
import hashlib
import json

import pytest

from registry_helpers import Proxy, store_listing

NOTLS = "--tls-verify=false"


@pytest.fixture
def pushed(h, bb, registry):
    """bb pushed to the registry and removed from the store; a proxy in front."""
    ref = f"{registry.addr}/f/bb:1"
    digest = h.run("push", NOTLS, bb, ref).stdout.strip()
    man = json.loads(h.blob(digest))
    empty_store(h, bb)
    px = Proxy(registry.port)
    yield px, f"{px.addr}/f/bb:1", man, digest
    px.stop()


def blob_gets(px, digest):
    return [p for m, p in px.log if m == "GET" and p.endswith(digest)]


def fail_then_retry(h, px, ref, faults, want):
    snap = store_listing(h.root)
    px.faults = faults
    h.fails("pull", NOTLS, ref, want=want)
    assert h.fails  # one line, exit 125 (checked by fails)
    assert store_listing(h.root) == snap
    assert not (h.root / "tmp").exists() or not list((h.root / "tmp").iterdir())
    px.faults = {}
    assert h.run("pull", NOTLS, ref).stdout.strip() == ref
    empty_store(h, ref)


def empty_store(h, ref):
    h.run("rmi", ref)
    h.run("system", "prune", "-a", "-f")
    assert not list((h.root / "blobs/sha256").iterdir())


def test_cut_mid_blob_resumes(h, pushed):
    px, ref, man, _ = pushed
    layer = man["layers"][0]["digest"]
    px.faults = {("GET", layer): ["cut", "cut"]}
    assert h.run("pull", NOTLS, ref).stdout.strip() == ref
    assert len(blob_gets(px, layer)) == 3


def test_cut_too_often_fails_then_retry(h, pushed):
    px, ref, man, _ = pushed
    layer = man["layers"][0]["digest"]
    fail_then_retry(h, px, ref, {("GET", layer): ["cut"] * 8}, f"{ref}: blob {layer}")


def test_wrong_digest(h, pushed):
    px, ref, man, _ = pushed
    layer = man["layers"][0]["digest"]
    fail_then_retry(h, px, ref, {("GET", layer): ["digest"]}, "content has digest")


def test_blob_longer_than_declared(h, pushed):
    px, ref, man, _ = pushed
    layer = man["layers"][0]["digest"]
    fail_then_retry(h, px, ref, {("GET", layer): ["long"]}, "longer than the")


def test_429_then_success(h, pushed):
    px, ref, man, _ = pushed
    layer = man["layers"][0]["digest"]
    px.faults = {("GET", "/manifests/"): ["429"], ("GET", layer): ["429", "429"]}
    assert h.run("pull", NOTLS, ref).stdout.strip() == ref


def test_5xx(h, pushed):
    px, ref, man, _ = pushed
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): ["500"] * 4}, "(HTTP 500)")
    layer = man["layers"][0]["digest"]
    fail_then_retry(h, px, ref, {("GET", layer): ["500"] * 4}, "(HTTP 500)")


def test_401_403_404(h, pushed):
    px, ref, man, _ = pushed
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): ["404"]}, "test says 404 (HTTP 404)")
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): ["403"]}, "test says 403 (HTTP 403)")
    # a 401 without a challenge: nothing to answer it with
    layer = man["layers"][0]["digest"]
    fail_then_retry(h, px, ref, {("GET", layer): ["401", "401"]}, "(HTTP 401)")


def test_concurrent_pulls(h, pushed):
    """Pulls of one image into one store at once: each stages on its own, the store lock
    orders the commits, and all succeed with one consistent store."""
    import subprocess
    px, ref, _, _ = pushed
    procs = [subprocess.Popen([h.binary, "pull", NOTLS, ref], env=h.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all(o.strip() == ref for o, _ in outs)
    assert not list((h.root / "tmp").iterdir())
    idx = json.loads((h.root / "index.json").read_text())
    assert len(idx["manifests"]) == 1


def test_stalled_server_times_out(h, pushed):
    px, ref, man, _ = pushed
    px.slow_s = 6  # HULL_REGISTRY_TIMEOUT is 3 in these tests
    layer = man["layers"][0]["digest"]
    # a stall after some progress resumes; a stall of the manifest fails
    px.faults = {("GET", layer): ["slow"]}
    assert h.run("pull", NOTLS, ref).stdout.strip() == ref
    empty_store(h, ref)
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): ["slow"]}, "timed out")


def test_manifest_lies(h, pushed):
    px, ref, man, digest = pushed
    # the registry says one digest, the content has another
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): ["manifest-lie"]}, "content has digest")
    # a blob the store has must still have the declared size
    h.run("pull", NOTLS, ref)
    short = json.loads(json.dumps(man))
    short["layers"][0]["size"] -= 1
    snap = store_listing(h.root)
    px.faults = {("GET", "/manifests/"): [serve(short)]}
    h.fails("pull", NOTLS, ref, want="but its descriptor declares")
    assert store_listing(h.root) == snap
    empty_store(h, ref)
    # by digest: the content must hash to it
    byd = ref.rsplit(":", 1)[0] + "@" + digest
    snap = store_listing(h.root)
    px.faults = {("GET", "/manifests/"): ["manifest-lie"]}
    h.fails("pull", NOTLS, byd, want="content has digest")
    assert store_listing(h.root) == snap


def serve(doc, mt="application/vnd.oci.image.manifest.v1+json"):
    return ("serve", json.dumps(doc).encode(), mt)


def test_absurd_and_bad_manifests(h, pushed):
    px, ref, man, _ = pushed
    big = json.loads(json.dumps(man))
    big["layers"][0]["size"] = 1 << 60
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [serve(big)]}, "absurd size")
    short = json.loads(json.dumps(man))
    short["layers"][0]["size"] = man["layers"][0]["size"] - 1
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [serve(short)]}, "longer than")
    longer = json.loads(json.dumps(man))
    longer["layers"][0]["size"] = man["layers"][0]["size"] + 10
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [serve(longer)]}, "truncated")
    many = json.loads(json.dumps(man))
    many["layers"] = many["layers"] * 300
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [serve(many)]}, "too many")
    huge = ("serve", b"{" + b" " * (5 << 20) + b"}", "application/json")
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [huge]}, "longer than")
    v1 = {"schemaVersion": 1, "name": "f/bb", "tag": "1", "fsLayers": []}
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [serve(v1, "application/json")]},
                    "schema version 1")


def test_index_pointing_to_itself(h, pushed):
    """An index whose entry names a digest the registry answers with the index again: the
    answer does not hash to the digest asked for, and a real cycle cannot verify."""
    px, ref, man, digest = pushed
    mt = "application/vnd.oci.image.index.v1+json"
    idx = {"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": mt, "digest": digest, "size": 100,
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    body = json.dumps(idx).encode()
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): [("serve", body, mt)] * 2},
                    "manifest " + digest)
    # nested too deep: every level a new (valid) index
    levels = []
    inner = {"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
         "size": 1, "platform": {"os": "linux", "architecture": "amd64"}}]}
    for _ in range(6):
        b = json.dumps(inner).encode()
        levels.insert(0, ("serve", b, mt))
        inner = {"schemaVersion": 2, "mediaType": mt, "manifests": [
            {"mediaType": mt, "digest": "sha256:" + hashlib.sha256(b).hexdigest(),
             "size": len(b), "platform": {"os": "linux", "architecture": "amd64"}}]}
    levels.insert(0, ("serve", json.dumps(inner).encode(), mt))
    fail_then_retry(h, px, ref, {("GET", "/manifests/"): levels}, "nested too deep")
