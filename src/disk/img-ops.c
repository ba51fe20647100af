/* `hull img` operations that change images: check (-r), convert, commit, rebase, resize. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "disk/img-internal.h"
#include "disk/qcow2.h"

#define COPY_CHUNK (2u << 20)

int img_check(const char *path, enum disk_format fmt, const char *repair,
	      struct img_check_report *rep, struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	struct qcow2_check_result res;
	unsigned rmask = 0, flags = DISK_OPEN_NO_REPAIR | DISK_OPEN_NO_BACKING | QCOW2_OPEN_CHECK;
	struct qcow2 *q;
	int r;

	if (repair && strcmp(repair, "leaks") == 0)
		rmask = QCOW2_REPAIR_LEAKS;
	else if (repair && strcmp(repair, "all") == 0)
		rmask = QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS;
	else if (repair)
		return hull_err_setx(err, EINVAL, "-r: '%s' is not 'leaks' or 'all'", repair);
	if (!rmask)
		flags |= img_ro_flags();
	else
		flags |= QCOW2_OPEN_REPAIR;
	r = disk_open(path, fmt, flags, &d, err);
	if (r < 0)
		return r;
	if (disk_get_format(d) != DISK_FORMAT_QCOW2)
		return hull_err_setx(err, ENOTSUP, "%s: this image format does not support checks",
				     path);
	q = to_qcow2(d);
	r = qcow2_check(q, rmask, &res);
	if (r < 0)
		return hull_err_set(err, -r, "%s: check", path);
	if (rmask && res.corruptions == 0 &&
	    (q->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT))) {
		uint64_t v = htobe64(q->incompat & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT));

		q->incompat = be64toh(v);
		r = qcow2_pwrite_meta(q, &v, sizeof(v), 72);
		if (r == 0)
			r = qcow2_sync(q);
		if (r < 0)
			return hull_err_set(err, -r, "%s: clear the dirty and corrupt bits", path);
	}
	memset(rep, 0, sizeof(*rep));
	rep->corruptions = res.corruptions;
	rep->leaks = res.leaks;
	rep->corruptions_fixed = res.corruptions_fixed;
	rep->leaks_fixed = res.leaks_fixed;
	rep->allocated_clusters = res.allocated_clusters;
	rep->total_clusters = res.total_clusters;
	rep->compressed_clusters = res.compressed_clusters;
	rep->fragmented_clusters = res.fragmented_clusters;
	rep->image_end_offset = res.image_end_offset;
	memcpy(rep->first_error, res.first_error, sizeof(rep->first_error));
	return 0;
}


struct disk *img_detail_disk(struct disk *d)
{
	for (; d; d = disk_get_format(d) == DISK_FORMAT_QCOW2 ? to_qcow2(d)->backing : NULL)
		if (disk_error_detail(d))
			return d;
	return NULL;
}

int img_io_err(struct hull_err *err, int r, struct disk *a, struct disk *b, const char *what)
{
	struct disk *d = img_detail_disk(a) ? img_detail_disk(a) : img_detail_disk(b);

	if (d)
		return hull_err_set(err, -r, "%s: %s: %s", what, disk_path(d),
				     disk_error_detail(d));
	return hull_err_set(err, -r, "%s", what);
}

/* Rebasing path onto nb must not make a loop: nb, or a file in its chain, is path itself. */
static int refuse_loop(const char *path, struct disk *nb, const char *backing,
		       struct hull_err *err)
{
	struct stat top, st;

	if (stat(path, &top) < 0)
		return hull_err_set(err, errno, "%s", path);
	for (struct disk *d = nb; d;
	     d = disk_get_format(d) == DISK_FORMAT_QCOW2 ? to_qcow2(d)->backing : NULL)
		if (stat(disk_path(d), &st) == 0 && st.st_dev == top.st_dev &&
		    st.st_ino == top.st_ino)
			return hull_err_setx(err, ELOOP,
					     "%s: new backing file '%s' would make a backing-file "
					     "loop (it is, or is backed by, %s)",
					     path, backing, path);
	return 0;
}

/*
 * The new backing file could not be locked: when that is because it is, or is backed by,
 * the image itself (which we hold open for writing), say it is a loop, not a lock error.
 * The probe shares everything and reads nothing. Returns -EBUSY (err untouched) otherwise.
 */
