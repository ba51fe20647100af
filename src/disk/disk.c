/*
 * The block-device front: argument checks, the per-disk lock, format probing and dispatch to
 * the back ends (raw.c, qcow2.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "disk/disk-internal.h"
#include "disk/qcow2-format.h"

static const char *const format_names[DISK_FORMAT_COUNT] = {
	[DISK_FORMAT_AUTO] = "auto",
	[DISK_FORMAT_RAW] = "raw",
	[DISK_FORMAT_QCOW2] = "qcow2",
};

int disk_format_parse(const char *name, enum disk_format *ret)
{
	for (size_t i = 0; i < DISK_FORMAT_COUNT; i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*ret = (enum disk_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *disk_format_name(enum disk_format fmt)
{
	if ((unsigned)fmt >= DISK_FORMAT_COUNT)
		return "unknown";
	return format_names[fmt];
}

void disk_init_common(struct disk *d, const struct disk_ops *ops, enum disk_format fmt,
		      const char *path, bool read_only)
{
	d->ops = ops;
	d->format = fmt;
	d->path = xstrdup(path);
	d->read_only = read_only;
	(void)pthread_mutex_init(&d->lock, NULL);
}

void disk_fini_common(struct disk *d)
{
	free(d->path);
	d->path = NULL;
	(void)pthread_mutex_destroy(&d->lock);
}

int64_t iov_total(const struct iovec *iov, int iovcnt)
{
	uint64_t total = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (uint64_t)INT64_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (int64_t)total;
}

static int probe_format(const char *path, int fd, enum disk_format *ret, struct hull_err *err)
{
	uint8_t magic[4];
	ssize_t n = pread(fd, magic, sizeof(magic), 0);

	if (n < 0)
		return hull_err_set(err, errno, "%s: read", path);
	if (n == (ssize_t)sizeof(magic) && be32toh(*(const uint32_t *)(const void *)magic) ==
						   QCOW2_MAGIC)
		*ret = DISK_FORMAT_QCOW2;
	else
		*ret = DISK_FORMAT_RAW;
	return 0;
}

int disk_open_chain(const char *path, enum disk_format fmt, unsigned flags,
		    const struct disk_chain *chain, struct disk **ret, struct hull_err *err)
{
	cleanup_close int fd = -1;
	bool ro = flags & DISK_OPEN_RDONLY;
	unsigned perm, shared;
	struct stat st;
	int r;

	if ((unsigned)fmt >= DISK_FORMAT_COUNT)
		return hull_err_setx(err, EINVAL, "%s: unknown disk format %d", path, (int)fmt);
	/* O_NONBLOCK: a FIFO named as a (backing) file must not hang the open; only regular
	 * files and block devices hold disks */
	fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "open %s", path);
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return hull_err_setx(err, EINVAL, "%s: not a regular file or block device", path);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return hull_err_set(err, errno, "%s", path);
	disk_lock_perms(!ro, flags & DISK_OPEN_FORCE_SHARE, &perm, &shared);
	r = disk_lock_fd(fd, path, perm, shared, err);
	if (r < 0)
		return r;
	if (fmt == DISK_FORMAT_AUTO) {
		r = probe_format(path, fd, &fmt, err);
		if (r < 0)
			return r;
		log_debug("%s: probed format %s", path, disk_format_name(fmt));
	}
	switch (fmt) {
	case DISK_FORMAT_RAW:
		r = raw_open_fd(path, fd, ro, ret, err);
		break;
	case DISK_FORMAT_QCOW2:
		r = qcow2_open_fd(path, fd, flags, chain, ret, err);
		break;
	case DISK_FORMAT_AUTO:
	case DISK_FORMAT_COUNT:
		return hull_err_setx(err, EINVAL, "%s: unknown disk format", path);
	}
	if (r == 0) { /* the back end owns fd now, and keeps it as long as the disk */
		(*ret)->lock_fd = fd;
		(*ret)->lock_perm = perm;
		(*ret)->lock_shared = shared;
	}
	fd = -1; /* the back end's on success and on failure */
	return r;
}

