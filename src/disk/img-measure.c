/*
 * `hull img measure`: the file size a new image needs, with qemu-img 7.2's arithmetic
 * (qcow2_measure, qcow2_calc_prealloc_size, qcow2_refcount_metadata_size), so that the
 * numbers match qemu-img's to the byte.
 */
#include <errno.h>
#include <string.h>

#include "common/cleanup.h"
#include "disk/img.h"
#include "disk/qcow2.h"

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static uint64_t round_up(uint64_t a, uint64_t b)
{
	return div_up(a, b) * b;
}

/* Bytes of refcount table and blocks that count `clusters` clusters and themselves: the
 * fixed point, as qemu computes it. */
uint64_t img_qcow2_refcount_meta_size(uint64_t clusters, uint64_t cluster_size,
				      unsigned refcount_order)
{
	uint64_t per_table = cluster_size / 8, per_block = cluster_size * 8 >> refcount_order;
	uint64_t table = 0, blocks = 0, n = 0, last;

	do {
		last = n;
		blocks = div_up(clusters + table + blocks, per_block);
		table = div_up(blocks, per_table);
		n = clusters + blocks + table;
	} while (n != last);
	return (blocks + table) * cluster_size;
}

/* File size of a fully allocated qcow2 image of virtual size `size`. */
uint64_t img_qcow2_full_size(uint64_t size, uint64_t cluster_size, unsigned refcount_order)
{
	uint64_t aligned = round_up(size, cluster_size), meta = cluster_size, nl2e, nl1e;

	nl2e = round_up(aligned / cluster_size, cluster_size / 8);
	meta += nl2e * 8;
	nl1e = round_up(nl2e * 8 / cluster_size, cluster_size / 8);
	meta += nl1e * 8;
	meta += img_qcow2_refcount_meta_size((meta + aligned) / cluster_size, cluster_size,
					     refcount_order);
	return meta + aligned;
}

/* Bytes of whole clusters holding data in the source's guest view (qemu counts a cluster from
 * its start to its end each time an extent with data starts in it). */
static int count_data(struct disk *s, uint64_t cs, uint64_t *ret)
{
	uint64_t size = disk_size(s), off = 0, req = 0;

	while (off < size) {
		uint64_t n, host;
		unsigned flags, depth;
		int r = disk_block_status(s, off, size - off, &n, &flags, &host, &depth);

		if (r < 0)
			return r;
		/* hull marks holes in the file under data clusters ZERO, qemu-img 7.2 does not
		 * (it counts them): data is what counts */
		if (flags & DISK_STATUS_DATA) {
			n = round_up(off + n, cs) - off;
			req += off % cs + n;
		}
		off += n;
	}
	*ret = req;
	return 0;
}

static int measure_qcow2(struct disk *s, const struct disk_create_opts *o,
			 struct img_measure *m, struct hull_err *err)
{
	uint64_t cs = 1ull << (o->cluster_bits ? o->cluster_bits : 16), vsize, req = 0;
	unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
	unsigned order = (unsigned)__builtin_ctz(rbits);
	int r;

	if (o->compat_v2 && rbits != 16)
		return hull_err_setx(err, EINVAL, "-o refcount_bits: compat=0.10 needs 16");
	if (o->lazy_refcounts && o->compat_v2)
		return hull_err_setx(err, EINVAL, "-o lazy_refcounts: needs compat=1.1");
	vsize = round_up(s ? disk_size(s) : o->size, cs);
	/* qemu: the L1 table may hold at most 32 MiB */
	if (div_up(vsize / cs, cs / 8) * 8 > (32u << 20))
		return hull_err_setx(err, EINVAL, "The image size is too large (try using a "
				     "larger cluster size)");
	if (s && o->backing_file)
		req = vsize; /* qemu: nothing assumed shared with the new backing file */
	else if (s && (r = count_data(s, cs, &req)) < 0)
		return hull_err_set(err, -r, "%s: block status", disk_path(s));
	m->fully_allocated = img_qcow2_full_size(vsize, cs, order);
	m->required = m->fully_allocated - vsize + req;
	/* qemu: the source must support persistent bitmaps (qcow2 v3) */
	m->has_bitmaps = !o->compat_v2 && s && disk_get_format(s) == DISK_FORMAT_QCOW2 &&
			 to_qcow2(s)->version >= 3;
	m->bitmaps = 0;
	return 0;
}

int img_measure(const char *path, enum disk_format fmt, const struct disk_create_opts *opts,
		struct img_measure *m, struct hull_err *err)
{
	cleanup_disk struct disk *s = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	if (path) {
		r = disk_open(path, fmt, img_ro_flags(), &s, err);
		if (r < 0)
			return r;
	}
	if (opts->format == DISK_FORMAT_QCOW2)
		return measure_qcow2(s, opts, m, err);
	/* raw: the file is the guest's bytes (a --size rounds up to a sector) */
	m->required = s ? disk_size(s) : round_up(opts->size, 512);
	m->fully_allocated = m->required;
	return 0;
}