static int busy_or_loop(const char *path, const char *full, enum disk_format fmt,
			const char *backing, struct hull_err *err)
{
	cleanup_disk struct disk *probe = NULL;
	struct hull_err ignored = { 0 };

	if (disk_open(full, fmt, DISK_OPEN_RDONLY | DISK_OPEN_FORCE_SHARE, &probe, &ignored) < 0)
		return -EBUSY;
	return refuse_loop(path, probe, backing, err) < 0 ? -ELOOP : -EBUSY;
}

bool img_is_zero(const uint8_t *p, size_t n)
{
	/* every byte equals the one before it, and the first is 0: memcmp is vectorised */
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static void report(const struct img_progress *p, uint64_t done, uint64_t size)
{
	if (p)
		p->fn(p->opaque, size ? 100.0 * (double)done / (double)size : 100.0);
}

/* How far ahead of a copy's reads the source is prefetched (disk_prefetch). */
#define PREFETCH_AHEAD (16u << 20)

/* Keep the prefetched range PREFETCH_AHEAD past off; *done: how far it reaches already. */
static void prefetch_ahead(struct disk *s, uint64_t off, uint64_t *done)
{
	if (*done < off)
		*done = off;
	if (*done >= off + PREFETCH_AHEAD / 2)
		return;
	disk_prefetch(s, *done, off + PREFETCH_AHEAD - *done);
	*done = off + PREFETCH_AHEAD;
}

/* convert -c: cluster by cluster, one at a time. */
static int copy_compressed(struct disk *s, struct qcow2 *q, const struct img_progress *progress,
			   const char *what, struct hull_err *err)
{
	uint64_t size = disk_size(s), cs = q->cluster_size;
	cleanup_free uint8_t *buf = xmalloc(cs);

	for (uint64_t off = 0; off < size; off += cs) {
		uint64_t n = size - off < cs ? size - off : cs;
		int r;

		memset(buf, 0, cs);
		r = disk_read(s, off, buf, (size_t)n);
		if (r < 0)
			return img_io_err(err, r, s, &q->d, what);
		if (img_is_zero(buf, cs))
			continue;
		r = qcow2_write_compressed(q, off >> q->cluster_bits, buf);
		if (r < 0)
			return img_io_err(err, r, s, &q->d, what);
		report(progress, off + n, size);
	}
	return 0;
}

/*
 * Atomic outputs (issue 13): an image is built under a temporary name in the target's
 * directory (so relative backing names resolve alike and the rename is atomic) and renamed
 * over the target once complete and durable: a killed run never leaves a half-written image
 * under the final name. convert replaces an existing regular file (as qemu-img does);
 * create never does (qemu-img would).
 */
struct out_tmp {
	char *path; /* the temporary name, NULL once renamed */
};

static void out_tmp_cleanup(struct out_tmp *t)
{
	if (t->path)
		(void)unlink(t->path);
	free(t->path);
}

/* Refuse targets that are not regular files, and the source itself. */
static int out_check(const char *dst, const char *src, struct hull_err *err)
{
	struct stat st, sst;

	if (stat(dst, &st) < 0)
		return errno == ENOENT ? 0 : hull_err_set(err, errno, "%s", dst);
	if (!S_ISREG(st.st_mode))
		return hull_err_setx(err, EEXIST, "%s: exists and is not a regular file", dst);
	if (src && stat(src, &sst) == 0 && sst.st_dev == st.st_dev && sst.st_ino == st.st_ino)
		return hull_err_setx(err, EINVAL, "%s: target is the source image", dst);
	return 0;
}

static void out_tmp_init(struct out_tmp *t, const char *dst)
{
	cleanup_free char *copy = xstrdup(dst);
	cleanup_free char *dcopy = xstrdup(dst);
	const char *dir = dirname(copy), *base = basename(dcopy);

	t->path = xasprintf("%s/.%s.hull-tmp.%d", dir, base, (int)getpid());
	(void)unlink(t->path); /* a leftover of a killed run with the same pid */
}

/* Messages about the temporary file name the target the user gave. */
static int out_err(struct hull_err *err, const struct out_tmp *t, const char *dst)
{
	char *p = t->path ? strstr(err->msg, t->path) : NULL;

	if (p) {
		char buf[sizeof(err->msg)];

		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - err->msg), err->msg, dst,
			 p + strlen(t->path));
		memcpy(err->msg, buf, sizeof(buf));
	}
	return -err->code;
}

