#pragma once
/*
 * Block devices: one interface over raw files and QCOW2 images (docs/qcow2.md).
 *
 * Control plane: disk_open() takes a struct hull_err and may allocate and log at debug level.
 * Data plane: every other function returns 0 (or a positive count where documented) or a bare
 * -errno, never allocates per request beyond the back end's bounded caches, and never logs;
 * the caller (virtio-blk, `hull img`) maps the errno to its own status.
 *
 * Offsets and lengths are in bytes and need no alignment. A request that reaches past
 * disk_size() fails with -EINVAL and touches nothing.
 *
 * Threads: every call on one struct disk is serialised by a lock inside it, so a device may
 * call from several threads; requests on one disk do not run in parallel.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/error.h"

struct disk;

enum disk_format {
	DISK_FORMAT_AUTO,  /* probe: QCOW2 magic, else raw */
	DISK_FORMAT_RAW,
	DISK_FORMAT_QCOW2,
	DISK_FORMAT_COUNT,
};

/* disk_open() flags */
#define DISK_OPEN_RDONLY (1u << 0)     /* open read-only; writes fail with -EROFS */
#define DISK_OPEN_NO_BACKING (1u << 1) /* QCOW2: do not open the backing file (reads of
				        * unallocated clusters return zeroes) */
#define DISK_OPEN_NO_REPAIR (1u << 2)  /* QCOW2: do not repair refcounts of a dirty image
				        * (for `hull img check`, which reports instead) */

#define DISK_OPEN_FORCE_SHARE (1u << 3) /* with RDONLY: share every permission with other
					* users (qemu-img -U), so that an image a running VM
					* writes can still be inspected */

/* disk_write_zeroes() flags */
#define DISK_ZEROES_MAY_UNMAP (1u << 0) /* the range may be deallocated if it then reads as 0 */

/* disk_block_status() flags */
#define DISK_STATUS_DATA (1u << 0)      /* allocated in this image (host_offset valid) */
#define DISK_STATUS_ZERO (1u << 1)      /* reads as zeroes */
#define DISK_STATUS_BACKING (1u << 2)   /* comes from the backing chain (depth in ret_depth) */
#define DISK_STATUS_COMPRESSED (1u << 3)
#define DISK_STATUS_ALLOCATED (1u << 4) /* allocated (data or a zero flag) at ret_depth:
					 * qemu-img map's "present" */
#define DISK_STATUS_OFFSET_VALID (1u << 5) /* ret_host_offset is meaningful */

/* Parse "raw" / "qcow2"; returns 0 or -EINVAL. */
int disk_format_parse(const char *name, enum disk_format *ret);
/* "raw", "qcow2", "auto" */
const char *disk_format_name(enum disk_format fmt);

/*
 * Open path as fmt (DISK_FORMAT_AUTO probes the content). QCOW2 images open their backing
 * chain read-only, with relative backing names resolved against the image's directory.
 * On success *ret owns the disk (free with disk_close). Returns 0 or -errno with err set to
 * one line naming the file and what is wrong with it.
 * Every file opened (backing files too) takes QEMU's image locks (disk-lock.c): -EBUSY when
 * another process (hull or QEMU) writes it, or, for a writer, reads it without sharing.
 */
int disk_open(const char *path, enum disk_format fmt, unsigned flags, struct disk **ret,
	      struct hull_err *err);

/* Flushes (errors ignored: call disk_flush first to see them) and frees. Accepts NULL. */
void disk_close(struct disk *d);

/*
 * A live migration's hand-over (src/vmm/migrate-disks.c): unlock gives up the image's lock
 * bytes while the file stays open (flush first), so that another process may open it for
 * writing; relock takes them again, or fails with -EBUSY and err when another process holds
 * the image now (then nothing is held). 0 or -errno; no file is opened (the VMM is confined).
 */
int disk_unlock(struct disk *d);
int disk_relock(struct disk *d, struct hull_err *err);
uint64_t disk_size(const struct disk *d);
/*
 * Re-read the size from the file (a raw file grown or shrunk on the host: fstat, or the block
 * device's size) and make it disk_size(). A QCOW2 image's size is its header's, which nobody
 * changes while it is open (the image locks keep `hull img resize` out): unchanged. 0 or -errno.
 */
