"""hull run: the image config and the flags become the OCI config; docker's exit codes."""
import json
import os
import re
import subprocess

import pytest


def test_run_prints_and_exits_with_status(bb):
    r = bb.run("run", "--rm", "busybox", "echo", "hello")
    assert r.stdout == "hello\n"
    assert bb.run("run", "--rm", "busybox", "sh", "-c", "exit 7", check=False).returncode == 7


def test_foreground_run_is_logged(bb):
    # docker writes the json-file log of a foreground `docker run` too
    r = bb.run("run", "--name", "fg", "busybox", "sh", "-c",
               "echo out1; echo err1 >&2; echo out2; printf part; exit 5", check=False)
    assert r.returncode == 5
    assert r.stdout == "out1\nout2\npart" and r.stderr == "err1\n"
    logs = bb.run("logs", "fg")
    assert logs.stdout == "out1\nout2\npart" and logs.stderr == "err1\n"
    # output larger than a pipe buffer is passed through and logged whole, in order
    r = bb.run("run", "--name", "big", "busybox", "seq", "1", "100000")
    want = "".join(f"{i}\n" for i in range(1, 100001))
    assert r.stdout == want and bb.out("logs", "big") == want
    assert bb.out("logs", "--tail", "2", "big") == "99999\n100000\n"
    # started again attached: the second run is appended
    r = bb.run("start", "-a", "fg", check=False)
    assert r.returncode == 5 and r.stdout == "out1\nout2\npart"
    assert bb.out("logs", "fg") == "out1\nout2\npartout1\nout2\npart"


def test_foreground_reader_going_away_ends_the_writer(bb):
    # `hull run IMG yes | head -1`: once the reader is gone, the container's writes fail as
    # they would on our own stdout (the relay must not keep it running into the log)
    p = subprocess.run(f"{bb.binary} run --name y busybox yes | head -1", shell=True,
                       capture_output=True, text=True, env=bb.env, timeout=30)
    assert p.stdout == "y\n"
    assert bb.out("inspect", "-f", "{{.State.Status}}", "y").strip() == "exited"
    assert bb.out("logs", "y").startswith("y\n")