/* fsync the temporary file, rename it to dst (over it unless noreplace), fsync the dir; with
 * no_sync (-t unsafe) only the rename. */
static int out_commit(struct out_tmp *t, const char *dst, bool noreplace, bool no_sync,
		      struct hull_err *err)
{
	cleanup_close int fd = no_sync ? -1 : open(t->path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *copy = xstrdup(dst);
	cleanup_close int dfd = -1;

	if (!no_sync && (fd < 0 || fsync(fd) < 0))
		return hull_err_set(err, errno, "%s: sync", dst);
	if (renameat2(AT_FDCWD, t->path, AT_FDCWD, dst, noreplace ? RENAME_NOREPLACE : 0) < 0)
		return hull_err_set(err, errno, "create %s", dst);
	free(t->path);
	t->path = NULL;
	if (no_sync)
		return 0;
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return hull_err_set(err, errno, "%s: sync the directory", dst);
	return 0;
}

int img_create(const char *path, const struct disk_create_opts *opts, struct hull_err *err)
{
	__attribute__((cleanup(out_tmp_cleanup))) struct out_tmp t = { 0 };
	struct stat st;
	int r;

	if (lstat(path, &st) == 0)
		return hull_err_set(err, EEXIST, "create %s", path);
	out_tmp_init(&t, path);
	r = disk_create(t.path, opts, err);
	if (r == 0)
		r = out_commit(&t, path, true, false, err);
	return r < 0 ? out_err(err, &t, path) : 0;
}

int img_convert(const char *src, enum disk_format src_fmt, const char *dst,
		const struct disk_create_opts *opts, const struct img_convert_opts *co,
		struct hull_err *err)
{
	__attribute__((cleanup(out_tmp_cleanup))) struct out_tmp t = { 0 };
	cleanup_disk struct disk *s = NULL;
	cleanup_disk struct disk *d = NULL;
	struct disk_create_opts o = *opts;
	char what[512];
	int r;

