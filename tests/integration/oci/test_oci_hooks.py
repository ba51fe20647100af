"""The six OCI hook kinds: when they run, in which namespace, the state on stdin, timeouts
(issue 2 item 3)."""
import json
import os
import time

from ocilib import sh

RUNTIME_NS_HOOKS = ("prestart", "createRuntime", "poststart", "poststop")


def host_hook(workdir, name):
    """A host script that appends its name to order.log and saves stdin (the state)."""
    out = workdir / "hooks"
    out.mkdir(exist_ok=True)
    script = workdir / f"hook-{name}.sh"
    script.write_text(f"#!/bin/sh\ncat > {out}/{name}.json\n"
                      f"readlink /proc/self/ns/mnt > {out}/{name}.mntns\n"
                      f"echo {name} >> {out}/order.log\n")
    os.chmod(script, 0o755)
    return {"path": str(script), "args": [f"hook-{name}", "a1"]}


def test_all_six_hooks_run_in_order_with_state(rt, bundle, workdir):
    out = workdir / "hooks"
    hooks = {name: [host_hook(workdir, name)] for name in RUNTIME_NS_HOOKS}
    # createContainer: path resolved in the runtime namespace, run in the container's mount
    # namespace (before pivot_root, so the host tmp dir is still reachable).
    hooks["createContainer"] = [host_hook(workdir, "createContainer")]
    # startContainer: path resolved and run inside the container.
    hooks["startContainer"] = [{
        "path": "/bin/sh",
        "args": ["sh", "-c", "cat > /startContainer.json; hostname > /startContainer.host; "
                 "echo startContainer >> /order.log"]}]
    bundle.config["hooks"] = hooks
    bundle.set_args(*sh("echo process >> /order.log; sleep 1000"))
    host_mnt = os.readlink("/proc/self/ns/mnt")
    cid = rt.new_id()

    rt.create(cid, bundle)
    order = (out / "order.log").read_text().split()
    # runc 1.1 runs poststart during create (against the spec, runc issue #1710, fixed by
    # runc PR #5186); every other runtime must wait for start.
    runc_early_poststart = rt.name == "runc" and order[-1:] == ["poststart"]
    if runc_early_poststart:
        order.pop()
    assert order == ["prestart", "createRuntime", "createContainer"]
    pid = rt.state(cid)["pid"]
    for name in ("prestart", "createRuntime", "createContainer"):
        st = json.loads((out / f"{name}.json").read_text())
        assert st["id"] == cid, name
        # runc hands createContainer the pid as seen in the container's pid namespace (1)
        assert st["pid"] == pid or (name == "createContainer" and st["pid"] == 1), name
        assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path), name
        assert st["status"] in ("creating", "created"), name
        assert st["ociVersion"]
    assert (out / "createRuntime.mntns").read_text().strip() == host_mnt
    assert (out / "createContainer.mntns").read_text().strip() != host_mnt
    assert runc_early_poststart or not (out / "poststart.json").exists()
    assert not (bundle.rootfs / "startContainer.json").exists()

    assert rt("start", cid).returncode == 0
    deadline = time.monotonic() + 10
    # order.log gets the hook's name last, once its other files are complete
    while "poststart" not in (out / "order.log").read_text().split()[3:] and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    inside_log = bundle.rootfs / "order.log"
    while "process" not in (inside_log.read_text().split() if inside_log.exists() else []) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    st = json.loads((out / "poststart.json").read_text())
    assert st["id"] == cid and st["pid"] == pid
    assert st["status"] == "running" or runc_early_poststart
    assert (out / "poststart.mntns").read_text().strip() == host_mnt
    sc = json.loads((bundle.rootfs / "startContainer.json").read_text())
    assert sc["id"] == cid
    assert (bundle.rootfs / "startContainer.host").read_text().strip() == "hulltest"
    inside = (bundle.rootfs / "order.log").read_text().split()
    assert inside[0] == "startContainer"  # before the user process

    assert not (out / "poststop.json").exists()
    assert rt("kill", cid, "KILL").returncode == 0
    rt.wait_status(cid, "stopped")
    assert rt("delete", cid).returncode == 0
    st = json.loads((out / "poststop.json").read_text())
    assert st["id"] == cid
    order = (out / "order.log").read_text().split()
    assert order == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]


def test_hook_args_and_env(rt, bundle, workdir):
    out = workdir / "argv"
    script = workdir / "argv.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $1 $2 $HOOKVAR" > {out}\n')
    os.chmod(script, 0o755)
    bundle.config["hooks"] = {"createRuntime": [
        {"path": str(script), "args": ["ignored-argv0", "one", "two"],
         "env": ["HOOKVAR=val"]}]}
    bundle.write()
    assert rt.run(rt.new_id(), bundle).returncode == 0
    words = out.read_text().split()
    assert words[1:] == ["one", "two", "val"]


def test_failing_prestart_hook_fails_create_and_cleans_up(rt, bundle, workdir, leftovers):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    bundle.write()
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    assert r.stderr.strip()
    time.sleep(0.2)
    leftovers(rt, cid)


def test_hook_timeout(rt, bundle, workdir, leftovers):
    bundle.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    bundle.write()
    cid = rt.new_id()
    t0 = time.monotonic()
    r = rt.create(cid, bundle, check=False)
    took = time.monotonic() - t0
    assert r.returncode != 0
    assert took < 10, f"timeout 1s not honoured: create took {took:.1f}s"
    assert r.stderr.strip()
    time.sleep(0.2)
    leftovers(rt, cid)
    # the hook process itself was killed
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    assert f.read() != b"sleep\x0030\x00", "timed-out hook still running"
            except OSError:
                pass


def test_failing_poststop_hook_does_not_block_delete(rt, bundle):
    bundle.config["hooks"] = {"poststop": [{"path": "/bin/false"}]}
    bundle.write()
    cid = rt.new_id()
    rt.run_detached(cid, bundle)
    rt.wait_status(cid, "stopped")
    rt("delete", cid)
    assert rt("state", cid).returncode != 0