int disk_open(const char *path, enum disk_format fmt, unsigned flags, struct disk **ret,
	      struct hull_err *err)
{
	return disk_open_chain(path, fmt, flags, NULL, ret, err);
}

int disk_create(const char *path, const struct disk_create_opts *opts, struct hull_err *err)
{
	cleanup_close int fd = -1;

	switch (opts->format) {
	case DISK_FORMAT_RAW:
		if (opts->backing_file)
			return hull_err_setx(err, EINVAL,
					     "%s: raw images cannot have a backing file", path);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return hull_err_set(err, errno, "create %s", path);
		if (opts->size > INT64_MAX || ftruncate(fd, (off_t)opts->size) < 0) {
			int saved = opts->size > INT64_MAX ? EFBIG : errno;

			(void)unlink(path);
			return hull_err_set(err, saved, "%s: set size", path);
		}
		return 0;
	case DISK_FORMAT_AUTO:
	case DISK_FORMAT_QCOW2:
		return qcow2_create(path, opts, err);
	case DISK_FORMAT_COUNT:
		break;
	}
	return hull_err_setx(err, EINVAL, "%s: unknown disk format", path);
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (!d->read_only)
		(void)d->ops->flush(d);
	d->ops->free(d);
}

int disk_unlock(struct disk *d)
{
	return disk_lock_fd(d->lock_fd, d->path, 0, DISK_PERM_ALL, NULL);
}

int disk_relock(struct disk *d, struct hull_err *err)
{
	int r = disk_lock_fd(d->lock_fd, d->path, d->lock_perm, d->lock_shared, err);

	if (r < 0) /* not half-taken: another process holds it */
		(void)disk_unlock(d);
	return r;
}

uint64_t disk_size(const struct disk *d)
{
	return d->size;
}

int disk_refresh_size(struct disk *d)
{
	uint64_t size;
	int r;

	if (!d->ops->refresh_size)
		return 0;
	pthread_mutex_lock(&d->lock);
	r = d->ops->refresh_size(d, &size);
	if (r == 0)
		d->size = size;
	pthread_mutex_unlock(&d->lock);
	return r;
}

int disk_grow(struct disk *d, uint64_t new_size, struct hull_err *err)
{
	if (d->read_only)
		return hull_err_setx(err, EROFS, "%s: opened read-only", d->path);
	if (new_size % 512)
		return hull_err_setx(err, EINVAL, "%s: %llu bytes is not a multiple of 512", d->path,
				     (unsigned long long)new_size);
	if (new_size < d->size)
		return hull_err_setx(err, EINVAL,
				     "%s: %llu bytes is less than its size (%llu): it only grows",
				     d->path, (unsigned long long)new_size,
				     (unsigned long long)d->size);
	if (new_size == d->size)
		return 0;
	if (!d->ops->grow)
		return hull_err_setx(err, ENOTSUP, "%s: cannot grow a %s disk", d->path,
				     d->ops->name);
	return d->ops->grow(d, new_size, err);
}

enum disk_format disk_get_format(const struct disk *d)
{
	return d->format;
}

bool disk_is_read_only(const struct disk *d)
{
	return d->read_only;
}

const char *disk_error_detail(const struct disk *d)
{
	return d && d->detail[0] ? d->detail : NULL;
}

const char *disk_path(const struct disk *d)
{
	return d->path;
}

