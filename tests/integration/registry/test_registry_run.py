"""hull run / create --pull always|missing|never and --platform against a registry on
127.0.0.1 (docker's semantics: missing, the default, pulls only what the store lacks)."""
import shutil
import subprocess

from registry_helpers import push_multi_arch, store_listing

NOTLS = "--tls-verify=false"


def test_run_pulls_a_missing_image_and_never_does_not(h, bb, registry):
    ref = f"{registry.addr}/run/bb:1"
    h.run("push", NOTLS, bb, ref)
    h.run("rmi", bb)
    h.fails("run", "--rm", "--pull", "never", ref, "true", want=f"no such image: {ref}")
    snap = store_listing(h.root)  # containers/.lock made by the first run
    h.fails("create", "--pull=never", ref, want=f"no such image: {ref}")
    assert store_listing(h.root) == snap
    assert not (h.root / "blobs/sha256").exists() or \
        not list((h.root / "blobs/sha256").iterdir())
    r = h.run("run", "--rm", NOTLS, ref, "cat", "/etc/hello", check=False)
    assert f"Unable to find image '{ref}' locally" in r.stderr
    assert h.config_of(ref) is not None
    if r.returncode == 0:
        assert "hello from the registry test" in r.stdout
    # present: missing does not ask the registry (stopped now), always does and fails
    registry.stop()
    cid = h.run("create", "--pull", "missing", ref, "/bin/sh").stdout.strip()
    h.run("rm", cid)
    cid = h.run("create", ref, "/bin/sh").stdout.strip()
    h.run("rm", cid)
    h.fails("create", "--pull", "always", NOTLS, ref, "/bin/sh", want=ref)


def test_missing_image_whose_pull_fails(h, registry):
    ref = f"{registry.addr}/nothere:1"
    r = h.run("create", NOTLS, ref, check=False)
    assert r.returncode == 125
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"Unable to find image '{ref}' locally"
    assert len(lines) == 2 and f"no such image: {ref}, and pulling it failed" in lines[1]


def test_create_platform_from_an_index(h, registry, tmp_path):
    ref = push_multi_arch(registry, tmp_path / "ma")
    # the image has no command to run: the create fails after the pull, which is kept; a
    # made-up binfmt_misc handler lets it past the architecture check (test_registry_foreign)
    (tmp_path / "binfmt").mkdir()
    (tmp_path / "binfmt/qemu-aarch64").write_text("enabled\nflags: POF\n")
    h.env["HULL_BINFMT_MISC"] = str(tmp_path / "binfmt")
    r = h.run("create", NOTLS, "--platform", "linux/arm64", ref, "/x", check=False)
    assert "exec /x" in r.stderr
    assert h.config_of(ref)["architecture"] == "arm64"
    h.run("create", NOTLS, "--pull", "always", "--platform", "linux/amd64", ref, "/x",
          check=False)
    assert h.config_of(ref)["architecture"] == "amd64"
    assert h.run("ps", "-aq").stdout.strip() == ""


def test_bad_pull_and_platform_values(h, bb):
    for cmd in ("run", "create"):
        h.fails(cmd, "--pull", "sometimes", bb, want="--pull sometimes")
        h.fails(cmd, "--pull=", bb, want="--pull ")
        h.fails(cmd, "--platform", "linux", bb, want="--platform linux")
        h.fails(cmd, "--platform", "linux/amd64/v1/x", bb, want="--platform linux/amd64/v1/x")
    h.fails("pull", "--platform", "/amd64", bb, want="--platform /amd64")
    assert h.run("ps", "-aq").stdout.strip() == ""


def test_foreign_binary_and_missing_interpreter(h, tmp_path):
    """A program for a machine that no binfmt_misc handler runs (not arm64: qemu-user-static
    may be registered) and a #! naming no interpreter: runc's line with the errno and the
    path, docker's exit codes 126 and 127."""
    import struct
    root = tmp_path / "fr"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    elf = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack("<HHI", 2, 140, 1) + \
        bytes(48)  # EM_TI_C6000: no qemu-user for it
    (root / "bin/arm").write_bytes(elf)
    (root / "bin/script").write_text("#!/nonexistent\necho hi\n")
    for f in ("arm", "script"):
        (root / "bin" / f).chmod(0o755)
    tar = tmp_path / "fr.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."],
                   check=True)
    h.run("import", tar, "localhost/foreign:1")
    for cmd, code, line in (("/bin/arm", 126, "exec /bin/arm: exec format error"),
                            ("/bin/script", 127, "exec /bin/script: no such file or directory")):
        r = h.run("run", "--rm", "--pull", "never", "localhost/foreign:1", cmd, check=False)
        assert r.returncode == code, (cmd, r.returncode, r.stderr)
        assert r.stderr.strip() == line or r.stderr.strip().endswith(": " + line), r.stderr
    assert h.run("ps", "-aq").stdout.strip() == ""
