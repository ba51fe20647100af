/*
 * `hull img amend -o compat=,lazy_refcounts=,refcount_bits=,size=`: change a QCOW2 image's
 * format options in place, in qemu-img's order: upgrade the version, change the refcount
 * width, set lazy refcounts, resize, downgrade the version. Every step is checked before
 * the first one writes, and each one leaves a consistent image (see docs/qcow2.md).
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "disk/img.h"
#include "disk/qcow2.h"

static const char *const creation_only[] = {
	"cluster_size", "preallocation", "extended_l2", "compression_type", "data_file",
	"data_file_raw", "encrypt.format", "encryption", "backing_file", "backing_fmt",
};

static int parse_one(char *kv, char *val, struct img_amend_opts *o, struct hull_err *err)
{
	uint64_t n;

	if (strcmp(kv, "compat") == 0) {
		if (strcmp(val, "0.10") == 0 || strcmp(val, "v2") == 0)
			o->version = 2;
		else if (strcmp(val, "1.1") == 0 || strcmp(val, "v3") == 0)
			o->version = 3;
		else
			return hull_err_setx(err, EINVAL, "Unknown compatibility level %s", val);
	} else if (strcmp(kv, "lazy_refcounts") == 0) {
		if (strcmp(val, "on") && strcmp(val, "off"))
			return hull_err_setx(err, EINVAL, "Parameter 'lazy_refcounts' expects 'on' "
					     "or 'off'");
		o->lazy = strcmp(val, "on") == 0 ? 1 : 0;
	} else if (strcmp(kv, "refcount_bits") == 0) {
		if (img_parse_size(val, &n) < 0 || n == 0 || n > 64 || (n & (n - 1)))
			return hull_err_setx(err, EINVAL, "Refcount width must be a power of two "
					     "and may not exceed 64 bits");
		o->refcount_bits = (unsigned)n;
	} else if (strcmp(kv, "size") == 0) {
		if (img_parse_size(val, &o->size) < 0)
			return hull_err_setx(err, EINVAL, "Parameter 'size' expects a size");
		o->has_size = true;
	} else {
		for (size_t i = 0; i < sizeof(creation_only) / sizeof(*creation_only); i++)
			if (strcmp(kv, creation_only[i]) == 0)
				return hull_err_setx(err, EINVAL, "Invalid parameter '%s': this "
						     "option is only supported for image creation",
						     kv);
		return hull_err_setx(err, EINVAL, "Invalid parameter '%s'", kv);
	}
	return 0;
}

int img_amend_parse(const char *list, struct img_amend_opts *o, struct hull_err *err)
{
	cleanup_free char *buf = xstrdup(list);
	char *save = NULL;

	memset(o, 0, sizeof(*o));
	o->lazy = -1;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');
		int r;

		if (!val)
			return hull_err_setx(err, EINVAL, "Invalid parameter '%s'", kv);
		*val++ = '\0';
		r = parse_one(kv, val, o, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static int write_header(struct qcow2 *q)
{
	int r = qcow2_header_write(q);

	return r < 0 ? r : qcow2_sync(q);
}

/* compat=0.10 to 1.1: a v3 header with no feature bits and 16-bit refcounts. */
static int upgrade(struct qcow2 *q)
{
	uint8_t *h = xcalloc(1, QCOW2_V3_HEADER_LEN);

	memcpy(h, q->header_raw, QCOW2_V2_HEADER_LEN);
	put_be32(h + 96, 4);
	put_be32(h + 100, QCOW2_V3_HEADER_LEN);
	free(q->header_raw);
	q->header_raw = h;
	q->header_length = QCOW2_V3_HEADER_LEN;
	q->version = 3;
	q->incompat = q->compat = q->autoclear = 0;
	return write_header(q);
}

/* Clear the L2 entry of guest cluster ci (a zero cluster without a host cluster). */
static int unallocate(struct qcow2 *q, uint64_t ci)
{
	uint64_t l2 = q->l1[ci >> q->l2_bits] & QCOW2_L1_OFFSET_MASK, zero = 0;
	uint8_t *t;
	int r = qcow2_cache_get(q, &q->l2_cache, l2, false, &t);

	if (r < 0)
		return r;
	memcpy(t + (ci & (q->l2_entries - 1)) * 8, &zero, 8);
	qcow2_cache_mark_dirty(&q->l2_cache, l2);
	return 0;
}

