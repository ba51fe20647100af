/*
 * `hull img compare`: the guest views of two images, compared as qemu-img 7.2 compares them
 * (same chunking by block status, same 512-byte granularity in the offsets it reports).
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/img.h"

#define CMP_BUF (2u << 20) /* qemu-img's IO_BUF_SIZE */
#define SECTOR 512u

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Offset in buf of the first 512-byte sector that is not all zeroes, or -1. */
int64_t img_find_nonzero(const uint8_t *buf, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += SECTOR)
		if (!all_zero(buf + i, (size_t)(n - i < SECTOR ? n - i : SECTOR)))
			return (int64_t)i;
	return -1;
}

/*
 * qemu's compare_buffers(): whether the first sector differs, and in *ret_run the length of
 * the run of sectors that share that verdict (so a run of equal sectors ends at the first
 * differing one).
 */
bool img_compare_buffers(const uint8_t *a, const uint8_t *b, uint64_t n, uint64_t *ret_run)
{
	uint64_t i = n < SECTOR ? n : SECTOR;
	bool res = memcmp(a, b, (size_t)i) != 0;

	while (i < n) {
		uint64_t len = n - i < SECTOR ? n - i : SECTOR;

		if ((memcmp(a + i, b + i, (size_t)len) != 0) != res)
			break;
		i += len;
	}
	*ret_run = i;
	return res;
}

static int status(struct disk *d, uint64_t off, uint64_t len, uint64_t *n, unsigned *flags)
{
	uint64_t host;
	unsigned depth;
	int r = disk_block_status(d, off, len, n, flags, &host, &depth);

	*flags &= DISK_STATUS_DATA | DISK_STATUS_ZERO | DISK_STATUS_ALLOCATED;
	if (*flags & DISK_STATUS_DATA)
		*flags |= DISK_STATUS_ALLOCATED;
	return r;
}

/* An allocated range of one image against zeroes: mismatch at its first non-zero sector. */
static int check_empty(struct disk *d, uint64_t off, uint64_t n, uint8_t *buf,
		       struct img_compare_result *res)
{
	int64_t idx;
	int r = disk_read(d, off, buf, (size_t)n);

	if (r < 0) {
		res->code = 4;
		return r;
	}
	idx = img_find_nonzero(buf, n);
	if (idx >= 0) {
		res->code = 1;
		res->what = IMG_CMP_CONTENT;
		res->offset = off + (uint64_t)idx;
	}
	return 0;
}

static int compare_chunk(struct disk *a, struct disk *b, uint64_t off, uint64_t n,
			 uint8_t *ba, uint8_t *bb, struct img_compare_result *res)
{
	uint64_t run;
	bool differ;
	int r = disk_read(a, off, ba, (size_t)n);

	if (r == 0)
		r = disk_read(b, off, bb, (size_t)n);
	if (r < 0) {
		res->code = 4;
		return r;
	}
	differ = img_compare_buffers(ba, bb, n, &run);
	if (differ || run != n) {
		res->code = 1;
		res->what = IMG_CMP_CONTENT;
		res->offset = off + (differ ? 0 : run); /* the first differing sector */
	}
	return 0;
}

static int compare_common(struct disk *a, struct disk *b, uint64_t total, bool strict,
			  uint8_t *ba, uint8_t *bb, struct img_compare_result *res)
{
	uint64_t off = 0;
	int r = 0;

	while (off < total && res->code == 0) {
		uint64_t n1, n2, chunk;
		unsigned f1, f2;

		r = status(a, off, disk_size(a) - off, &n1, &f1);
		if (r == 0)
			r = status(b, off, disk_size(b) - off, &n2, &f2);
		if (r < 0) {
			res->code = 3;
			return r;
		}
		chunk = n1 < n2 ? n1 : n2;
		if (chunk > total - off)
			chunk = total - off;
		if (strict && f1 != f2) {
			res->code = 1;
			res->what = IMG_CMP_STATUS;
			res->offset = off;
			break;
		}
		if ((f1 & DISK_STATUS_ZERO) && (f2 & DISK_STATUS_ZERO)) {
			off += chunk;
			continue;
		}
		chunk = chunk < CMP_BUF ? chunk : CMP_BUF;
		if ((f1 & DISK_STATUS_ALLOCATED) == (f2 & DISK_STATUS_ALLOCATED)) {
			if (f1 & DISK_STATUS_ALLOCATED)
				r = compare_chunk(a, b, off, chunk, ba, bb, res);
		} else {
			r = check_empty(f1 & DISK_STATUS_ALLOCATED ? a : b, off, chunk, ba, res);
		}
		if (r < 0)
			return r;
		off += chunk;
	}
	return 0;
}

/* The tail of the larger image must read as zeroes. */
static int compare_tail(struct disk *over, uint64_t off, uint8_t *buf,
			struct img_compare_result *res)
{
	uint64_t size = disk_size(over);
	int r;

	while (off < size && res->code == 0) {
		uint64_t n;
		unsigned f;

		r = status(over, off, size - off, &n, &f);
		if (r < 0) {
			res->code = 3;
			return r;
		}
		if (f & DISK_STATUS_ALLOCATED) {
			n = n < CMP_BUF ? n : CMP_BUF;
			r = check_empty(over, off, n, buf, res);
			if (r < 0)
				return r;
		}
		off += n;
	}
	return 0;
}

int img_compare(const char *path1, enum disk_format fmt1, const char *path2,
		enum disk_format fmt2, bool strict, struct img_compare_result *res,
		struct hull_err *err)
{
	cleanup_disk struct disk *a = NULL;
	cleanup_disk struct disk *b = NULL;
	cleanup_free uint8_t *ba = NULL;
	cleanup_free uint8_t *bb = NULL;
	uint64_t total;
	int r;

	memset(res, 0, sizeof(*res));
	res->code = 2;
	r = disk_open(path1, fmt1, img_ro_flags(), &a, err);
	if (r == 0)
		r = disk_open(path2, fmt2, img_ro_flags(), &b, err);
	if (r < 0)
		return r;
	res->code = 0;
	if (strict && disk_size(a) != disk_size(b)) {
		res->code = 1;
		res->what = IMG_CMP_SIZE;
		return 0;
	}
	total = disk_size(a) < disk_size(b) ? disk_size(a) : disk_size(b);
	ba = xmalloc(CMP_BUF);
	bb = xmalloc(CMP_BUF);
	r = compare_common(a, b, total, strict, ba, bb, res);
	if (r == 0 && res->code == 0 && disk_size(a) != disk_size(b)) {
		res->size_warning = true;
		r = compare_tail(disk_size(a) > total ? a : b, total, ba, res);
	}
	if (r < 0)
		return hull_err_set(err, -r, "compare %s and %s: %s", path1, path2,
				    res->code == 3 ? "block status" : "read");
	return 0;
}
