/* The raw back end: the file (or block device) is the disk, byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/disk-internal.h"

struct raw_disk {
	struct disk d; /* first: struct disk * and struct raw_disk * convert */
	int fd;
	bool is_blockdev;
};

static struct raw_disk *to_raw(struct disk *d)
{
	return (struct raw_disk *)d;
}

static int raw_readv(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return disk_fd_rw(to_raw(d)->fd, off, iov, iovcnt, false);
}

static int raw_writev(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return disk_fd_rw(to_raw(d)->fd, off, iov, iovcnt, true);
}

static void raw_prefetch(struct disk *d, uint64_t off, uint64_t len)
{
	(void)posix_fadvise(to_raw(d)->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static void raw_start_writeback(struct disk *d)
{
	(void)sync_file_range(to_raw(d)->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

static int raw_flush(struct disk *d)
{
	if (d->no_sync)
		return 0;
	if (fdatasync(to_raw(d)->fd) < 0)
		return -errno;
	return 0;
}

/* Write zeroes by hand, for files whose file system cannot punch or zero ranges. */
static int raw_write_zero_buf(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];

	while (len > 0) {
		size_t n = len > sizeof(zero) ? sizeof(zero) : (size_t)len;
		struct iovec iov = { .iov_base = (void *)zero, .iov_len = n };
		int r = disk_fd_rw(fd, off, &iov, 1, true);

		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int raw_discard(struct disk *d, uint64_t off, uint64_t len)
{
	struct raw_disk *rd = to_raw(d);

	if (rd->is_blockdev) {
		uint64_t range[2] = { off, len };

		/* Discard is advisory: a device without it simply keeps the data. */
		if (ioctl(rd->fd, BLKDISCARD, range) < 0 && errno != EOPNOTSUPP)
			return -errno;
		return 0;
	}
	if (fallocate(rd->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) < 0 && errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

static int raw_write_zeroes(struct disk *d, uint64_t off, uint64_t len, unsigned flags)
{
	struct raw_disk *rd = to_raw(d);

	if (!rd->is_blockdev) {
		if ((flags & DISK_ZEROES_MAY_UNMAP) &&
		    fallocate(rd->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len) == 0)
			return 0;
		if (fallocate(rd->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len) == 0)
			return 0;
	} else {
		uint64_t range[2] = { off, len };

		if (ioctl(rd->fd, BLKZEROOUT, range) == 0)
			return 0;
	}
	return raw_write_zero_buf(rd->fd, off, len);
}

static int raw_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *ret_len,
			    unsigned *ret_flags, uint64_t *ret_host_offset, unsigned *ret_depth)
{
	struct raw_disk *rd = to_raw(d);
	off_t data, hole;

	*ret_host_offset = off;
	*ret_flags = DISK_STATUS_DATA | DISK_STATUS_ALLOCATED | DISK_STATUS_OFFSET_VALID;
	*ret_len = len;
	if (rd->is_blockdev)
		return 0;
	data = lseek(rd->fd, (off_t)off, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO) { /* a hole up to the end of the file */
			*ret_flags = DISK_STATUS_ZERO | DISK_STATUS_ALLOCATED | DISK_STATUS_OFFSET_VALID;
			return 0;
		}
		return 0; /* no SEEK_DATA: everything is data */
	}
	if ((uint64_t)data > off) {
		*ret_flags = DISK_STATUS_ZERO | DISK_STATUS_ALLOCATED | DISK_STATUS_OFFSET_VALID;
		if ((uint64_t)data - off < len)
			*ret_len = (uint64_t)data - off;
		return 0;
	}
	hole = lseek(rd->fd, (off_t)off, SEEK_HOLE);
	if (hole > (off_t)off && (uint64_t)hole - off < len)
		*ret_len = (uint64_t)hole - off;
	return 0;
}

static void raw_free(struct disk *d)
{
	struct raw_disk *rd = to_raw(d);

	if (rd->fd >= 0)
		(void)close(rd->fd);
	disk_fini_common(d);
	free(rd);
}

static int raw_refresh_size(struct disk *d, uint64_t *ret_size)
{
	struct raw_disk *rd = to_raw(d);
	struct stat st;

	if (rd->is_blockdev)
		return ioctl(rd->fd, BLKGETSIZE64, ret_size) < 0 ? -errno : 0;
	if (fstat(rd->fd, &st) < 0)
		return -errno;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

static int raw_grow(struct disk *d, uint64_t new_size, struct hull_err *err)
{
	struct raw_disk *rd = to_raw(d);
	int r = 0;

	if (rd->is_blockdev)
		return hull_err_setx(err, ENOTSUP, "%s: a block device's size is not hull's to change",
				     d->path);
	if (new_size > INT64_MAX)
		return hull_err_setx(err, EFBIG, "%s: size %" PRIu64 " is too large", d->path,
				     new_size);
	pthread_mutex_lock(&d->lock);
	if (ftruncate(rd->fd, (off_t)new_size) < 0)
		r = hull_err_set(err, errno, "%s: grow to %" PRIu64 " bytes", d->path, new_size);
	else
		d->size = new_size;
	pthread_mutex_unlock(&d->lock);
	return r;
}

static const struct disk_ops raw_ops = {
	.name = "raw",
	.readv = raw_readv,
	.writev = raw_writev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.prefetch = raw_prefetch,
	.start_writeback = raw_start_writeback,
	.block_status = raw_block_status,
	.refresh_size = raw_refresh_size,
	.grow = raw_grow,
	.free = raw_free,
};

int raw_open_fd(const char *path, int fd, bool read_only, struct disk **ret,
		struct hull_err *err)
{
	cleanup_close int ofd = fd;
	struct raw_disk *rd;
	struct stat st;
	uint64_t size;

	if (fstat(ofd, &st) < 0)
		return hull_err_set(err, errno, "stat %s", path);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(ofd, BLKGETSIZE64, &size) < 0)
			return hull_err_set(err, errno, "%s: get device size", path);
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		return hull_err_setx(err, EINVAL, "%s: not a regular file or block device", path);
	}
	rd = xcalloc(1, sizeof(*rd));
	disk_init_common(&rd->d, &raw_ops, DISK_FORMAT_RAW, path, read_only);
	rd->fd = steal_fd(&ofd);
	rd->is_blockdev = S_ISBLK(st.st_mode);
	rd->d.size = size;
	*ret = &rd->d;
	return 0;
}
