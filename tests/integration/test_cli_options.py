"""Every command line of hull, hull img, hull vm, hull-vmm and hull-oci, generated from the
option tables themselves (issue 11, items 6 and 7).

The commands come from the "Commands:" section of each program's --help; each command's
option table comes from the binary (HULL_CLI_DUMP_OPTIONS="hull run" makes the parser print
its table, src/cli/opt.c). For every command and every long option: an abbreviation is
refused (exit 125 for hull, non-zero for the others) with one line naming the flag; --help
and `help CMD` exit 0 on stdout and mention every long option; booleans take =true/=false.
"""
import os
import re

import pytest

from cli_helpers import COMMANDS, PROGS, ROOT, argv_of, run, table


def usage_code_ok(key, code):
    """hull (not its qemu-img-like `img`) exits 125 as docker; the others non-zero."""
    if key.startswith("hull ") and not key.startswith("hull img") or key == "hull":
        return code == 125
    return code != 0


def abbreviations(rows):
    """For each long option, its longest prefix that is not itself an option."""
    names = {n for n, _, _ in rows if n}
    for name, arg, _ in rows:
        if not name or name == "help" or len(name) < 2:
            continue
        for cut in range(len(name) - 1, 0, -1):
            if name[:cut] not in names:
                yield name, name[:cut], arg
                break


def test_every_program_has_commands():
    """The generation below found the commands (the old parser had no tables to dump)."""
    for key in ("hull run", "hull img create", "hull vm run", "hull-vmm run", "hull-oci exec",
                "hull system prune"):
        assert key in COMMANDS
    assert len(COMMANDS) >= 45


@pytest.mark.parametrize("key", COMMANDS)
def test_abbreviation_refused(key):
    rows = table(key)
    for name, abbr, arg in abbreviations(rows):
        argv = argv_of(key) + [f"--{abbr}"] + (["1"] if arg else []) + ["x"]
        r = run(argv)
        assert usage_code_ok(key, r.returncode), (argv, r.returncode, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and f"unknown flag: --{abbr}" in lines[0], (argv, r.stderr)
        assert r.stdout == "", argv


@pytest.mark.parametrize("key", COMMANDS)
def test_help_lists_every_option(key):
    rows = table(key)
    spellings = [["--help"]] + ([["-h"]] if ("help", False, "h") in rows else [])
    for flags in spellings:
        r = run(argv_of(key) + flags)
        assert r.returncode == 0 and r.stderr == "", (key, flags, r.stderr)
        assert r.stdout.startswith(f"Usage: {key}"), r.stdout
        for name, arg, short in rows:
            if name:
                assert re.search(rf"--{re.escape(name)}\b", r.stdout), (key, name)
            elif short:
                assert re.search(rf"(^|\s)-{re.escape(short)}\b", r.stdout, re.M), (key, short)


@pytest.mark.parametrize("key", [k for k in COMMANDS if k.count(" ") >= 1])
def test_help_command(key):
    """`hull help run`, `hull help img create`, `hull-oci help exec`: the --help text."""
    prog, *words = key.split()
    want = run(argv_of(key) + ["--help"])
    helps = [argv_of(prog) + ["help"] + words]
    if len(words) == 2:  # hull img help create, hull vm help run
        helps.append(argv_of(f"{prog} {words[0]}") + ["help", words[1]])
    for argv in helps:
        r = run(argv)
        assert r.returncode == 0 and r.stderr == "", (argv, r.stderr)
        assert r.stdout == want.stdout, argv


@pytest.mark.parametrize("key", COMMANDS)
def test_boolean_takes_true_false(key):
    """--flag=true|false|1|0 on every boolean; anything else is refused naming the flag.
    (--help after the flag: the flag is parsed, then the usage exits 0 with no effect.)"""
    for name, arg, _ in table(key):
        if not name or arg or name in ("help", "version"):
            continue
        for value in ("true", "false", "1", "0"):
            r = run(argv_of(key) + [f"--{name}={value}", "--help"])
            # a flag may refuse to be set for its own reason (exec -d: not supported yet)
            assert "unknown flag" not in r.stderr and "invalid value" not in r.stderr
            if value in ("false", "0") or r.returncode != 0:
                assert r.returncode == 0 or "not supported" in r.stderr, (key, name, r.stderr)
        r = run(argv_of(key) + [f"--{name}=maybe", "--help"])
        assert usage_code_ok(key, r.returncode) and f"--{name}" in r.stderr, (key, name)


@pytest.mark.parametrize("key", [k for k in COMMANDS if k.startswith("hull-oci")])
def test_oci_single_dash_long_options(key):
    """runc takes -root as --root: kept, but -roo is no more --root."""
    for name, abbr, arg in abbreviations(table(key)):
        full = run(argv_of(key) + [f"-{name}"] + (["1"] if arg else []) + ["--help"])
        # the option is taken (its value may then be refused: --log-format 1)
        assert "unknown flag" not in full.stderr and "flag needs" not in full.stderr, full.stderr
        if key == "hull-oci":
            r = run([PROGS["hull-oci"], f"-{abbr}"] + (["1"] if arg else []) + ["list"])
            assert r.returncode != 0 and f"-{abbr}" in r.stderr, (abbr, r.stderr)


@pytest.mark.parametrize("argv,flag", [
    (["run", "--pid", "5", "img"], "--pid"),
    (["run", "--pid", "host", "img"], "--pid"),
    (["run", "--priv", "img"], "--priv"),
    (["create", "--pid=5", "img"], "--pid"),
    (["--roo", "/tmp", "ps"], "--roo"),
    (["img", "info", "--out", "json", "x"], "--out"),
])
def test_issue_examples(argv, flag):
    r = run([PROGS["hull"]] + argv)
    assert r.returncode in (125, 1) and r.returncode == (1 if argv[0] == "img" else 125)
    assert r.stderr.splitlines() == [r.stderr.strip()] and f"unknown flag: {flag}" in r.stderr


def test_version_everywhere():
    for prog in PROGS:
        r = run([PROGS[prog], "--version"])
        assert r.returncode == 0 and r.stdout.startswith(f"{prog} version "), (prog, r.stderr)


def test_top_help_is_not_a_container():
    r = run(argv_of("hull top") + ["--help"])
    assert r.returncode == 0 and "no such container" not in r.stderr


@pytest.mark.parametrize("key", ["hull", "hull img", "hull vm", "hull-vmm", "hull system"])
def test_unknown_help_topic(key):
    r = run(argv_of(key) + ["help", "no-such-command"])
    assert usage_code_ok(key, r.returncode) and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "no-such-command" in r.stderr


def test_private_root_untouched():
    """Nothing above made a store (every run failed at parse time or printed help)."""
    assert os.listdir(ROOT) == []
