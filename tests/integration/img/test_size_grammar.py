"""`hull img create`'s SIZE against qemu-img's own verdict: ~200 seeded random strings in
qemu's size grammar and around it (fractions, hex, suffixes in either case, iB/B tails, spaces,
exponents, overflow). Both must accept the same strings and read the same number of bytes."""
import re
import shutil
import subprocess

import pytest


def random_size(rng):
    parts = []
    if rng.random() < 0.05:
        parts.append(rng.choice([" ", "+", "\t"]))
    if rng.random() < 0.1:
        parts.append("0x" + "".join(rng.choice("0123456789abcdefABCDEF")
                                    for _ in range(rng.randint(0, 17))))
    else:
        parts.append(str(rng.choice([0, 1, 7, 512, 1000, 1023, 1024, 65535, 8191, 9999999,
                                     rng.randint(0, 1 << 20), rng.randint(0, 1 << 64)]))
                     if rng.random() < 0.95 else "")
    if rng.random() < 0.3:
        parts.append("." + "".join(rng.choice("0123456789")
                                   for _ in range(rng.randint(0, 22))))
        if rng.random() < 0.1:
            parts.append(rng.choice(["e3", "E2", "e"]))
    if rng.random() < 0.75:
        parts.append(rng.choice("bBkKmMgGtTpPeEiIxZ"))
    if rng.random() < 0.1:
        parts.append(rng.choice(["iB", "B", "b", " ", "k", "-1"]))
    return "".join(parts)


def verdict(cmd, tmp_path):
    """The size the tool formats with, "too large" when it took the size but the file system
    cannot hold such a file, or None if it refused the size. (hull says "Formatting" only
    after success, qemu-img before it tries.)"""
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    m = re.search(r"^Formatting 'x', fmt=raw size=(\d+)", r.stdout, re.M)
    (tmp_path / "x").unlink(missing_ok=True)
    if r.returncode != 0 and re.search(r"too large", r.stderr, re.I):
        return "too large"
    return int(m.group(1)) if m else None


def test_sizes_match_qemu_img(hull, tmp_path, rng):
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img not installed")
    cases = {random_size(rng) for _ in range(200)}
    # a few that must stay right whatever the generator draws
    cases |= {"1.5G", "1.k", "0x10", "1KiB", "1.5", "8E", "7E", "+5", " 5", "5 ", "1e3", "1.0"}
    accepted = 0
    for s in sorted(cases):
        # sizes of petabytes are refused by the file system after the parse: only the
        # "Formatting" line (printed before creating) is compared
        want = verdict(["qemu-img", "create", "-f", "raw", "x", s], tmp_path)
        got = verdict([str(hull), "img", "create", "-f", "raw", "x", s], tmp_path)
        assert got == want, f"{s!r}: hull {got}, qemu-img {want}"
        accepted += want is not None
    assert 30 < accepted < len(cases) - 30  # both verdicts were drawn often
    assert not (tmp_path / "x").exists()


def test_bad_size_names_the_value(hull, tmp_path):
    r = subprocess.run([str(hull), "img", "create", "-f", "raw", "x", "1KiB"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=60)
    assert r.returncode != 0 and r.stderr == "hull img create: invalid size '1KiB'\n"
    assert not (tmp_path / "x").exists()
