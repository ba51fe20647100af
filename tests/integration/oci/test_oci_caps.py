"""process.capabilities (issue 4 item 1): the five sets seen from inside the container,
names the kernel lacks or nobody knows, and a process trying to regain what was dropped
(tests/helpers/capcheck). Runtime-agnostic: the expectations follow the kernel's exec rules
(capabilities(7)), and runc 1.1.5 passes them too."""
import os
import shutil

import pytest

from ocilib import sh
from seclib import CAP_SYS_ADMIN, cap_mask, status_caps

BND = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"]


def set_caps(bundle, uid=0, nnp=True, **sets):
    proc = bundle.config["process"]
    proc["user"] = {"uid": uid, "gid": uid}
    proc["noNewPrivileges"] = nnp
    proc["capabilities"] = {k: list(v) for k, v in sets.items()}
    bundle.write()


def caps_of(rt, bundle):
    bundle.set_args(*sh("grep Cap /proc/self/status"))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, r.stderr
    return status_caps(r.stdout), r


@pytest.mark.parametrize("nnp", [True, False])
def test_root_sets(rt, bundle, nnp):
    """uid 0: execve gives permitted = inheritable | bounding (the kernel's root rule),
    effective = permitted; under no_new_privs nothing may be gained at exec, so permitted
    stays what was set."""
    set_caps(bundle, nnp=nnp, bounding=BND, effective=["CAP_CHOWN"], permitted=["CAP_CHOWN"],
             inheritable=["CAP_KILL"])
    got, _ = caps_of(rt, bundle)
    want = cap_mask(["CAP_CHOWN"]) if nnp else cap_mask(BND)
    assert got["CapBnd"] == cap_mask(BND)
    assert got["CapPrm"] == got["CapEff"] == want, got
    assert got["CapInh"] == cap_mask(["CAP_KILL"]) and got["CapAmb"] == 0


def test_non_root_all_five(rt, bundle):
    """uid 1000: only ambient survives the exec into permitted/effective; inheritable and
    bounding as given."""
    amb = ["CAP_KILL", "CAP_CHOWN"]
    set_caps(bundle, uid=1000, bounding=BND, effective=amb + ["CAP_NET_RAW"],
             permitted=amb + ["CAP_NET_RAW"], inheritable=amb, ambient=amb)
    got, _ = caps_of(rt, bundle)
    assert got == {"CapInh": cap_mask(amb), "CapPrm": cap_mask(amb), "CapEff": cap_mask(amb),
                   "CapBnd": cap_mask(BND), "CapAmb": cap_mask(amb)}


def test_non_root_without_ambient(rt, bundle):
    set_caps(bundle, uid=1000, bounding=BND, effective=BND, permitted=BND)
    got, _ = caps_of(rt, bundle)
    assert got["CapPrm"] == got["CapEff"] == got["CapAmb"] == got["CapInh"] == 0
    assert got["CapBnd"] == cap_mask(BND)


def test_ambient_outside_inheritable_is_skipped(rt, bundle):
    """An ambient cap that is not also inheritable cannot be raised: skipped, not fatal
    (runc)."""
    set_caps(bundle, uid=1000, bounding=BND, effective=["CAP_KILL"], permitted=["CAP_KILL"],
             ambient=["CAP_KILL"])
    got, _ = caps_of(rt, bundle)
    assert got["CapAmb"] == 0 and got["CapEff"] == 0


def test_unknown_and_unavailable_names_warned_and_skipped(rt, bundle):
    set_caps(bundle, bounding=["CAP_CHOWN", "CAP_NO_SUCH_THING"], effective=["CAP_CHOWN"],
             permitted=["CAP_CHOWN"])
    got, r = caps_of(rt, bundle)
    assert got["CapBnd"] == cap_mask(["CAP_CHOWN"])
    assert "CAP_NO_SUCH_THING" in r.stderr
    if rt.is_hull:
        assert ("config.json: process.capabilities.bounding[1]: unknown capability "
                "\"CAP_NO_SUCH_THING\" ignored") in r.stderr


def test_effective_outside_permitted(rt, bundle):
    """The kernel refuses effective bits outside permitted: create fails (runc too);
    hull says which set."""
    set_caps(bundle, uid=1000, bounding=BND, effective=["CAP_KILL"], permitted=[])
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode != 0
    if rt.is_hull:
        assert "process.capabilities.effective" in r.stderr, r.stderr


@pytest.fixture
def capcheck(build, bundle):
    src = build / "tests/helpers/capcheck"
    if not src.exists():
        pytest.skip("tests/helpers/capcheck not built")
    shutil.copy2(src, bundle.rootfs / "bin/capcheck")
    return "/bin/capcheck"


@pytest.mark.parametrize("uid", [0, 1000])
def test_regain_dropped_cap_refused(rt, bundle, capcheck, uid):
    """CAP_SYS_ADMIN dropped from every set: capset, ambient raise, inheritable raise,
    setuid(0) and a mount all fail."""
    set_caps(bundle, uid=uid, bounding=BND, effective=BND, permitted=BND, inheritable=[])
    bundle.set_args(capcheck, "regain", str(CAP_SYS_ADMIN))
    r = rt.run(rt.new_id(), bundle)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "ALLOWED" not in r.stdout
    assert "use-cap refused EPERM" in r.stdout, r.stdout


def test_kept_cap_is_usable(rt, bundle, capcheck):
    """The control: with CAP_CHOWN kept, the same helper can chown (use-cap ALLOWED)."""
    set_caps(bundle, bounding=BND, effective=BND, permitted=BND)
    bundle.set_args(capcheck, "regain", "0")
    r = rt.run(rt.new_id(), bundle)
    assert "use-cap ALLOWED" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.parametrize("nnp", [True, False])
def test_setuid_root_binary(rt, bundle, capcheck, nnp):
    """A setuid-root binary run by uid 1000: no_new_privs keeps euid 1000; without it the
    euid becomes 0 but capabilities stay within the bounding set."""
    os.chmod(bundle.rootfs / "bin/capcheck", 0o4755)
    set_caps(bundle, uid=1000, nnp=nnp, bounding=BND, effective=[], permitted=[])
    bundle.set_args(*sh("/bin/capcheck ids; grep CapEff /proc/$$/status; "
                        "/bin/capcheck regain 21"))
    r = rt.run(rt.new_id(), bundle)
    first = r.stdout.splitlines()[0]
    assert first == ("1000 1000" if nnp else "1000 0"), (r.stdout, r.stderr)
    assert "use-cap refused EPERM" in r.stdout and "mount" not in r.stderr
