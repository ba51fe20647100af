"""Helpers for the cgroup tests (test_oci_cgroup_v1.py, test_oci_cgroup_v2.py, test_oci_update.py,
test_oci_events.py): find a container's cgroup on the host from /proc/<pid>/cgroup, so that the
tests stay runtime-agnostic (hull-oci and runc place cgroups the same way, but the tests only
rely on what the kernel reports)."""
import os
import pathlib
import time
import uuid

CG = pathlib.Path("/sys/fs/cgroup")


def is_v2():
    return (CG / "cgroup.controllers").exists()


def is_v1():
    return (CG / "memory").is_dir() and not is_v2()


def cgroup_of(pid):
    """{controller or "": path} from /proc/<pid>/cgroup ("" is the v2/unified line)."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in (ctrls.split(",") if ctrls else [""]):
                out[c] = path
    return out


def cgdir(pid, ctrl):
    """Host directory of pid's cgroup for a v1 controller, or the v2 directory (ctrl "")."""
    paths = cgroup_of(pid)
    if is_v2():
        return CG / paths[""].lstrip("/")
    if ctrl == "":
        return CG / "unified" / paths[""].lstrip("/")
    return CG / ctrl / paths[ctrl].lstrip("/")


def read(pid, ctrl, name):
    return (cgdir(pid, ctrl) / name).read_text().strip()


def unique_path(prefix="hullcg"):
    return f"/{prefix}-{uuid.uuid4().hex[:10]}"


def existing(paths):
    return [p for p in paths if os.path.exists(p)]


def wait_for(fn, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = fn()
    return v


# A busybox awk loop that doubles a string until the memory cgroup's OOM killer stops it.
OOM_SCRIPT = "awk 'BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }'"

# A shell that forks `n` sleepers and reports how many forks failed.
def fork_script(n):
    return (f"i=0; fail=0; while [ $i -lt {n} ]; do sleep 30 & [ $? -ne 0 ] && fail=$((fail+1)); "
            f"i=$((i+1)); done 2>/dev/null; echo started; sleep 30")