def test_exit_codes_like_docker(bb):
    r = bb.run("run", "--rm", "busybox", "no-such-command", check=False)
    assert r.returncode == 127 and "executable file not found" in r.stderr
    r = bb.run("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert r.returncode == 126
    r = bb.run("run", "--rm", "--bogus-flag", "busybox", check=False)
    assert r.returncode == 125 and "unknown flag: --bogus-flag" in r.stderr
    r = bb.run("run", "--rm", "no-such-image", check=False)
    assert r.returncode == 125 and "no such image: no-such-image" in r.stderr
    # nothing is left behind by the failures
    assert bb.out("ps", "-a", "-q") == ""


def test_image_cmd_env_workdir_user(hull_store, rootfs_tar):
    hull_store.run("import", rootfs_tar, "cfg", "--change", "CMD [\"sh\", \"-c\", \"echo $GREETING; pwd; id\"]",
                   "--change", "ENV GREETING=from-image", "--change", "WORKDIR /srv/app",
                   "--change", "USER alice")
    r = hull_store.run("run", "--rm", "cfg")
    lines = r.stdout.splitlines()
    assert lines[0] == "from-image"
    assert lines[1] == "/srv/app"
    assert lines[2].startswith("uid=1000(alice) gid=1000(alice)")
    assert "users" in lines[2] and "wheel" in lines[2]


def test_env_flags_and_env_file(bb, tmp_path):
    envf = tmp_path / "env"
    envf.write_text("# comment\nFROM_FILE=1\n\nOVER=file\nFILE_HOST\nFILE_UNSET\n")
    env = dict(bb.env, HOST_VAR="from-host", FILE_HOST="file-host")
    env.pop("FILE_UNSET", None)
    env.pop("HOST_UNSET", None)
    # a bare NAME (flag or file) takes hull's own value, and is dropped when hull has none
    r = subprocess.run([bb.binary, "run", "--rm", "--env-file", str(envf), "-e", "OVER=flag",
                        "-e", "HOST_VAR", "-e", "HOST_UNSET", "-e", "PLAIN=a=b", "busybox",
                        "env"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    env_lines = r.stdout.splitlines()
    for want in ("FROM_FILE=1", "OVER=flag", "HOST_VAR=from-host", "PLAIN=a=b", "HOME=/root",
                 "FILE_HOST=file-host"):
        assert want in env_lines
    assert not any(l.startswith(("FILE_UNSET", "HOST_UNSET")) for l in env_lines)
    assert any(l.startswith("PATH=") for l in env_lines)
    r = bb.run("run", "--rm", "--env-file", tmp_path / "missing", "busybox", "true", check=False)
    assert r.returncode == 125 and "missing" in r.stderr


def test_workdir_user_entrypoint_hostname(bb):
    r = bb.run("run", "--rm", "-w", "/new/dir", "-u", "1000:100", "--hostname", "boat",
               "busybox", "sh", "-c", "pwd; id -u; id -g; hostname; cat /etc/hostname")
    assert r.stdout.split() == ["/new/dir", "1000", "100", "boat", "boat"]
    r = bb.run("run", "--rm", "-u", "alice:wheel", "busybox", "id")
    assert r.stdout.startswith("uid=1000(alice) gid=10(wheel)")
    r = bb.run("run", "--rm", "-u", "nosuchuser", "busybox", "id", check=False)
    assert r.returncode == 125 and "unable to find user nosuchuser" in r.stderr
    r = bb.run("run", "--rm", "--entrypoint", "/bin/echo", "busybox", "a", "b")
    assert r.stdout == "a b\n"


def test_volumes_and_read_only(bb, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "in").write_text("from-host")
    r = bb.run("run", "--rm", "-v", f"{vol}:/mnt/v", "busybox", "sh", "-c",
               "cat /mnt/v/in; echo back > /mnt/v/out")
    assert r.stdout == "from-host"
    assert (vol / "out").read_text() == "back\n"
    r = bb.run("run", "--rm", "-v", f"{vol}:/mnt/v:ro", "busybox", "sh", "-c",
               "echo x > /mnt/v/no", check=False)
    assert r.returncode != 0 and not (vol / "no").exists()
    r = bb.run("run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    # a source without / or . first is a volume's name (docker's); a bad one is refused
    r = bb.run("run", "--rm", "-v", "bad name:/x", "busybox", "true", check=False)
    assert r.returncode == 125 and "-v bad name:/x" in r.stderr


def cap_eff(bb, *flags):
    out = bb.out("run", "--rm", *flags, "busybox", "grep", "CapEff", "/proc/self/status")
    return int(out.split()[1], 16)


def test_capabilities(bb):
    default = cap_eff(bb)
    CAP_NET_ADMIN, CAP_CHOWN, CAP_SYS_ADMIN = 12, 0, 21
    assert default & (1 << CAP_CHOWN) and not default & (1 << CAP_NET_ADMIN)
    assert cap_eff(bb, "--cap-add", "NET_ADMIN") & (1 << CAP_NET_ADMIN)
    assert not cap_eff(bb, "--cap-drop", "chown") & (1 << CAP_CHOWN)
    assert cap_eff(bb, "--cap-drop", "ALL") == 0
    assert cap_eff(bb, "--privileged") & (1 << CAP_SYS_ADMIN)
    r = bb.run("run", "--rm", "--cap-add", "FLY", "busybox", "true", check=False)
    assert r.returncode == 125 and "--cap-add FLY" in r.stderr


def test_network_none_and_host(bb):
    none = bb.out("run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev")
    ifaces = [l.split(":")[0].strip() for l in none.splitlines()[2:]]
    assert ifaces == ["lo"]
    host = bb.out("run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev")
    with open("/proc/net/dev") as f:
        assert len(host.splitlines()) == len(f.read().splitlines())
    # the default is the bridge network now (tests/integration/net); an unknown one is refused
    r = bb.run("run", "--rm", "--network", "nosuchnet", "busybox", "true", check=False)
    assert r.returncode == 125 and "--network nosuchnet: network nosuchnet not found" in r.stderr


def test_resource_flags_go_into_the_config(bb):
    cid = bb.out("create", "-m", "64m", "--cpus", "1.5", "--pids-limit", "50", "busybox",
                 "true").strip()
    cfg = json.loads((bb.root / "containers" / cid / "config.json").read_text())
    res = cfg["linux"]["resources"]
    assert res["memory"]["limit"] == 64 << 20
    assert res["cpu"] == {"quota": 150000, "period": 100000}
    assert res["pids"]["limit"] == 50
    hc = bb.inspect(cid)["HostConfig"]
    assert hc["Memory"] == 64 << 20 and hc["PidsLimit"] == 50 and hc["NanoCpus"] == 1500000000
    for bad in (["-m", "lots"], ["--cpus", "-1"], ["--pids-limit", "x"]):
        r = bb.run("create", *bad, "busybox", check=False)
        assert r.returncode == 125


def test_interactive_stdin(bb):
    r = bb.run("run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got-$x", input="abc\n")
    assert r.stdout == "got-abc\n"
    # without -i, stdin is /dev/null
    r = bb.run("run", "--rm", "busybox", "sh", "-c", "cat; echo end", input="abc\n")
    assert r.stdout == "end\n"


def test_names_are_unique_and_rm_removes(bb):
    bb.run("run", "--name", "one", "busybox", "true")
    r = bb.run("run", "--name", "one", "busybox", "true", check=False)
    assert r.returncode == 125 and 'name "one" is already in use' in r.stderr
    r = bb.run("run", "--name", "bad name", "busybox", "true", check=False)
    assert r.returncode == 125 and "invalid container name" in r.stderr
    bb.run("run", "--rm", "--name", "two", "busybox", "true")
    names = bb.out("ps", "-a").splitlines()[1:]
    assert len(names) == 1 and names[0].endswith(" one")
    assert len(os.listdir(bb.root / "containers")) == 2  # one/ and .lock


def test_overlay_rootfs_is_private_and_copy_fallback(bb):
    diff_id = bb.inspect("busybox")["RootFS"]["diff_ids"][0]
    for flags in ([], ["--rootfs-copy"]):
        cid = bb.out("run", "-d", *flags, "busybox", "sh", "-c", "echo changed > /etc/motd; rm /bin/vi").strip()
        bb.run("stop", cid)
        assert not (bb.root / "layers" / diff_id[7:] / "etc/motd").exists()
        assert (bb.root / "layers" / diff_id[7:] / "bin/vi").is_symlink()
        mode = bb.inspect(cid)["GraphDriver"]["Name"]
        assert mode == ("copy" if flags else "overlay")
        bb.run("rm", cid)


def test_tty_foreground_and_detached(bb):
    import shutil
    if not shutil.which("script"):
        pytest.skip("script (util-linux) not installed")
    cmd = f"{bb.binary} run --rm -it busybox sh"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], input="tty\nexit 6\n",
                       capture_output=True, text=True, env=bb.env, timeout=30)
    assert r.returncode == 6
    assert "/dev/pts/0" in r.stdout
    cid = bb.out("run", "-dt", "busybox", "sh", "-c", "tty; echo via-pty").strip()
    import time
    for _ in range(100):
        if bb.out("inspect", "-f", "{{.State.Status}}", cid).strip() == "exited":
            break
        time.sleep(0.05)
    out = bb.out("logs", cid)
    assert "/dev/pts/0" in out and "via-pty" in out
    # a foreground -t run is logged too (the pty's output, as stdout)
    cmd = f"{bb.binary} run -t --name fgt busybox sh -c 'tty; echo fg-pty'"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                       env=bb.env, timeout=30)
    assert r.returncode == 0 and "fg-pty" in r.stdout
    out = bb.out("logs", "fgt")
    assert "/dev/pts/0" in out and "fg-pty" in out


def test_device_nodes_from_images_do_not_open_host_devices(bb, tmp_path):
    import io
    import tarfile
    path = tmp_path / "dev.tar"
    with tarfile.open(path, "w") as t:
        ti = tarfile.TarInfo("opt/mem")
        ti.type = tarfile.CHRTYPE
        ti.devmajor, ti.devminor, ti.mode = 1, 3, 0o666  # what /dev/null is, as a probe
        t.addfile(ti)
    bb.run("import", path, "devlayer")
    bb.run("tag", "busybox", "base")
    # a two-layer image: busybox, then the device node
    r = bb.run("run", "--rm", "busybox", "true")
    arch = tmp_path / "two.tar"
    bb.run("save", "-o", arch, "busybox")
    d = tmp_path / "x"
    d.mkdir()
    subprocess.run(["tar", "-C", d, "-xf", arch], check=True)
    man = json.loads((d / "manifest.json").read_text())
    cfg = json.loads((d / man[0]["Config"]).read_text())
    import hashlib, shutil
    dev_tar = path.read_bytes()
    dev_id = hashlib.sha256(dev_tar).hexdigest()
    shutil.copy(path, d / f"{dev_id}.tar")
    cfg["rootfs"]["diff_ids"].append("sha256:" + dev_id)
    cfg_bytes = json.dumps(cfg).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    (d / cfg_name).write_bytes(cfg_bytes)
    man[0]["Config"] = cfg_name
    man[0]["Layers"].append(f"{dev_id}.tar")
    man[0]["RepoTags"] = ["localhost/withdev:latest"]
    (d / "manifest.json").write_text(json.dumps(man))
    subprocess.run(["tar", "-C", d, "-cf", tmp_path / "withdev.tar", "."], check=True)
    bb.run("load", "-i", tmp_path / "withdev.tar")
    r = bb.run("run", "--rm", "withdev", "sh", "-c", "ls -l /opt/mem; echo x > /opt/mem",
               check=False)
    assert "1,   3" in r.stdout
    assert r.returncode != 0 and "Permission denied" in r.stderr


@pytest.mark.parametrize("spec", ["0:4294967296", "0:4294967295", "4294967296:0",
                                  "0:18446744073709551616", "1000:-1"])
def test_user_ids_out_of_range_refused(bb, spec):
    # 4294967296 must not wrap to root's id 0 (or to the invalid (gid_t)-1) in the runtime
    r = bb.run("run", "--rm", "-u", spec, "busybox", "id", check=False)
    assert r.returncode == 125, (r.returncode, r.stdout)
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("flag,value", [("--cpus", "nan"), ("--cpus", "-nan"),
                                        ("--cpus", "inf"), ("-m", "nan"), ("-m", "nanm"),
                                        ("-m", "infg"), ("--pids-limit", "1e3")])
def test_resource_flags_reject_non_numbers(bb, flag, value):
    # strtod takes "nan": it passed the range checks and became a garbage CPU quota
    r = bb.run("create", flag, value, "busybox", "true", check=False)
    assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
    assert value in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_command_resolved_through_volumes_workdir_and_path(bb, tmp_path):
    """The command is looked up as the container's exec will: in bind mounts, from the
    working directory, along the container's PATH (issue 11 item 4)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "x").write_text("#!/bin/sh\necho probed \"$@\"\n")
    (probe / "x").chmod(0o755)
    (probe / "plain").write_text("data\n")
    (probe / "link").symlink_to("/probe/x")
    vol = ["-v", f"{probe}:/probe"]
    assert bb.out("run", "--rm", *vol, "busybox", "/probe/x", "a") == "probed a\n"
    assert bb.out("run", "--rm", *vol, "--entrypoint", "/probe/x", "busybox", "b") == "probed b\n"
    # a symlink in the volume, absolute: resolved from the container's root
    assert bb.out("run", "--rm", *vol, "busybox", "/probe/link") == "probed\n"
    # relative commands start from -w
    assert bb.out("run", "--rm", "-w", "/bin", "busybox", "./echo", "hi") == "hi\n"
    assert bb.out("run", "--rm", *vol, "-w", "/probe", "busybox", "./x", "c") == "probed c\n"
    # PATH from -e, pointing into the volume, and a relative PATH entry
    assert bb.out("run", "--rm", *vol, "-e", "PATH=/probe:/bin", "busybox", "x") == "probed\n"
    assert bb.out("run", "--rm", *vol, "-w", "/probe", "-e", "PATH=.:/bin", "busybox",
                  "x") == "probed\n"
    # what is not there is still 127 with one clear line, not executable is 126
    for args, code, msg in (([*vol, "busybox", "/probe/nope"], 127, "/probe/nope"),
                            ([*vol, "busybox", "/probe/plain"], 126, "/probe/plain"),
                            (["-w", "/bin", "busybox", "./nope"], 127, "./nope"),
                            ([*vol, "-e", "PATH=/probe", "busybox", "echo"], 127,
                             "executable file not found in $PATH")):
        r = bb.run("run", "--rm", *args, check=False)
        assert r.returncode == code, (args, r.stderr)
        assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert bb.out("ps", "-a", "-q") == ""


def test_user_database_fifo_refused_without_hanging(hull_store, tmp_path):
    """A FIFO as /etc/passwd must not hang `hull run -u NAME` with the store locked."""
    from engine_helpers import make_rootfs
    root = make_rootfs(tmp_path / "r")
    (root / "etc/passwd").unlink()
    os.mkfifo(root / "etc/passwd")
    tar = tmp_path / "fifo.tar"
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."], check=True)
    hull_store.run("import", tar, "fifo")
    r = hull_store.run("run", "--rm", "-u", "alice", "fifo", "true", check=False, timeout=20)
    assert r.returncode == 125
    assert "/etc/passwd in the container is not a regular file" in r.stderr
    # numeric users need no passwd entry: the FIFO is ignored
    assert hull_store.run("run", "--rm", "-u", "1000:1000", "fifo", "true", timeout=20).returncode == 0
    assert hull_store.out("ps", "-a", "-q") == ""
