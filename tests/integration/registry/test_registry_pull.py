"""hull pull and push against a real registry (docker-registry) on 127.0.0.1, and skopeo as
the other side: round trips, what lands in the store, skipped blobs, bad references."""
import json
import subprocess

from registry_helpers import Hull, oci_image, push_multi_arch, store_listing, tar_of

NOTLS = "--tls-verify=false"


def test_push_then_pull_round_trip(h, bb, registry):
    ref = f"{registry.addr}/test/bb:v1"
    digest = h.run("push", NOTLS, bb, ref).stdout.strip()
    assert digest.startswith("sha256:")
    before_id = h.config_of(bb)
    h.run("rmi", bb)
    out = h.run("pull", NOTLS, ref).stdout.strip()
    assert out == ref
    assert h.config_of(ref) == before_id
    r = h.run("run", "--rm", ref, "cat", "/etc/hello", check=False)
    if r.returncode == 0:
        assert "hello from the registry test" in r.stdout
    # a second pull stores nothing new and needs no blob
    snap = store_listing(h.root)
    h.run("pull", NOTLS, ref)
    assert store_listing(h.root) == snap
    assert not list((h.root / "tmp").iterdir())


def test_pull_equals_oci_layout_import(h, registry, tmp_path):
    """The store after a registry pull is the store after importing the same image from an
    oci: layout (skopeo copies the layout to the registry unchanged)."""
    lay = oci_image(tmp_path / "lay", {"amd64": [tar_of({"a": b"1"}), tar_of({"b": b"2"})]})
    subprocess.run(["skopeo", "copy", "-q", "--preserve-digests", f"oci:{lay}:latest",
                    f"docker://{registry.addr}/lay:latest", "--dest-tls-verify=false"],
                   check=True, capture_output=True)
    h.run("pull", NOTLS, f"{registry.addr}/lay:latest")
    other = Hull(h.binary, tmp_path / "store2", tmp_path / "auth2.json")
    try:
        other.run("pull", f"oci:{lay}:latest")
        assert store_listing(other.root)[0] == store_listing(h.root)[0]
        assert other.config_of("localhost/lay:latest") == \
            h.config_of(f"{registry.addr}/lay:latest")
    finally:
        subprocess.run(["rm", "-rf", str(other.root)], check=True)


def test_skopeo_to_hull_and_hull_to_skopeo(h, bb, registry, tmp_path):
    ref = f"{registry.addr}/x/bb:1"
    h.run("push", NOTLS, bb, ref)
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out)["Architecture"] == "amd64"
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                    f"oci:{tmp_path / 'back'}:1"], check=True, capture_output=True)
    subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                    f"oci:{tmp_path / 'back'}:1", f"docker://{registry.addr}/y/bb:2"],
                   check=True, capture_output=True)
    h.run("pull", NOTLS, f"{registry.addr}/y/bb:2")
    assert h.config_of(f"{registry.addr}/y/bb:2")["rootfs"] == h.config_of(bb)["rootfs"]


def test_pull_by_digest(h, bb, registry):
    ref = f"{registry.addr}/d/bb:1"
    digest = h.run("push", NOTLS, bb, ref).stdout.strip()
    h.run("rmi", bb)
    out = h.run("pull", NOTLS, f"{registry.addr}/d/bb@{digest}").stdout.strip()
    assert out.startswith("sha256:")
    bad = digest[:-4] + ("0000" if not digest.endswith("0000") else "1111")
    h.fails("pull", NOTLS, f"{registry.addr}/d/bb@{bad}", want=f"{registry.addr}/d/bb@{bad}")


def test_docker_transport_prefix(h, bb, registry):
    """docker://REF is the registry's transport, as a bare REF is (skopeo's spelling)."""
    ref = f"{registry.addr}/t/bb:1"
    h.run("push", NOTLS, bb, ref)
    h.run("rmi", bb)
    assert h.run("pull", NOTLS, f"docker://{ref}").stdout.strip() == ref
    assert h.config_of(ref) is not None
    h.fails("pull", "docker://Busybox", want="'Busybox': repository name must be lowercase")


def test_multi_arch_index_and_platform(h, registry, tmp_path):
    ref = push_multi_arch(registry, tmp_path / "ma")
    h.run("pull", NOTLS, ref)
    assert h.config_of(ref)["architecture"] == "amd64"
    ins = json.loads(h.run("inspect", ref).stdout)[0]
    assert (ins["Os"], ins["Architecture"], "Variant" in ins) == ("linux", "amd64", False)
    assert h.run("images", "--format", "{{.Architecture}}").stdout == "amd64\n"
    h.run("pull", NOTLS, "--platform", "linux/arm64", ref)
    assert h.config_of(ref)["architecture"] == "arm64"
    h.run("pull", NOTLS, "--platform", "linux/arm64/v8", ref)
    assert h.config_of(ref)["architecture"] == "arm64"
    # recorded and shown: inspect as docker's, images --format, index.json's platform
    ins = json.loads(h.run("inspect", ref).stdout)[0]
    assert (ins["Os"], ins["Architecture"], ins["Variant"]) == ("linux", "arm64", "v8")
    fmt = "{{.Repository}}:{{.Tag}} {{.Os}}/{{.Architecture}}/{{.Variant}}"
    assert h.run("images", "--format", fmt).stdout == f"{ref} linux/arm64/v8\n"
    idx = json.loads((h.root / "index.json").read_text())
    assert [m["platform"] for m in idx["manifests"]] == \
        [{"os": "linux", "architecture": "arm64", "variant": "v8"}]
    snap = store_listing(h.root)
    h.fails("pull", NOTLS, "--platform", "linux/s390x", ref, want="no image for platform "
            "linux/s390x")
    h.fails("pull", NOTLS, "--platform", "linux", ref,
            want="--platform linux: expected os/arch[/variant]")
    assert store_listing(h.root) == snap


def test_bad_references_and_hosts(h, registry):
    h.fails("pull", "Busybox", want="'Busybox': repository name must be lowercase")
    h.fails("pull", "a//b", want="'a//b'")
    h.fails("pull", "x:@", want="'x:@'")
    h.fails("pull", NOTLS, f"{registry.addr}/nothere:latest",
            want=f"{registry.addr}/nothere:latest")
    h.fails("pull", NOTLS, "127.0.0.1:1/x", want="127.0.0.1:1/x:latest")
    h.fails("pull", NOTLS, "no-such-host.invalid/x", want="no-such-host.invalid/x:latest")
    h.fails("push", NOTLS, "localhost/none", f"{registry.addr}/x", want="no such image")
    assert not (h.root / "blobs").exists() or not list((h.root / "blobs/sha256").iterdir())


def test_layer_that_does_not_match_its_diff_id(h, registry, tmp_path):
    """Layers are unpacked (two at a time) in staging and checked against the config's
    diff_ids before anything is stored."""
    lay = oci_image(tmp_path / "bad", {"amd64": [tar_of({"a": b"1"}), tar_of({"b": b"2"}),
                                                 tar_of({"c": b"3"})]}, bad_diff_id=True)
    subprocess.run(["skopeo", "copy", "-q", f"oci:{lay}:latest",
                    f"docker://{registry.addr}/bad:latest", "--dest-tls-verify=false"],
                   check=True, capture_output=True)
    h.run("images")  # the store's skeleton
    snap = store_listing(h.root)
    h.fails("pull", NOTLS, f"{registry.addr}/bad:latest", want="differs from diff_id")
    assert store_listing(h.root) == snap
    assert not (h.root / "tmp").exists() or not list((h.root / "tmp").iterdir())
