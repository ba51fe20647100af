"""Seed streams for tests/fuzz/run-migrate (the format: src/vmm/migrate-stream.h)."""
import os
import struct
import sys
import zlib


def state_file():
    """A state stream with one empty section, and its trailing CRC (snapshot.h)."""
    body = b"HULLVMST" + struct.pack("<I", 1)
    body += struct.pack("<IIII", 0x42, 0, 0, zlib.crc32(b""))
    return body + struct.pack("<I", zlib.crc32(body))


def stream(pages, state=True, end=True, version=1):
    s = b"HULLMIGR" + struct.pack("<IQII", version, 64 * 4096, 1, 1)
    s += struct.pack("<6I", 1, 0, 0, 0, 0x80000000, 0x1)
    if pages:
        s += struct.pack("<II", 1, len(pages))
        for p in pages:
            s += struct.pack("<Q", p) + bytes([p & 0xff]) * 4096
        s += struct.pack("<IIQQ", 2, 2, 3, 4)
    if state:
        st = state_file()
        s += struct.pack("<II", 3, len(st)) + st
    if end:
        s += struct.pack("<I", 4)
        s += struct.pack("<I", zlib.crc32(s))
    return s


def main(out):
    seeds = {"ok": stream([0, 5, 63]), "past-ram": stream([64]), "no-end": stream([1], end=False),
             "no-state": stream([2], state=False), "version": stream([], version=9),
             "empty": stream([])}
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data + b"ERR no\n")


if __name__ == "__main__":
    main(sys.argv[1])
