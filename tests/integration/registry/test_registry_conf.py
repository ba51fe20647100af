"""registries.conf (v2 subset, docs/registry.md) through $CONTAINERS_REGISTRIES_CONF: mirrors
tried first for pulls and never for pushes, [[registry]] location and insecure, blocked
registries refused, unqualified-search-registries for short names, drop-ins in FILE.d, and
a bad file refused with one line naming it."""
import json
import urllib.request

from registry_helpers import store_listing

NOTLS = "--tls-verify=false"


def tags(reg, repo):
    try:
        with urllib.request.urlopen(f"http://{reg.addr}/v2/{repo}/tags/list", timeout=5) as r:
            return json.load(r).get("tags") or []
    except urllib.error.HTTPError as e:
        assert e.code == 404
        return []


def conf(h, tmp_path, text, dropins=None):
    f = tmp_path / "registries.conf"
    f.write_text(text)
    for name, t in (dropins or {}).items():
        (tmp_path / "registries.conf.d").mkdir(exist_ok=True)
        (tmp_path / "registries.conf.d" / name).write_text(t)
    h.env["CONTAINERS_REGISTRIES_CONF"] = str(f)
    return f


def test_mirror_first_for_pulls_never_for_pushes(h, bb, make_registry, tmp_path):
    main, mirror = make_registry("main"), make_registry("mirror")
    h.run("push", NOTLS, bb, f"{mirror.addr}/mm/bb:1")
    conf(h, tmp_path, f"""# a comment
unqualified-search-registries = []   # none

[[registry]]
location = "{main.addr}"
insecure = true   # plain HTTP
  [[registry.mirror]]
  location = "{mirror.addr}"
  insecure = true
""")
    assert tags(main, "mm/bb") == []
    # only the mirror has it, and the pull needs no --tls-verify=false: insecure = true
    h.run("pull", f"{main.addr}/mm/bb:1")
    assert h.config_of(f"{main.addr}/mm/bb:1")
    # the mirror lacks it: the registry itself answers
    h.run("push", bb, f"{main.addr}/only/bb:2")
    assert tags(main, "only/bb") == ["2"] and tags(mirror, "only/bb") == []
    h.run("pull", f"{main.addr}/only/bb:2")
    # neither has it: one line naming the registry's reference
    h.fails("pull", f"{main.addr}/none/bb:1", want=f"{main.addr}/none/bb:1")
    # a mirror that is down is skipped too
    mirror.stop()
    h.run("pull", f"{main.addr}/only/bb:2")


def test_location_prefix_and_blocked(h, bb, make_registry, tmp_path):
    main = make_registry("main")
    h.run("push", NOTLS, bb, f"{main.addr}/real/ns/bb:1")
    conf(h, tmp_path, f"""
[[registry]]
prefix = "example.com/foo"
location = "{main.addr}/real/ns"
insecure = true

[[registry]]
prefix = "{main.addr}/secret"
blocked = true

[[registry]]
location = "{main.addr}"
insecure = true
""")
    # example.com/foo/bb comes from MAIN/real/ns/bb and is recorded under the name asked
    h.run("pull", "example.com/foo/bb:1")
    assert h.config_of("example.com/foo/bb:1")
    # pushes follow the location too
    h.run("push", bb, "example.com/foo/pushed:3")
    assert tags(main, "real/ns/pushed") == ["3"]
    # blocked: refused before any request, for pull and push; the store is unchanged
    snap = store_listing(h.root)
    want = f"registry {main.addr}/secret is blocked in registries.conf"
    h.fails("pull", f"{main.addr}/secret/x:1", want=want)
    h.fails("push", bb, f"{main.addr}/secret/x:1", want=want)
    assert tags(main, "secret/x") == []
    # the longest prefix wins: secretive is not under secret/
    h.run("push", bb, f"{main.addr}/secretive/x:1")
    assert store_listing(h.root) == snap


def test_unqualified_search_registries_and_dropins(h, bb, make_registry, tmp_path):
    empty, main = make_registry("empty"), make_registry("main")
    h.run("push", NOTLS, bb, f"{main.addr}/sbb:1")
    h.run("push", NOTLS, bb, f"{main.addr}/team/app:2")
    insecure = "".join(f'[[registry]]\nlocation = "{r.addr}"\ninsecure = true\n'
                       for r in (empty, main))
    conf(h, tmp_path, f'unqualified-search-registries = ["{empty.addr}", "{main.addr}"]\n'
         + insecure)
    # tried in order; the first that has it wins and names it
    h.run("pull", "sbb:1")
    assert h.config_of(f"{main.addr}/sbb:1")
    h.run("pull", "team/app:2")
    assert h.config_of(f"{main.addr}/team/app:2")
    r = h.run("run", "--rm", "sbb:1", "/bin/busybox", "cat", "/etc/hello")
    assert r.stdout == "hello from the registry test\n"
    # not in any: one line
    h.fails("pull", "nothere:1", want="nothere")
    # a drop-in's list replaces the file's; a qualified name is not searched
    conf(h, tmp_path, f'unqualified-search-registries = ["{main.addr}"]\n' + insecure,
         {"50-only-empty.conf": f'unqualified-search-registries = ["{empty.addr}"]\n',
          "ignored.txt": "this is not TOML ["})
    h.fails("pull", "sbb:1", want=f"{empty.addr}/sbb:1")
    h.fails("pull", f"{empty.addr}/sbb:1", want=f"{empty.addr}/sbb:1")


def test_bad_registries_conf(h, bb, tmp_path):
    snap = store_listing(h.root)
    for text, line, what in (
            ('unqualified-search-registries = "docker.io"\n', 1,
             "unqualified-search-registries must be an array"),
            ('[[registry]]\nlocation = "a.example\n', 2, "unterminated string"),
            ('\n\n[[registry]]\ninsecure = "yes"\n', 4, "insecure must be true or false"),
            ('[[registry.mirror]]\nlocation = "m.example"\n', 1,
             "[[registry.mirror]] before any [[registry]]"),
            ('[registry]\nlocation = "x.example"\n', 1, "[registry] must be an array of tables"),
            ('junk junk\n', 1, "expected '='")):
        f = conf(h, tmp_path, text)
        h.fails("pull", "127.0.0.1:1/x:1", want=f"registries.conf {f}:{line}: {what}")
        h.fails("push", bb, "127.0.0.1:1/x:1", want=f"registries.conf {f}:{line}")
    f = conf(h, tmp_path, '[[registry]]\ninsecure = true\n')
    h.fails("pull", "127.0.0.1:1/x:1", want="without prefix or location")
    # unknown keys and tables (podman's) are skipped: the aliases table, short-name-mode
    conf(h, tmp_path, 'short-name-mode = "enforcing"\n[aliases]\n  "bb" = "docker.io/x/bb"\n'
         '[[registry]]\nlocation = "127.0.0.1:1"\nmirror-by-digest-only = false\n')
    h.fails("pull", "127.0.0.1:1/x:1", want="127.0.0.1:1/x:1")
    assert store_listing(h.root) == snap