	r = disk_open(src, src_fmt, img_ro_flags(), &s, err);
	if (r < 0)
		return r;
	if (o.format == DISK_FORMAT_AUTO)
		o.format = DISK_FORMAT_RAW; /* qemu-img convert's default output */
	if (co->compress && o.format != DISK_FORMAT_QCOW2)
		return hull_err_setx(err, ENOTSUP, "%s: compression needs -O qcow2", dst);
	o.size = disk_size(s);
	o.backing_file = NULL;
	r = out_check(dst, src, err);
	if (r < 0)
		return r;
	out_tmp_init(&t, dst);
	r = disk_create(t.path, &o, err);
	if (r == 0)
		r = disk_open(t.path, o.format, DISK_OPEN_NO_BACKING, &d, err);
	if (r < 0)
		return out_err(err, &t, dst);
	if (co->no_sync)
		disk_set_no_sync(d);
	snprintf(what, sizeof(what), "convert %s to %s", src, dst);
	if (co->compress)
		r = copy_compressed(s, to_qcow2(d), co->progress, what, err);
	else
		r = img_convert_copy(s, d, co, what, err);
	if (r == 0 && (r = disk_flush(d)) < 0)
		(void)img_io_err(err, r, s, d, what);
	if (r < 0)
		return out_err(err, &t, dst);
	disk_close(steal_ptr(&d));
	r = out_commit(&t, dst, false, co->no_sync, err);
	if (r == 0 && co->progress)
		co->progress->fn(co->progress->opaque, 100.0);
	return r;
}

/*
 * Give the image (opened read-write, with its backing chain) the size nsize: QCOW2 through
 * qcow2_resize (which zeroes a range a longer backing file would show), raw by truncating
 * the file and reopening it so that the disk sees the new size.
 */
static int resize_disk(struct disk **d, const char *path, enum disk_format fmt, unsigned flags,
		       uint64_t nsize, struct hull_err *err)
{
	int r;

	if (disk_get_format(*d) == DISK_FORMAT_QCOW2)
		return qcow2_resize(to_qcow2(*d), nsize, err);
	disk_close(*d);
	*d = NULL;
	if (nsize > INT64_MAX)
		return hull_err_setx(err, EFBIG, "%s: size %" PRIu64 " is too large", path, nsize);
	if (truncate(path, (off_t)nsize) < 0)
		return hull_err_set(err, errno, "resize %s", path);
	r = disk_open(path, fmt, flags, d, err);
	if (r == 0)
		r = disk_flush(*d);
	if (r < 0 && !err->code)
		return hull_err_set(err, -r, "resize %s", path);
	return r;
}

/* Copy what the top image itself holds (data and zeroes) into base, up to size. */
static int commit_copy(struct disk *top, struct disk *base, uint64_t size)
{
	cleanup_free uint8_t *buf = xmalloc(COPY_CHUNK);
	uint64_t off = 0, fetched = 0;
	int r = 0;

	while (off < size) {
		uint64_t n, host;
		unsigned flags, depth;

		prefetch_ahead(top, off, &fetched);
		r = disk_block_status(top, off, size - off < COPY_CHUNK ? size - off : COPY_CHUNK,
				      &n, &flags, &host, &depth);
		if (r < 0)
			return r;
		if (depth == 0 && (flags & DISK_STATUS_ALLOCATED)) {
			if (flags & DISK_STATUS_DATA) {
				r = disk_read(top, off, buf, (size_t)n);
				if (r == 0)
					r = disk_write(base, off, buf, (size_t)n);
			} else {
				r = disk_write_zeroes(base, off, n, 0);
			}
			if (r < 0)
				return r;
		}
		off += n;
	}
	/* durable in the base before the caller empties the top */
	return disk_flush(base);
}

/*
 * qemu-img commit: the base is opened with its own backing chain, so that clusters the top
 * covers only partly keep the base's backing bytes around them and zeroed ranges become
 * zero clusters (or explicit zeroes) rather than holes that show what is below. A base
 * shorter than the top is grown first (as QEMU's commit job does), which changes nothing
 * the top shows. The top is emptied only after the base is flushed.
 */
int img_commit(const char *path, enum disk_format fmt, bool keep, struct hull_err *err)
{
	cleanup_disk struct disk *top = NULL;
	cleanup_disk struct disk *base = NULL;
	cleanup_free char *base_path = NULL;
	enum disk_format base_fmt;
	struct qcow2 *q;
	int r;

	r = disk_open(path, fmt, 0, &top, err);
	if (r < 0)
		return r;
	if (disk_get_format(top) != DISK_FORMAT_QCOW2 || !to_qcow2(top)->backing)
		return hull_err_setx(err, EINVAL, "%s: image has no backing file to commit to", path);
	base_path = xstrdup(to_qcow2(top)->backing_path);
	base_fmt = disk_get_format(to_qcow2(top)->backing);
	/*
	 * The top's own read-only handle on the base would go stale as the base changes (its
	 * L1 table may move): reopen the top without its chain; only what the top itself
	 * holds is copied.
	 */
	disk_close(steal_ptr(&top));
	r = disk_open(path, fmt, DISK_OPEN_NO_BACKING, &top, err);
	if (r < 0)
		return r;
	q = to_qcow2(top);
	r = disk_open(base_path, base_fmt, 0, &base, err);
	if (r < 0)
		return hull_err_prefix(err, "commit %s", path);
	if (disk_size(base) < disk_size(top)) {
		r = resize_disk(&base, base_path, base_fmt, 0, disk_size(top), err);
		if (r < 0)
			return hull_err_prefix(err, "commit %s: grow the backing file", path);
	}
	r = commit_copy(top, base, disk_size(top));
	if (r < 0) {
		char what[512];

		snprintf(what, sizeof(what), "commit %s into %s", path, base_path);
		return img_io_err(err, r, base, top, what);
	}
	if (!keep) {
		r = qcow2_make_empty(q);
		if (r < 0)
			return hull_err_set(err, -r, "%s: empty the image after commit", path);
	}
	return 0;
}

int img_rebase(const char *path, enum disk_format fmt, const char *backing,
	       enum disk_format backing_fmt, bool unsafe, struct hull_err *err)
{
	cleanup_disk struct disk *top = NULL;
	cleanup_disk struct disk *nb = NULL;
	cleanup_free uint8_t *a = NULL;
	cleanup_free uint8_t *b = NULL;
	struct qcow2 *q;
	const char *fname = NULL;
	uint64_t size;
	int r;

