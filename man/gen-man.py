#!/usr/bin/env python3
"""Write a program's man page from its own --help (help2man), with a COMMANDS section made
of every command's --help, so the page says what the binary says.

    gen-man.py BINARY NAME DESCRIPTION OUTPUT

The commands (and their subcommands: `hull img create`) come from the "Commands:" section
of each --help, as tests/integration/test_cli_options.py finds them.
"""
import os
import re
import subprocess
import sys
import tempfile


def help_of(argv):
    env = dict(os.environ, HULL_VM_IN_PROCESS="1")
    r = subprocess.run(argv + ["--help"], capture_output=True, text=True, env=env, check=True)
    return r.stdout


def commands(text):
    m = re.search(r"^Commands:\n((?:  \S.*\n)+)", text, re.M)
    if not m:
        return []
    return [line.split()[0] for line in m.group(1).splitlines()
            if line.split()[0] not in ("help", "version")]


def roff_block(text):
    out = []
    for line in text.rstrip("\n").splitlines():
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return ".nf\n" + "\n".join(out) + "\n.fi\n"


def main():
    binary, name, description, output = sys.argv[1:5]
    sections = []

    def walk(words):
        text = help_of([binary] + words)
        if words:
            sections.append(f'.SS "{" ".join([name] + words)}"\n' + roff_block(text))
        for sub in commands(text):
            walk(words + [sub])

    walk([])
    with tempfile.NamedTemporaryFile("w", suffix=".h2m", delete=False) as inc:
        inc.write("[COMMANDS]\nEach command's options, as its --help prints them.\n")
        inc.write("".join(sections))
        inc.write("[SEE ALSO]\n")
        others = [p for p in ("hull", "hull-oci", "hull-vmm") if p != name]
        inc.write(", ".join(f"\\fB{p}\\fR(1)" for p in others) + "\n")
    try:
        subprocess.run(["help2man", "--no-info", "--section=1", f"--name={description}",
                        f"--include={inc.name}", f"--output={output}",
                        "--version-string=" + subprocess.run(
                            [binary, "--version"], capture_output=True, text=True,
                            check=True).stdout.split()[2],
                        binary], check=True, env=dict(os.environ, HULL_VM_IN_PROCESS="1"))
    finally:
        os.unlink(inc.name)
    # help2man names the page after the binary's path; the page is the program's
    return 0


if __name__ == "__main__":
    sys.exit(main())