/* v2 has no zero flag: zero clusters become unallocated (no backing file: they read as
 * zeroes) or, over a backing file, data clusters written with zeroes. */
static int expand_zero_clusters(struct qcow2 *q)
{
	cleanup_free uint8_t *zero = xcalloc(1, q->cluster_size);
	uint64_t nclusters = (disk_size(&q->d) + q->cluster_size - 1) >> q->cluster_bits;

	for (uint64_t ci = 0; ci < nclusters; ci++) {
		uint64_t e, off = ci << q->cluster_bits;
		uint64_t len = disk_size(&q->d) - off < q->cluster_size ? disk_size(&q->d) - off
									 : q->cluster_size;
		int r = qcow2_l2_entry(q, ci, &e);

		if (r < 0)
			return r;
		if (!(e & QCOW2_OFLAG_ZERO) || (e & QCOW2_OFLAG_COMPRESSED))
			continue;
		if (q->backing_name || (e & QCOW2_L2_OFFSET_MASK))
			r = disk_write(&q->d, off, zero, (size_t)len);
		else
			r = unallocate(q, ci);
		if (r == 0 && (r = qcow2_l2_entry(q, ci, &e)) == 0 && (e & QCOW2_OFLAG_ZERO))
			r = -ENOTSUP; /* the write path kept the flag: cannot express it in v2 */
		if (r < 0)
			return r;
	}
	return qcow2_meta_flush(q);
}

static int downgrade(struct qcow2 *q, struct hull_err *err)
{
	int r;

	if (q->incompat & ~QCOW2_INCOMPAT_DIRTY)
		return hull_err_setx(err, ENOTSUP, "%s: cannot downgrade: incompatible features "
				     "%#llx in use", disk_path(&q->d),
				     (unsigned long long)(q->incompat & ~QCOW2_INCOMPAT_DIRTY));
	if (q->has_bitmaps_ext)
		return hull_err_setx(err, ENOTSUP, "%s: cannot downgrade an image with bitmaps",
				     disk_path(&q->d));
	if (q->nb_snapshots)
		return hull_err_setx(err, ENOTSUP, "%s: compat=0.10 with internal snapshots is not "
				     "supported", disk_path(&q->d));
	r = expand_zero_clusters(q);
	if (r < 0)
		return hull_err_set(err, -r, "%s: expand zero clusters for compat=0.10",
				    disk_path(&q->d));
	q->version = 2;
	q->header_length = QCOW2_V2_HEADER_LEN;
	q->incompat = q->compat = q->autoclear = 0;
	q->nb_features = 0; /* the feature table is a v3 extension */
	r = write_header(q);
	if (r < 0)
		return hull_err_set(err, -r, "%s: write the header", disk_path(&q->d));
	return 0;
}

static int set_lazy(struct qcow2 *q, bool on)
{
	if (on)
		q->compat |= QCOW2_COMPAT_LAZY_REFCOUNTS;
	else
		q->compat &= ~QCOW2_COMPAT_LAZY_REFCOUNTS;
	return write_header(q);
}

/* Store refcount v at index i of a refcount block of 2^order-bit entries (qemu's layout:
 * sub-byte entries from the low bits up, wider ones big-endian). */
void img_refblock_put(uint8_t *blk, unsigned order, uint64_t i, uint64_t v)
{
	unsigned bits = 1u << order;

	if (bits < 8) {
		unsigned shift = (unsigned)((i * bits) % 8);
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);

		blk[i * bits / 8] = (uint8_t)((blk[i * bits / 8] & ~mask) | ((v << shift) & mask));
		return;
	}
	for (unsigned b = 0; b < bits / 8; b++)
		blk[i * bits / 8 + b] = (uint8_t)(v >> (bits - 8 - 8 * b));
}

/* Current refcounts of every cluster of the file, minus the old refcount structures. */
static int collect_refcounts(struct qcow2 *q, uint64_t n, uint64_t *refs)
{
	for (uint64_t c = 0; c < n; c++) {
		int r = qcow2_refcount_get(q, c, &refs[c]);

		if (r < 0)
			return r;
	}
	for (uint64_t i = 0; i < q->reftable_clusters; i++)
		if ((q->reftable_offset >> q->cluster_bits) + i < n)
			refs[(q->reftable_offset >> q->cluster_bits) + i] = 0;
	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t c = (q->reftable[i] & QCOW2_REFT_OFFSET_MASK) >> q->cluster_bits;

		if (c && c < n)
			refs[c] = 0;
	}
	return 0;
}

