/*
 * Creating a QCOW2 image: header cluster (header, backing format and feature-name
 * extensions, backing name), refcount table, refcount blocks covering the metadata, and an
 * empty L1 table, laid out the way qemu-img does (qcow2.txt).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "disk/qcow2.h"

static const struct {
	uint8_t type, bit;
	const char *name;
} feature_table[] = {
	{ 0, 0, "dirty bit" },
	{ 0, 1, "corrupt bit" },
	{ 0, 2, "external data file" },
	{ 0, 3, "compression type" },
	{ 0, 4, "extended L2 entries" },
	{ 1, 0, "lazy refcounts" },
	{ 2, 0, "bitmaps" },
	{ 2, 1, "raw external data" },
};

static size_t put_ext(uint8_t *cl, size_t pos, uint32_t type, const void *data, size_t len)
{
	struct qcow2_ext_header eh = { htobe32(type), htobe32((uint32_t)len) };

	memcpy(cl + pos, &eh, sizeof(eh));
	memcpy(cl + pos + 8, data, len);
	return pos + 8 + ((len + 7) & ~(size_t)7);
}

/* The backing file's size and format (probed when not given). */
static int backing_info(const char *path, const struct disk_create_opts *o, uint64_t *ret_size,
			enum disk_format *ret_fmt, struct hull_err *err)
{
	cleanup_free char *copy = xstrdup(path);
	cleanup_free char *full = path_is_absolute(o->backing_file)
					  ? xstrdup(o->backing_file)
					  : path_join(dirname(copy), o->backing_file);
	cleanup_disk struct disk *b = NULL;
	int r;

	r = disk_open(full, o->backing_format, DISK_OPEN_RDONLY, &b, err);
	if (r < 0)
		return hull_err_prefix(err, "%s: backing file", path);
	*ret_size = disk_size(b);
	*ret_fmt = disk_get_format(b);
	return 0;
}

static int write_image(int fd, const struct disk_create_opts *o, uint64_t size,
		       enum disk_format bfmt)
{
	unsigned cb = o->cluster_bits ? o->cluster_bits : 16;
	unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
	unsigned order = (unsigned)__builtin_ctz(rbits);
	uint64_t cs = 1ull << cb, l2e = cs / 8, rbe = cs * 8 / rbits;
	uint64_t l1_size = (size + cs * l2e - 1) / (cs * l2e), l1c, rt = 1, rb = 1, meta = 0;
	cleanup_free uint8_t *cl = xcalloc(1, cs);
	cleanup_free uint8_t *blk = xcalloc(1, cs);
	struct qcow2_header *h = (struct qcow2_header *)(void *)cl;
	size_t pos, blen = o->backing_file ? strlen(o->backing_file) : 0;
	int r;

