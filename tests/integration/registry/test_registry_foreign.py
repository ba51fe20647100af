"""Images of another architecture (issue 19): a multi-arch index of Debian's busybox-static for
amd64 (the host's package) and arm64 (the .deb that scripts/fetch-foreign-debs keeps in
/var/cache/hull/debs) pulled with and without --platform, the arm64 one run through
qemu-user-static's binfmt_misc handler, and the one-line refusal when no handler can run it."""
import glob
import os
import pathlib
import subprocess

import pytest

from registry_helpers import oci_image, store_listing, tar_of

NOTLS = "--tls-verify=false"
BINFMT = pathlib.Path("/proc/sys/fs/binfmt_misc")
DEBS = os.environ.get("HULL_FOREIGN_DEBS", "/var/cache/hull/debs")
CONF = pathlib.Path("/usr/lib/binfmt.d/qemu-aarch64.conf")  # qemu-user-static's


@pytest.fixture(scope="module")
def qemu_aarch64():
    """qemu-user-static's aarch64 handler registered (as systemd-binfmt does at boot):
    mounted and registered here when it is not, and undone afterwards."""
    if not CONF.exists():
        pytest.skip("qemu-user-static is not installed (scripts/install-deps)")
    mounted = registered = False
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=True)
        mounted = True
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists():
        (BINFMT / "register").write_text(CONF.read_text().strip())
        registered = True
    text = entry.read_text()
    assert text.startswith("enabled") and "F" in text.split("flags: ")[1].split("\n")[0], text
    yield
    if registered:
        entry.write_text("-1")
        assert not entry.exists()
    if mounted:
        subprocess.run(["umount", str(BINFMT)], check=True)


def busybox_layer(tmp, binary):
    """A layer tar of bin/busybox (copied from binary) and bin/sh -> busybox."""
    root = tmp / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin/busybox").write_bytes(pathlib.Path(binary).read_bytes())
    (root / "bin/busybox").chmod(0o755)
    (root / "bin/sh").symlink_to("busybox")
    tar = tmp / "layer.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "--owner=0", "--group=0",
                    "-cf", str(tar), "bin"], check=True)
    return tar.read_bytes()


def push_index(registry, tmp_path, layers, name):
    lay = oci_image(tmp_path / name, layers)
    subprocess.run(["skopeo", "copy", "-q", "--all", f"oci:{lay}:latest",
                    f"docker://{registry.addr}/{name}:latest", "--dest-tls-verify=false"],
                   check=True, capture_output=True)
    return f"{registry.addr}/{name}:latest"


def test_multiarch_busybox_pulled_and_run_through_qemu(h, registry, tmp_path, qemu_aarch64):
    debs = glob.glob(f"{DEBS}/busybox-static_*_arm64.deb")
    if not debs:
        pytest.skip(f"no busybox-static arm64 .deb in {DEBS} (scripts/fetch-foreign-debs)")
    arm = tmp_path / "deb"
    subprocess.run(["dpkg-deb", "-x", debs[0], str(arm)], check=True)
    owner = subprocess.run(["dpkg", "-S", "/bin/busybox"], capture_output=True, text=True)
    assert owner.stdout.startswith("busybox-static:"), owner.stdout
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ref = push_index(registry, tmp_path, {
        "amd64": [busybox_layer(tmp_path / "a", "/bin/busybox")],
        "arm64": [busybox_layer(tmp_path / "b", arm / "bin/busybox")]}, "bbma")
    h.run("pull", NOTLS, ref)
    assert h.config_of(ref)["architecture"] == "amd64"
    assert h.run("run", "--rm", ref, "/bin/busybox", "uname", "-m").stdout == "x86_64\n"
    h.run("pull", NOTLS, "--platform", "linux/arm64", ref)
    assert h.config_of(ref)["architecture"] == "arm64"
    r = h.run("run", "--rm", ref, "/bin/busybox", "uname", "-m")
    assert r.stdout == "aarch64\n", (r.stdout, r.stderr)
    # the same image without a handler: refused before anything is made
    empty = tmp_path / "nobinfmt"
    empty.mkdir()
    h.env["HULL_BINFMT_MISC"] = str(empty)
    snap = store_listing(h.root)
    for cmd in ("run", "create"):
        line = h.fails(cmd, ref, "/bin/busybox", "uname", "-m")
        assert line.startswith(f"hull {cmd}: image {ref} is linux/arm64/v8 and this host is "
                               "linux/amd64: install qemu-user-static (binfmt_misc with "
                               "the F flag) to run it ("), line
    assert store_listing(h.root) == snap
    assert h.run("ps", "-aq").stdout.strip() == ""


@pytest.mark.parametrize("entry,why", [
    (None, "qemu-aarch64: no such handler"),
    ("disabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\n", "is disabled"),
    ("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: PO\n", "has no F flag"),
])
def test_foreign_image_without_a_usable_handler(h, registry, tmp_path, entry, why):
    """binfmt_misc as a directory of made-up handlers (HULL_BINFMT_MISC): missing, disabled,
    or without the F flag (the interpreter would be looked up in the container's root)."""
    ref = push_index(registry, tmp_path, {"amd64": [tar_of({"arch": b"amd64\n"})],
                                          "arm64": [tar_of({"arch": b"arm64\n"})]}, "fake")
    h.run("pull", NOTLS, "--platform", "linux/arm64", ref)
    d = tmp_path / "binfmt"
    d.mkdir()
    (d / "status").write_text("enabled\n")
    if entry:
        (d / "qemu-aarch64").write_text(entry)
    h.env["HULL_BINFMT_MISC"] = str(d)
    h.fails("create", ref, "/arch")
    snap = store_listing(h.root)  # after containers/.lock, made by the first create
    line = h.fails("create", ref, "/arch")
    assert f"image {ref} is linux/arm64/v8 and this host is linux/amd64: install " \
        "qemu-user-static" in line and line.endswith(why + ")"), line
    assert store_listing(h.root) == snap
    # the whole of binfmt_misc switched off
    (d / "qemu-aarch64").write_text("enabled\nflags: F\n")
    (d / "status").write_text("disabled\n")
    assert h.fails("create", ref, "/arch").endswith(f"{d}/status is disabled)")
    (d / "status").write_text("enabled\n")
    # a usable handler: the create goes on (and fails at the missing command, as before)
    r = h.run("create", ref, "/x", check=False)
    assert "install qemu-user-static" not in r.stderr and "/x" in r.stderr, r.stderr
    assert h.run("ps", "-aq").stdout.strip() == ""