	if (backing && !*backing)
		backing = NULL;
	r = disk_open(path, fmt, unsafe ? DISK_OPEN_NO_BACKING : 0, &top, err);
	if (r < 0)
		return r;
	if (disk_get_format(top) != DISK_FORMAT_QCOW2)
		return hull_err_setx(err, ENOTSUP, "%s: only qcow2 images have a backing file", path);
	q = to_qcow2(top);
	if (backing) {
		cleanup_free char *copy = xstrdup(path);
		cleanup_free char *full = path_is_absolute(backing)
						  ? xstrdup(backing)
						  : path_join(dirname(copy), backing);

		r = disk_open(full, backing_fmt, DISK_OPEN_RDONLY, &nb, err);
		if (r == -EBUSY && busy_or_loop(path, full, backing_fmt, backing, err) == -ELOOP)
			return -ELOOP;
		if (r < 0)
			return hull_err_prefix(err, "%s: new backing file", path);
		fname = disk_format_name(disk_get_format(nb));
		r = refuse_loop(path, nb, backing, err);
		if (r < 0)
			return r;
	}
	if (!unsafe) {
		/* copy into the image every cluster whose content the new chain would change */
		size = disk_size(top);
		a = xmalloc(q->cluster_size);
		b = xmalloc(q->cluster_size);
		for (uint64_t off = 0; off < size; off += q->cluster_size) {
			uint64_t n = size - off < q->cluster_size ? size - off : q->cluster_size;
			uint64_t got, host, bn = 0;
			unsigned flags, depth;

			r = disk_block_status(top, off, n, &got, &flags, &host, &depth);
			if (r < 0)
				return hull_err_set(err, -r, "%s: rebase", path);
			if (depth == 0 && (flags & DISK_STATUS_ALLOCATED) && got == n)
				continue;
			r = disk_read(top, off, a, (size_t)n);
			memset(b, 0, (size_t)n);
			if (nb && off < disk_size(nb)) {
				bn = disk_size(nb) - off < n ? disk_size(nb) - off : n;
				if (r == 0)
					r = disk_read(nb, off, b, (size_t)bn);
			}
			if (r == 0 && memcmp(a, b, (size_t)n) != 0)
				r = disk_write(top, off, a, (size_t)n);
			if (r < 0) {
				char what[512];

				snprintf(what, sizeof(what), "%s: rebase", path);
				return img_io_err(err, r, top, nb, what);
			}
		}
	}
	return qcow2_set_backing(q, backing, fname, err);
}

int img_resize(const char *path, enum disk_format fmt, const char *size, bool shrink,
	       struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	uint64_t v, cur, nsize;
	int r;

	r = img_parse_size(size + (*size == '+' || *size == '-'), &v);
	if (r < 0)
		return hull_err_setx(err, EINVAL, "invalid size '%s'", size);
	/* with the backing chain: growing must know whether a longer backing file shows */
	r = disk_open(path, fmt, 0, &d, err);
	if (r < 0)
		return r;
	cur = disk_size(d);
	if (*size == '+')
		nsize = cur + v;
	else if (*size == '-')
		nsize = v >= cur ? 0 : cur - v;
	else
		nsize = v;
	if (nsize == 0 || (*size == '+' && nsize < cur))
		return hull_err_setx(err, EINVAL, "%s: new image size must be positive (current "
				     "size %" PRIu64 ", requested %s)", path, cur, size);
	if (nsize < cur && !shrink)
		return hull_err_setx(err, EINVAL, "%s: shrinking from %" PRIu64 " to %" PRIu64
				     " bytes discards data: use --shrink to confirm", path, cur,
				     nsize);
	return resize_disk(&d, path, fmt, 0, nsize, err);
}
