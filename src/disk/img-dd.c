/*
 * `hull img dd`: copy a range of an image's guest view into a new image, with qemu-img 7.2's
 * arithmetic for bs/count/skip (count counts blocks from the start of the input, skip too).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/img.h"

int img_dd_range(uint64_t size, const struct img_dd_opts *o, uint64_t *ret_start,
		 uint64_t *ret_end)
{
	if (o->has_count && o->count <= UINT64_MAX / o->bs && o->count * o->bs < size)
		size = o->count * o->bs;
	/* qemu-img: a skip past the (counted) end warns and gives an empty output */
	if (o->has_skip && (o->skip > UINT64_MAX / o->bs || size < o->skip * o->bs)) {
		*ret_start = *ret_end = size;
		return 1;
	}
	*ret_start = o->has_skip ? o->skip * o->bs : 0;
	*ret_end = size;
	return 0;
}

static bool zero_buf(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Replace an existing regular file at dst (never the source itself), as qemu-img dd does. */
static int clear_target(const char *src, const char *dst, struct hull_err *err)
{
	struct stat ds, ss;

	if (stat(dst, &ds) < 0)
		return 0;
	if (!S_ISREG(ds.st_mode))
		return hull_err_setx(err, EEXIST, "%s: exists and is not a regular file", dst);
	if (stat(src, &ss) == 0 && ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)
		return hull_err_setx(err, EINVAL, "%s: output is the input image", dst);
	if (unlink(dst) < 0)
		return hull_err_set(err, errno, "replace %s", dst);
	return 0;
}

static int copy(struct disk *s, struct disk *d, uint64_t start, uint64_t end, uint64_t bs)
{
	cleanup_free uint8_t *buf = xmalloc(bs);

	for (uint64_t in = start; in < end;) {
		size_t n = (size_t)(end - in < bs ? end - in : bs);
		int r = disk_read(s, in, buf, n);

		/* the new image reads as zeroes: skipping zero blocks keeps it sparse */
		if (r == 0 && !zero_buf(buf, n))
			r = disk_write(d, in - start, buf, n);
		if (r < 0)
			return r;
		in += n;
	}
	return disk_flush(d);
}

int img_dd(const char *in, enum disk_format in_fmt, const char *out,
	   enum disk_format out_fmt, const struct img_dd_opts *o, bool *ret_skip_warn,
	   struct hull_err *err)
{
	cleanup_disk struct disk *s = NULL;
	cleanup_disk struct disk *d = NULL;
	struct disk_create_opts co = { 0 };
	uint64_t start, end;
	int r;

	if (o->bs == 0 || o->bs > 0x7fffffff)
		return hull_err_setx(err, EINVAL, "bs: must be between 1 and 2147483647");
	r = disk_open(in, in_fmt, img_ro_flags(), &s, err);
	if (r < 0)
		return r;
	*ret_skip_warn = img_dd_range(disk_size(s), o, &start, &end) == 1;
	co.format = out_fmt == DISK_FORMAT_AUTO ? DISK_FORMAT_RAW : out_fmt;
	co.size = end - start;
	r = clear_target(in, out, err);
	if (r == 0)
		r = disk_create(out, &co, err);
	if (r < 0)
		return r;
	r = disk_open(out, co.format, DISK_OPEN_NO_BACKING, &d, err);
	if (r < 0)
		goto fail;
	r = copy(s, d, start, end, o->bs);
	if (r < 0) {
		hull_err_set(err, -r, "dd %s to %s", in, out);
		goto fail;
	}
	return 0;
fail:
	(void)unlink(out);
	return -err->code;
}
