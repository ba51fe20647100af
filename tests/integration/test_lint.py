"""scripts/lint catches each rule's case in a small tree made in a temp dir, lets a clean file
pass, honours scripts/lint-allow.txt, and passes on the real tree (no cmocka, no build)."""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LINT = REPO / "scripts" / "lint"

CLEAN_C = """\
#include "engine/ok.h"

/* sprintf(buf, x), strcpy and system() in a comment are not calls */
static const char msg[] = "do not call getenv(\\"X\\") or exit(1) here";

struct ops { int (*system)(void); };

int ok_run(struct ops *o, char *buf, unsigned long len, struct hull_err *err)
{
	int r = o->system();

	if (r < 0)
		return hull_err_set(err, -r, "%s", msg);
	(void)snprintf(buf, len, "%c", '"');
	_exit(0);
}

int ok_plain(void)
{
	return -1;
}
"""
CLEAN_H = "#pragma once\n/* What ok.c offers. */\nint ok_plain(void);\n"


def write(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def lint(root, *args):
    r = subprocess.run([str(LINT), "--root", str(root), *args], capture_output=True,
                       text=True, timeout=300)
    return r.returncode, r.stdout.splitlines()


@pytest.fixture
def tree(tmp_path):
    write(tmp_path, {"src/engine/ok.c": CLEAN_C, "src/engine/ok.h": CLEAN_H})
    yield tmp_path
    shutil.rmtree(tmp_path)
    assert not tmp_path.exists()


def test_clean_tree_passes(tree):
    assert lint(tree, "--no-cppcheck") == (0, [])


@pytest.mark.parametrize("call", ["sprintf", "vsprintf", "strcpy", "strcat", "strncpy", "atoi",
                                  "atol", "system", "gets", "tmpnam", "mktemp"])
def test_banned_call(tree, call):
    write(tree, {"src/image/bad.c": f"void f(char *a)\n{{\n\t(void){call}(a);\n}}\n"})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1
    assert out == [f"src/image/bad.c:3: banned-call: {call}() is banned (STYLE.md): "
                   "use the bounded or checked form"]


@pytest.mark.parametrize("code", ['getenv("X")', 'secure_getenv("X")', "environ[0]"])
def test_environment_only_in_cli(tree, code):
    body = f"const char *f(void)\n{{\n\treturn {code};\n}}\n"
    write(tree, {"src/cli/env.c": body})
    assert lint(tree, "--no-cppcheck") == (0, [])
    write(tree, {"src/net/env.c": body})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1 and len(out) == 1 and out[0].startswith("src/net/env.c:3: banned-call: ")


def test_header_pragma_and_comment(tree):
    write(tree, {"src/common/a.h": "/* no pragma */\nint a(void);\n",
                 "src/common/b.h": "#pragma once\n\nint b(void);\n"})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1
    assert [ln.split(": ")[:2] for ln in out] == [["src/common/a.h:1", "header-pragma"],
                                                  ["src/common/b.h:3", "header-comment"]]


def test_return_minus_one_with_err(tree):
    write(tree, {"src/engine/r.c": "int f(int x,\n      struct hull_err *err)\n{\n"
                                   "\tif (x)\n\t\treturn -1;\n\treturn 0;\n}\n"})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1
    assert len(out) == 1 and out[0].startswith("src/engine/r.c:5: return-minus-one: f() ")


@pytest.mark.parametrize("line,rule", [
    ('printf("x\\n");', "library-print"),
    ('fprintf(stderr, "x\\n");', "library-print"),
    ('fputs("x", stdout);', "library-print"),
    ('puts("x");', "library-print"),
    ('perror("x");', "library-print"),
    ('dprintf(2, "x\\n");', "library-print"),
    ("exit(1);", "library-exit"),
])
def test_library_does_not_print_or_exit(tree, line, rule):
    body = f"void f(void)\n{{\n\t{line}\n}}\n"
    write(tree, {"src/cli/p.c": body, "src/oci/waiter/p.c": body})
    assert lint(tree, "--no-cppcheck") == (0, [])
    write(tree, {"src/container/p.c": body})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1 and len(out) == 1 and out[0].startswith(f"src/container/p.c:3: {rule}: ")


def test_lengths(tree):
    fn = "int long_one(void)\n{\n" + "\tx++;\n" * 160 + "\treturn 0;\n}\n"
    write(tree, {"src/engine/fn.c": fn})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 0    # a long function is a warning
    assert out == ["src/engine/fn.c:2: function-length: long_one() is 163 lines, over 150 "
                   "(warning)"]
    write(tree, {"src/engine/big.c": "int x;\n" * 1001})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1
    assert "src/engine/big.c:1: file-length: 1001 lines, over 1000: split it by concept" in out


def test_allow_list(tree):
    write(tree, {"src/vmm/v.c": "int f(void)\n{\n\treturn atoi(\"1\");\n}\n"})
    assert lint(tree, "--no-cppcheck")[0] == 1
    write(tree, {"scripts/lint-allow.txt": "# comment\nsrc/vmm/v.c:banned-call being rewritten\n"})
    assert lint(tree, "--no-cppcheck") == (0, [])
    write(tree, {"scripts/lint-allow.txt": "src/vmm/v.c:banned-call\n"})   # no reason
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 1 and out[0].startswith("scripts/lint-allow.txt:1: lint-allow: ")
    write(tree, {"scripts/lint-allow.txt": "src/vmm/v.c:banned-call x\nsrc/vmm/w.c:banned-call y\n",
                 "src/vmm/v.c": "int f(void)\n{\n\treturn 1;\n}\n"})
    rc, out = lint(tree, "--no-cppcheck")
    assert rc == 0 and len(out) == 2 and all(ln.endswith("(warning)") for ln in out)


@pytest.mark.skipif(not shutil.which("cppcheck"), reason="cppcheck not installed "
                    "(scripts/debian-packages.txt)")
def test_cppcheck_finding(tree):
    assert lint(tree) == (0, [])
    write(tree, {"src/net/leak.c": "#include <stdlib.h>\nvoid grow(size_t n)\n{\n"
                                   "\tchar *p = malloc(4);\n\n\tp = realloc(p, n);\n"
                                   "\tfree(p);\n}\n"})
    rc, out = lint(tree)
    assert rc == 1
    assert [ln.split(": ")[:2] for ln in out] == [["src/net/leak.c:6",
                                                   "cppcheck-memleakOnRealloc"]]


def test_tree_passes():
    r = subprocess.run([str(LINT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout


# ---- scripts/check-layers: nm on the built static libraries ----

CHECK_LAYERS = REPO / "scripts" / "check-layers"
LAYER_LIBS = {"common": "libhull-common.a", "spec": "libhull-spec.a",
              "container": "libhull-container.a", "oci": "libhull-oci-rt.a",
              "disk": "libhull-disk.a", "vmm": "libhull-vmm.a", "image": "libhull-image.a",
              "net": "libhull-net.a", "engine": "libhull-engine.a"}


def fake_build(root, extra):
    """A build dir of tiny archives: lib X defines X_fn; extra[X] is more C for X."""
    for lib, name in LAYER_LIBS.items():
        d = root / "src" / lib
        d.mkdir(parents=True, exist_ok=True)
        (d / "x.c").write_text(f"int {lib}_fn(void);\nint {lib}_fn(void) {{ return 0; }}\n"
                               + extra.get(lib, ""))
        subprocess.run(["cc", "-c", "-o", str(d / "x.o"), str(d / "x.c")], check=True)
        subprocess.run(["ar", "rcs", str(d / name), str(d / "x.o")], check=True)


def check_layers(build):
    r = subprocess.run([str(CHECK_LAYERS), str(build)], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout.splitlines()


def test_layers_downward_calls_pass(tmp_path):
    fake_build(tmp_path, {"container": "int spec_fn(void);\nint c2(void) { return spec_fn(); }\n",
                          "engine": "int oci_fn(void);\nint e2(void) { return oci_fn(); }\n"})
    rc, out = check_layers(tmp_path)
    assert rc == 0 and out[-1] == "check-layers: 9 libraries, 0 findings", out


def test_layers_upward_call_fails(tmp_path):
    """The old container <-> oci cycle: container calling a function oci defines."""
    fake_build(tmp_path, {"container": "int oci_fn(void);\nint c2(void) { return oci_fn(); }\n",
                          "spec": "int vmm_fn(void);\nint s2(void) { return vmm_fn(); }\n"})
    rc, out = check_layers(tmp_path)
    assert rc == 1
    assert "container: needs oci_fn from oci (not below it)" in out
    assert "spec: needs vmm_fn from vmm (not below it)" in out
    assert out[-1] == "check-layers: 9 libraries, 2 findings"


def test_layers_of_this_build():
    build = pathlib.Path(os.environ.get("HULL_BUILD_DIR", REPO / "build"))
    if not (build / "src" / "spec" / "libhull-spec.a").exists():
        pytest.skip(f"{build}: not built")
    rc, out = check_layers(build)
    assert rc == 0, out
