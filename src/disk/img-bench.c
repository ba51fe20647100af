/*
 * `hull img bench`: qemu-img bench's request stream (count requests of size bytes from
 * offset, advancing by step and wrapping inside the image, optional flush every N writes)
 * through hull's disk layer. Requests run one at a time; depth is only reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "disk/img.h"

/* The offset after `off`, as qemu-img bench advances it. */
uint64_t img_bench_next(uint64_t off, uint64_t step, uint64_t size, uint64_t bufsize)
{
	off += step;
	return size <= bufsize ? 0 : off % size; /* may straddle the end: that request fails */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(struct disk *d, const struct img_bench_opts *o, uint8_t *buf)
{
	uint64_t off = o->offset;

	for (uint64_t i = 0; i < o->count; i++) {
		int r;

		if (off + o->size > disk_size(d))
			return -EIO; /* qemu-img: "Failed request: Input/output error" */
		r = o->write ? disk_write(d, off, buf, (size_t)o->size)
			     : disk_read(d, off, buf, (size_t)o->size);
		if (r == 0 && o->write && o->flush_interval && (i + 1) % o->flush_interval == 0)
			r = disk_flush(d);
		if (r < 0)
			return r;
		off = img_bench_next(off, o->step, disk_size(d), o->size);
	}
	return 0;
}

int img_bench(const struct img_bench_opts *o, void (*started)(const struct img_bench_opts *),
	      double *ret_secs, struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	cleanup_free uint8_t *buf = NULL;
	double t0;
	int r;

	if (o->size == 0 || o->size > (1u << 30))
		return hull_err_setx(err, EINVAL, "-s: invalid buffer size");
	if (o->flush_interval && !o->write)
		return hull_err_setx(err, EINVAL, "--flush-interval is only available in write tests");
	if (o->flush_interval && o->flush_interval < o->depth)
		return hull_err_setx(err, EINVAL, "Flush interval can't be smaller than depth");
	if (o->no_drain && !o->flush_interval)
		return hull_err_setx(err, EINVAL, "--no-drain requires --flush-interval");
	r = disk_open(o->path, o->fmt, o->write ? 0 : img_ro_flags(), &d, err);
	if (r < 0)
		return r;
	if (posix_memalign((void **)&buf, 4096, (size_t)o->size))
		return hull_err_setx(err, ENOMEM, "bench: no memory for the buffer");
	memset(buf, o->pattern, (size_t)o->size);
	started(o);
	t0 = now();
	r = run(d, o, buf);
	*ret_secs = now() - t0;
	if (r < 0)
		return hull_err_set(err, -r, "Failed request");
	return 0;
}