/* Write a refcount table and blocks of the new width after the end of the file (they count
 * themselves: the fixed point), then point the header at them in one write. */
static int write_new_refcounts(struct qcow2 *q, unsigned order, uint64_t n, uint64_t *refs,
			       struct hull_err *err)
{
	uint64_t cs = q->cluster_size, per_block = cs * 8 >> order, blocks = 0, table = 0, total;
	cleanup_free uint8_t *blk = xmalloc(cs);
	cleanup_free uint64_t *rt = NULL;
	int r;

	do {
		total = n + blocks + table;
		blocks = (total + per_block - 1) / per_block;
		table = (blocks * 8 + cs - 1) / cs;
	} while (n + blocks + table != total);
	if (table * cs > QCOW2_MAX_REFTABLE_BYTES)
		return hull_err_setx(err, EFBIG, "%s: refcount table too large", disk_path(&q->d));
	rt = xcalloc(table * cs / 8, 8);
	for (uint64_t b = 0; b < blocks; b++) {
		memset(blk, 0, cs);
		for (uint64_t i = 0; i < per_block && b * per_block + i < total; i++) {
			uint64_t c = b * per_block + i;

			img_refblock_put(blk, order, i, c < n ? refs[c] : 1);
		}
		rt[b] = htobe64((n + table + b) * cs);
		r = qcow2_pwrite_meta(q, blk, cs, (n + table + b) * cs);
		if (r < 0)
			return hull_err_set(err, -r, "%s: write a refcount block", disk_path(&q->d));
	}
	r = qcow2_pwrite_meta(q, rt, table * cs, n * cs);
	if (r == 0)
		r = qcow2_sync(q);
	if (r < 0)
		return hull_err_set(err, -r, "%s: write the refcount table", disk_path(&q->d));
	put_be32(q->header_raw + 96, order);
	q->reftable_offset = n * cs;
	q->reftable_clusters = (uint32_t)table;
	r = write_header(q);
	if (r < 0)
		return hull_err_set(err, -r, "%s: write the header", disk_path(&q->d));
	return 0;
}

static int change_refcount_width(struct qcow2 *q, unsigned bits, struct hull_err *err)
{
	struct stat st;
	uint64_t n, max = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	cleanup_free uint64_t *refs = NULL;
	unsigned order = (unsigned)__builtin_ctz(bits);
	int r;

	if (fstat(q->fd, &st) < 0)
		return hull_err_set(err, errno, "%s: stat", disk_path(&q->d));
	n = ((uint64_t)st.st_size + q->cluster_size - 1) >> q->cluster_bits;
	if (q->file_size > n << q->cluster_bits)
		n = (q->file_size + q->cluster_size - 1) >> q->cluster_bits;
	refs = xcalloc(n ? n : 1, sizeof(*refs));
	r = collect_refcounts(q, n, refs);
	if (r < 0)
		return hull_err_set(err, -r, "%s: read the refcounts", disk_path(&q->d));
	for (uint64_t c = 0; c < n; c++)
		if (refs[c] > max)
			return hull_err_setx(err, EINVAL, "Cannot decrease refcount entry width to %u "
					     "bits: cluster at offset %#llx has a refcount of %llu",
					     bits, (unsigned long long)(c << q->cluster_bits),
					     (unsigned long long)refs[c]);
	return write_new_refcounts(q, order, n, refs, err);
}

/* The checks qemu-img makes before it changes anything. */
static int validate(struct qcow2 *q, const struct img_amend_opts *o, struct hull_err *err)
{
	unsigned version = o->version ? o->version : q->version;
	unsigned rbits = o->refcount_bits ? o->refcount_bits : q->refcount_bits;
	bool lazy = o->lazy >= 0 ? o->lazy : !!(q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS);

	if (version < 3 && o->refcount_bits && o->refcount_bits != 16)
		return hull_err_setx(err, EINVAL, "Refcount widths other than 16 bits require "
				     "compatibility level 1.1 or above (use compat=1.1 or greater)");
	if (version < 3 && rbits != 16)
		return hull_err_setx(err, EINVAL, "compat=0.10 requires refcount_bits=16");
	if (version < 3 && lazy && o->lazy == 1)
		return hull_err_setx(err, EINVAL, "Lazy refcounts only supported with "
				     "compatibility level 1.1 and above (use compat=1.1 or greater)");
	return 0;
}