int disk_refresh_size(struct disk *d);
/*
 * Grow the disk to new_size bytes (a multiple of 512): a raw file is extended, a QCOW2 image's
 * header gets the new virtual size (what `hull img resize` does, here on a disk already open,
 * so that the process holding the image's write lock can grow it). Never shrinks. The caller
 * keeps other requests on d out while it runs. 0 or -errno with err naming the file.
 */
int disk_grow(struct disk *d, uint64_t new_size, struct hull_err *err);
enum disk_format disk_get_format(const struct disk *d);
bool disk_is_read_only(const struct disk *d);
/* The path it was opened with (owned by the disk). */
const char *disk_path(const struct disk *d);
/* What made the last failed request fail when the image's metadata was the cause (names
 * the table and entry), or NULL. */
const char *disk_error_detail(const struct disk *d);

/* Read/write exactly len bytes at off. 0 or -errno (-EINVAL out of range, -EROFS, -EIO...). */
int disk_read(struct disk *d, uint64_t off, void *buf, size_t len);
int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len);
/* The same with a scatter-gather list (iovcnt <= IOV_MAX). */
int disk_readv(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt);
int disk_writev(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt);

/*
 * Make every write acknowledged before this call durable (metadata included), then return 0
 * or -errno. After a failed flush the state of unflushed writes is unknown.
 */
int disk_flush(struct disk *d);

/*
 * Discard: the range may afterwards read as zeroes or as its old content (raw files punch a
 * hole; QCOW2 deallocates whole clusters and ignores partial ones). 0 or -errno.
 */
int disk_discard(struct disk *d, uint64_t off, uint64_t len);

/* Make the range read as zeroes. 0 or -errno. */
int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, unsigned flags);

/*
 * Describe the range starting at off: on success *ret_len (> 0, <= len) bytes from off share
 * *ret_flags (DISK_STATUS_*), *ret_host_offset (the offset in the file holding the data of
 * `off` when DISK_STATUS_DATA and not compressed, else 0) and *ret_depth (0 for this image,
 * n for the n-th backing file). Returns 0 or -errno.
 */
int disk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *ret_len,
		      unsigned *ret_flags, uint64_t *ret_host_offset, unsigned *ret_depth);

/*
 * Ask the kernel to start reading what [off, off+len) maps to (in this image's file or down
 * the backing chain) into the page cache, and return at once: a sequential copy calls it
 * ahead of its reads, so that a cold chain is read with many requests in flight instead of
 * one at a time. Best effort: no error, out-of-range parts ignored.
 */
void disk_prefetch(struct disk *d, uint64_t off, uint64_t len);

/*
 * Ask the kernel to start writing the image file's dirty pages to the device, and return
 * without waiting for them (sync_file_range's SYNC_FILE_RANGE_WRITE): a long copy calls it
 * as it goes, so that its final disk_flush has little left to wait for and the device
 * writes while the copy reads. Best effort: no error, nothing made durable. Takes no lock
 * (it changes nothing the disk holds), so a copy's other threads keep writing meanwhile.
 */
void disk_start_writeback(struct disk *d);
/*
 * qemu's cache=unsafe (`hull img convert -t unsafe`): from now on disk_flush writes the
 * back end's caches to the file but never waits for the device (no fdatasync), and
 * disk_start_writeback does nothing. For a scratch copy a crash may leave incomplete.
 */
void disk_set_no_sync(struct disk *d);

/* Options for disk_create(); zero means the default. */
struct disk_create_opts {
	enum disk_format format;         /* RAW or QCOW2 (AUTO means QCOW2) */
	uint64_t size;                   /* virtual size in bytes; 0 with a backing file: its size */
	const char *backing_file;        /* QCOW2 only: stored as given (relative to the image) */
	enum disk_format backing_format; /* AUTO: probe it (and record nothing) */
	unsigned cluster_bits;           /* QCOW2: 9..21, default 16 (64 KiB) */
	unsigned refcount_bits;          /* QCOW2: 1..64, a power of two, default 16 */
	bool compat_v2;                  /* QCOW2: version 2 ("compat=0.10") instead of 3 */
	bool lazy_refcounts;             /* QCOW2 v3 only */
};

/*
 * Create a new image at path (it must not exist). Returns 0 or -errno with err set; on
 * failure no file is left behind.
 */
int disk_create(const char *path, const struct disk_create_opts *opts, struct hull_err *err);

static inline void disk_close_cleanup(struct disk **d)
{
	if (*d)
		disk_close(*d);
}
#define cleanup_disk __attribute__((cleanup(disk_close_cleanup)))