	if (l1_size == 0)
		l1_size = 1;
	l1c = (l1_size * 8 + cs - 1) / cs;
	for (int i = 0; i < 8; i++) {
		meta = 1 + rt + rb + l1c;
		rb = (meta + rbe - 1) / rbe;
		rt = (rb * 8 + cs - 1) / cs;
	}
	meta = 1 + rt + rb + l1c;
	h->magic = htobe32(QCOW2_MAGIC);
	h->version = htobe32(o->compat_v2 ? 2 : 3);
	h->cluster_bits = htobe32(cb);
	h->size = htobe64(size);
	h->l1_size = htobe32((uint32_t)l1_size);
	h->refcount_table_offset = htobe64(cs);
	h->refcount_table_clusters = htobe32((uint32_t)rt);
	h->l1_table_offset = htobe64((1 + rt + rb) * cs);
	pos = o->compat_v2 ? QCOW2_V2_HEADER_LEN : QCOW2_V3_HEADER_LEN;
	if (!o->compat_v2) {
		h->refcount_order = htobe32(order);
		h->header_length = htobe32(QCOW2_V3_HEADER_LEN);
		if (o->lazy_refcounts)
			h->compatible_features = htobe64(QCOW2_COMPAT_LAZY_REFCOUNTS);
	}
	if (o->backing_file) {
		const char *fname = disk_format_name(bfmt);

		pos = put_ext(cl, pos, QCOW2_EXT_BACKING_FORMAT, fname, strlen(fname));
	}
	if (!o->compat_v2) {
		struct qcow2_feature_name ft[ARRAY_SIZE(feature_table)];

		memset(ft, 0, sizeof(ft));
		for (size_t i = 0; i < ARRAY_SIZE(feature_table); i++) {
			ft[i].type = feature_table[i].type;
			ft[i].bit = feature_table[i].bit;
			memcpy(ft[i].name, feature_table[i].name, strlen(feature_table[i].name));
		}
		pos = put_ext(cl, pos, QCOW2_EXT_FEATURE_TABLE, ft, sizeof(ft));
	}
	pos += 8; /* end of extensions */
	if (blen) {
		if (pos + blen > cs)
			return -ENAMETOOLONG;
		memcpy(cl + pos, o->backing_file, blen);
		h->backing_file_offset = htobe64(pos);
		h->backing_file_size = htobe32((uint32_t)blen);
	}
	if (ftruncate(fd, (off_t)(meta * cs)) < 0)
		return -errno;
	if (pwrite(fd, cl, cs, 0) != (ssize_t)cs)
		return -EIO;
	/* refcount table: block i at cluster 1 + rt + i */
	for (uint64_t t = 0; t < rt; t++) {
		memset(blk, 0, cs);
		for (uint64_t i = 0; i < l2e && t * l2e + i < rb; i++)
			((uint64_t *)(void *)blk)[i] = htobe64((1 + rt + t * l2e + i) * cs);
		if (pwrite(fd, blk, cs, (off_t)((1 + t) * cs)) != (ssize_t)cs)
			return -EIO;
	}
	/* refcount blocks: every metadata cluster has refcount 1 */
	for (uint64_t b = 0; b < rb; b++) {
		memset(blk, 0, cs);
		for (uint64_t i = 0; i < rbe && b * rbe + i < meta; i++) {
			uint64_t bit = i * rbits;

			if (rbits >= 8)
				blk[(bit + rbits) / 8 - 1] = 1; /* big-endian: last byte */
			else
				blk[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
		if (pwrite(fd, blk, cs, (off_t)((1 + rt + b) * cs)) != (ssize_t)cs)
			return -EIO;
	}
	r = fdatasync(fd);
	return r < 0 ? -errno : 0;
}

int qcow2_create(const char *path, const struct disk_create_opts *o, struct hull_err *err)
{
	cleanup_close int fd = -1;
	enum disk_format bfmt = DISK_FORMAT_AUTO;
	uint64_t size = o->size, bsize = 0;
	unsigned cb = o->cluster_bits ? o->cluster_bits : 16;
	unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
	int r;

	if (cb < QCOW2_MIN_CLUSTER_BITS || cb > QCOW2_MAX_CLUSTER_BITS)
		return hull_err_setx(err, EINVAL, "%s: cluster size must be a power of two from "
				     "512 to 2M", path);
	if (rbits > 64 || (rbits & (rbits - 1)) || (o->compat_v2 && rbits != 16))
		return hull_err_setx(err, EINVAL, "%s: refcount bits must be a power of two up "
				     "to 64 (16 for compat=0.10)", path);
	if (o->compat_v2 && o->lazy_refcounts)
		return hull_err_setx(err, EINVAL, "%s: lazy refcounts need compat=1.1", path);
	if (o->backing_file) {
		if (strlen(o->backing_file) > QCOW2_BACKING_NAME_MAX)
			return hull_err_setx(err, ENAMETOOLONG, "%s: backing file name too long",
					     path);
		r = backing_info(path, o, &bsize, &bfmt, err);
		if (r < 0)
			return r;
		if (size == 0)
			size = bsize;
	}
	size = (size + 511) & ~511ull;
	if (size > (1ull << 55) ||
	    (size + (1ull << (2 * cb - 3)) - 1) / (1ull << (2 * cb - 3)) * 8 > QCOW2_MAX_L1_BYTES)
		return hull_err_setx(err, EFBIG, "%s: size %llu is too large for %u-byte clusters",
				     path, (unsigned long long)size, 1u << cb);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return hull_err_set(err, errno, "create %s", path);
	r = write_image(fd, o, size, bfmt);
	if (r < 0) {
		(void)unlink(path);
		return hull_err_set(err, -r, "%s: write qcow2 metadata", path);
	}
	return 0;
}