/* preadv/pwritev until done; a read past the end of a shrunken file yields zeroes. */
int disk_fd_rw(int fd, uint64_t off, const struct iovec *iov, int iovcnt, bool write)
{
	struct iovec local[64];
	const struct iovec *cur = iov;
	int cnt = iovcnt;

	while (cnt > 0) {
		int n = cnt > (int)ARRAY_SIZE(local) ? (int)ARRAY_SIZE(local) : cnt;
		ssize_t done;

		memcpy(local, cur, (size_t)n * sizeof(*local));
		for (int i = 0; i < n;) {
			if (write)
				done = pwritev(fd, local + i, n - i, (off_t)off);
			else
				done = preadv(fd, local + i, n - i, (off_t)off);
			if (done < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (done == 0) {
				if (write)
					return -EIO;
				/* EOF: the rest reads as zeroes */
				for (; i < n; i++)
					memset(local[i].iov_base, 0, local[i].iov_len);
				break;
			}
			off += (uint64_t)done;
			while (i < n && (size_t)done >= local[i].iov_len) {
				done -= (ssize_t)local[i].iov_len;
				i++;
			}
			if (i < n) {
				local[i].iov_base = (char *)local[i].iov_base + done;
				local[i].iov_len -= (size_t)done;
			}
		}
		cur += n;
		cnt -= n;
	}
	return 0;
}

static int check_range(const struct disk *d, uint64_t off, uint64_t len)
{
	if (off > d->size || len > d->size - off)
		return -EINVAL;
	return 0;
}

int disk_readv(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
	int64_t len = iov_total(iov, iovcnt);
	int r;

	if (len < 0)
		return (int)len;
	r = check_range(d, off, (uint64_t)len);
	if (r < 0 || len == 0)
		return r;
	(void)pthread_mutex_lock(&d->lock);
	d->detail[0] = 0;
	r = d->ops->readv(d, off, iov, iovcnt);
	(void)pthread_mutex_unlock(&d->lock);
	return r;
}

int disk_writev(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
	int64_t len = iov_total(iov, iovcnt);
	int r;

	if (len < 0)
		return (int)len;
	if (d->read_only)
		return -EROFS;
	r = check_range(d, off, (uint64_t)len);
	if (r < 0 || len == 0)
		return r;
	(void)pthread_mutex_lock(&d->lock);
	d->detail[0] = 0;
	r = d->ops->writev(d, off, iov, iovcnt);
	(void)pthread_mutex_unlock(&d->lock);
	return r;
}

int disk_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return disk_readv(d, off, &iov, 1);
}

int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return disk_writev(d, off, &iov, 1);
}

int disk_flush(struct disk *d)
{
	int r;

	if (d->read_only)
		return 0;
	(void)pthread_mutex_lock(&d->lock);
	d->detail[0] = 0;
	r = d->ops->flush(d);
	(void)pthread_mutex_unlock(&d->lock);
	return r;
}

int disk_discard(struct disk *d, uint64_t off, uint64_t len)
{
	int r;

	if (d->read_only)
		return -EROFS;
	r = check_range(d, off, len);
	if (r < 0 || len == 0)
		return r;
	(void)pthread_mutex_lock(&d->lock);
	d->detail[0] = 0;
	r = d->ops->discard(d, off, len);
	(void)pthread_mutex_unlock(&d->lock);
	return r;
}

int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, unsigned flags)
{
	int r;

	if (d->read_only)
		return -EROFS;
	r = check_range(d, off, len);
	if (r < 0 || len == 0)
		return r;
	(void)pthread_mutex_lock(&d->lock);
	d->detail[0] = 0;
	r = d->ops->write_zeroes(d, off, len, flags);
	(void)pthread_mutex_unlock(&d->lock);
	return r;
}

void disk_prefetch(struct disk *d, uint64_t off, uint64_t len)
{
	if (!d->ops->prefetch || off >= d->size)
		return;
	if (len > d->size - off)
		len = d->size - off;
	(void)pthread_mutex_lock(&d->lock);
	d->ops->prefetch(d, off, len);
	(void)pthread_mutex_unlock(&d->lock);
}

void disk_start_writeback(struct disk *d)
{
	if (d->ops->start_writeback && !d->read_only && !d->no_sync)
		d->ops->start_writeback(d);
}

void disk_set_no_sync(struct disk *d)
{
	d->no_sync = true;
}

int disk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *ret_len,
		      unsigned *ret_flags, uint64_t *ret_host_offset, unsigned *ret_depth)
{
	int r;

	r = check_range(d, off, len);
	if (r < 0)
		return r;
	if (len == 0)
		return -EINVAL;
	*ret_host_offset = 0;
	*ret_depth = 0;
	(void)pthread_mutex_lock(&d->lock);
	r = d->ops->block_status(d, off, len, ret_len, ret_flags, ret_host_offset, ret_depth);
	(void)pthread_mutex_unlock(&d->lock);
	return r;
}
