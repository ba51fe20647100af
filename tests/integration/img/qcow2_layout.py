"""Read and damage the metadata of a QCOW2 file from Python (for the repair tests)."""
import os
import struct

L2_MASK = 0x00fffffffffffe00


class Layout:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            h = f.read(104)
        self.version = struct.unpack(">I", h[4:8])[0]
        self.cs = 1 << struct.unpack(">I", h[20:24])[0]
        self.l1_size, self.l1_off, self.rt_off, self.rt_clusters = \
            struct.unpack(">IQQI", h[36:60])
        self.bits = 16 if self.version == 2 else 1 << struct.unpack(">I", h[96:100])[0]
        self.rb_entries = self.cs * 8 // self.bits

    def file_clusters(self):
        return (os.path.getsize(self.path) + self.cs - 1) // self.cs

    def u64(self, off):
        with open(self.path, "rb") as f:
            f.seek(off)
            return struct.unpack(">Q", f.read(8))[0]

    def put64(self, off, v):
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(struct.pack(">Q", v))

    def reftable(self):
        n = self.rt_clusters * self.cs // 8
        with open(self.path, "rb") as f:
            f.seek(self.rt_off)
            return list(struct.unpack(f">{n}Q", f.read(n * 8)))

    def l2_tables(self):
        return [self.u64(self.l1_off + 8 * i) & L2_MASK for i in range(self.l1_size)
                if self.u64(self.l1_off + 8 * i) & L2_MASK]

    def data_clusters(self):
        out = []
        for l2 in self.l2_tables():
            with open(self.path, "rb") as f:
                f.seek(l2)
                ents = struct.unpack(f">{self.cs // 8}Q", f.read(self.cs))
            out += [e & L2_MASK for e in ents if e & L2_MASK and not e & (1 << 62)]
        return out

    def set_refcount(self, cluster, value):
        """Write the refcount of a host cluster into its (existing) refcount block."""
        block = self.reftable()[cluster // self.rb_entries] & ~0x1ff
        assert block, "no refcount block for that cluster"
        idx = cluster % self.rb_entries
        with open(self.path, "r+b") as f:
            if self.bits >= 8:
                n = self.bits // 8
                f.seek(block + idx * n)
                f.write(value.to_bytes(n, "big"))
            else:
                bit = idx * self.bits
                f.seek(block + bit // 8)
                b = f.read(1)[0]
                mask = ((1 << self.bits) - 1) << (bit % 8)
                b = (b & ~mask) | ((value << (bit % 8)) & mask)
                f.seek(block + bit // 8)
                f.write(bytes([b]))

    def set_dirty(self):
        assert self.version == 3
        with open(self.path, "r+b") as f:
            f.seek(72)
            v = struct.unpack(">Q", f.read(8))[0]
            f.seek(72)
            f.write(struct.pack(">Q", v | 1))