/* Length of the image's backing file, 0 without one. */
static int backing_length(struct qcow2 *q, uint64_t *ret, struct hull_err *err)
{
	cleanup_disk struct disk *b = NULL;
	cleanup_free char *copy = xstrdup(disk_path(&q->d));
	cleanup_free char *full = NULL;
	enum disk_format bf = DISK_FORMAT_AUTO;
	int r;

	*ret = 0;
	if (!q->backing_name)
		return 0;
	/* opened without its backing file: resolve the name against the image's directory */
	full = path_is_absolute(q->backing_name) ? xstrdup(q->backing_name)
						 : path_join(dirname(copy), q->backing_name);
	if (q->backing_format)
		(void)disk_format_parse(q->backing_format, &bf);
	r = disk_open(full, bf, DISK_OPEN_RDONLY, &b, err);
	if (r < 0)
		return r;
	*ret = disk_size(b);
	return 0;
}

/* size=: like qemu-img, a grown range that the backing file covers must read as zeroes,
 * which compat=0.10 cannot express (refused before any change). */
static int amend_size(struct qcow2 *q, uint64_t size, struct hull_err *err)
{
	uint64_t old = disk_size(&q->d), blen;
	int r = backing_length(q, &blen, err);

	if (r < 0)
		return r;
	if (size > old && blen > old && q->version < 3)
		return hull_err_setx(err, ENOTSUP, "%s: Failed to zero out new clusters: compat=0.10 "
				     "has no zero clusters", disk_path(&q->d));
	r = qcow2_resize(q, size, err);
	if (r < 0)
		return r;
	if (size > old && blen > old) {
		uint64_t end = blen < size ? blen : size;

		r = disk_write_zeroes(&q->d, old, end - old, 0);
		if (r == 0)
			r = disk_flush(&q->d);
		if (r < 0)
			return hull_err_set(err, -r, "%s: zero the grown range", disk_path(&q->d));
	}
	return 0;
}

static int open_qcow2(const char *path, enum disk_format fmt, struct disk **d,
		      struct hull_err *err)
{
	int r = disk_open(path, fmt, DISK_OPEN_NO_BACKING, d, err);

	if (r < 0)
		return r;
	if (disk_get_format(*d) != DISK_FORMAT_QCOW2)
		return hull_err_setx(err, ENOTSUP, "Format driver '%s' does not support option "
				     "amendment", disk_format_name(disk_get_format(*d)));
	return 0;
}

int img_amend(const char *path, enum disk_format fmt, const struct img_amend_opts *o,
	      struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	struct qcow2 *q;
	int r;

	r = open_qcow2(path, fmt, &d, err);
	if (r < 0)
		return r;
	q = to_qcow2(d);
	r = validate(q, o, err);
	if (r < 0)
		return r;
	if (o->version == 3 && q->version < 3 && (r = upgrade(q)) < 0)
		return hull_err_set(err, -r, "%s: upgrade to compat=1.1", path);
	if (o->refcount_bits && o->refcount_bits != q->refcount_bits) {
		r = qcow2_meta_flush(q);
		if (r < 0)
			return hull_err_set(err, -r, "%s: flush", path);
		r = change_refcount_width(q, o->refcount_bits, err);
		if (r < 0)
			return r;
		/* the open state describes the old refcount structures: start again */
		disk_close(d);
		d = NULL;
		r = open_qcow2(path, fmt, &d, err);
		if (r < 0)
			return r;
		q = to_qcow2(d);
	}
	if (o->lazy >= 0 && (r = set_lazy(q, o->lazy == 1)) < 0)
		return hull_err_set(err, -r, "%s: set lazy_refcounts", path);
	if (o->has_size && o->size != disk_size(d) && (r = amend_size(q, o->size, err)) < 0)
		return r;
	if (o->version == 2 && q->version >= 3)
		return downgrade(q, err);
	return 0;
}
