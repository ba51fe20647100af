"""Interoperability with Debian's podman, skopeo and umoci, both ways, all offline: images
they write load into hull and run; images hull writes load into podman and pass
`skopeo inspect`."""
import json
import shutil
import subprocess
import tarfile

import pytest


def need(cmd):
    if not shutil.which(cmd):
        pytest.skip(f"{cmd} not installed")


@pytest.fixture(scope="session")
def podman_images(podman, rootfs_tar, tmp_path_factory):
    """busybox imported into a private podman, and a two-layer image whose second layer
    deletes and adds files (podman build with RUN rm)."""
    podman("import", "--change", 'CMD ["/bin/sh"]', rootfs_tar, "localhost/pbusybox:latest")
    ctx = tmp_path_factory.mktemp("ctx")
    (ctx / "Containerfile").write_text(
        "FROM localhost/pbusybox:latest\n"
        "RUN rm /bin/vi /etc/group && rm -rf /home && mkdir -p /data && echo two > /data/f\n")
    podman("build", "--network", "none", "-t", "localhost/twolayer:latest", ctx)
    return podman


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_save_loads_and_runs_in_hull(hull_store, podman_images, tmp_path, fmt):
    out = tmp_path / f"two-{fmt}.tar"
    podman_images("save", "--format", fmt, "-o", out, "localhost/twolayer:latest")
    r = hull_store.run("load", "-i", out)
    assert "Loaded image: localhost/twolayer:latest" in r.stdout
    assert len(hull_store.inspect("twolayer")["RootFS"]["diff_ids"]) == 2
    r = hull_store.run("run", "--rm", "twolayer", "sh", "-c",
                       "cat /data/f; ls /bin/vi /etc/group /home 2>&1; test -x /bin/ls && echo ls-ok")
    assert r.returncode == 0
    assert "two" in r.stdout and "ls-ok" in r.stdout
    assert r.stdout.count("No such file or directory") == 3


def test_skopeo_oci_layout_with_bare_tag_and_zstd(hull_store, podman_images, tmp_path):
    need("skopeo")
    arch = tmp_path / "bb.tar"
    podman_images("save", "--format", "docker-archive", "-o", arch, "localhost/pbusybox:latest")
    layout = tmp_path / "layout"
    subprocess.run(["skopeo", "copy", "--dest-compress-format", "zstd", f"docker-archive:{arch}",
                    f"oci:{layout}:v1"], check=True, capture_output=True)
    idx = json.loads((layout / "index.json").read_text())
    assert idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    man = json.loads((layout / "blobs/sha256" / idx["manifests"][0]["digest"][7:]).read_text())
    assert man["layers"][0]["mediaType"].endswith("zstd")
    r = hull_store.run("pull", f"oci:{layout}:v1")
    # a bare tag takes the layout directory's name as repository
    assert r.stdout.strip() == "localhost/layout:v1"
    assert hull_store.run("run", "--rm", "layout:v1", "echo", "zstd-ok").stdout == "zstd-ok\n"


def test_umoci_layout_loads(hull_store, tmp_path, rootfs_tar):
    need("umoci")
    layout = tmp_path / "umoci"
    subprocess.run(["umoci", "init", "--layout", layout], check=True)
    subprocess.run(["umoci", "new", "--image", f"{layout}:latest"], check=True)
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:latest", bundle], check=True,
                   capture_output=True)
    subprocess.run(["tar", "-C", bundle / "rootfs", "-xf", rootfs_tar], check=True)
    subprocess.run(["umoci", "repack", "--image", f"{layout}:latest", bundle], check=True,
                   capture_output=True)
    subprocess.run(["umoci", "config", "--image", f"{layout}:latest", "--config.cmd", "/bin/sh"],
                   check=True)
    hull_store.run("pull", f"oci:{layout}:latest")
    assert hull_store.run("run", "--rm", "localhost/umoci", "echo", "umoci-ok").stdout == "umoci-ok\n"


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_hull_save_loads_in_podman_and_skopeo_inspects(bb, podman, tmp_path, fmt):
    need("skopeo")
    out = tmp_path / f"hull-{fmt}.tar"
    bb.run("tag", "busybox", f"hullsaved-{fmt[:3]}:v1")
    bb.run("save", "--format", fmt, "-o", out, f"hullsaved-{fmt[:3]}:v1")
    r = subprocess.run(["skopeo", "inspect", f"{fmt}:{out}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["Os"] == "linux" and info["Architecture"] == "amd64"
    assert len(info["Layers"]) == 1
    r = podman("load", "-i", out)
    assert f"localhost/hullsaved-{fmt[:3]}:v1" in r.stdout
    r = podman("image", "inspect", f"localhost/hullsaved-{fmt[:3]}:v1")
    assert json.loads(r.stdout)[0]["Id"] == bb.inspect("busybox")["Id"][7:]


def test_gzip_layers_round_trip_back_to_podman(hull_store, podman_images, tmp_path):
    """podman's oci-archive has gzip layers; hull's docker-archive of it has plain tars that
    podman loads and runs, and skopeo inspects."""
    need("skopeo")
    src = tmp_path / "two-oci.tar"
    podman_images("save", "--format", "oci-archive", "-o", src, "localhost/twolayer:latest")
    hull_store.run("load", "-i", src)
    back = tmp_path / "back.tar"
    hull_store.run("tag", "twolayer", "localhost/roundtrip:1")
    hull_store.run("save", "-o", back, "localhost/roundtrip:1")
    with tarfile.open(back) as t:
        for m in t.getmembers():
            if m.name.endswith(".tar"):
                assert t.extractfile(m).read(262)[257:262] == b"ustar"
    r = subprocess.run(["skopeo", "inspect", f"docker-archive:{back}"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and len(json.loads(r.stdout)["Layers"]) == 2
    podman_images("load", "-i", back)
    r = podman_images("run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
                      "--ulimit", "nproc=1024:1024", "localhost/roundtrip:1", "cat", "/data/f")
    assert r.stdout == "two\n"


def test_the_store_is_an_oci_layout_skopeo_and_umoci_read(bb):
    need("skopeo")
    need("umoci")
    r = subprocess.run(["umoci", "ls", "--layout", bb.root], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["localhost/busybox:latest"]
    r = subprocess.run(["skopeo", "inspect", f"oci:{bb.root}:localhost/busybox:latest"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Digest"] == bb.inspect("busybox")["Digest"]
