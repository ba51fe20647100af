#pragma once
/* What the back ends (raw.c, qcow2*.c) share with disk.c; not for users of disk.h. */
#include <pthread.h>
#include <sys/types.h>

#include "disk/disk.h"

struct disk_ops {
	const char *name;
	/* Requests arrive range-checked, with the disk's lock held. */
	int (*readv)(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*writev)(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*flush)(struct disk *d);
	int (*discard)(struct disk *d, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct disk *d, uint64_t off, uint64_t len, unsigned flags);
	int (*block_status)(struct disk *d, uint64_t off, uint64_t len, uint64_t *ret_len,
			    unsigned *ret_flags, uint64_t *ret_host_offset, unsigned *ret_depth);
	/* Optional: start reading the file ranges behind [off, off+len) into the page cache,
	 * without waiting (best effort, no error). */
	void (*prefetch)(struct disk *d, uint64_t off, uint64_t len);
	/* Optional: start writing the file's dirty pages (disk_start_writeback), no lock. */
	void (*start_writeback)(struct disk *d);
	/* Optional: make the disk new_size bytes (larger; checked), without the disk's lock. */
	int (*grow)(struct disk *d, uint64_t new_size, struct hull_err *err);
	/* Optional: the size as the file says now (raw: grown or shrunk on the host), or -errno. */
	int (*refresh_size)(struct disk *d, uint64_t *ret_size);
	/* Frees the back end's state and the struct disk that starts it. */
	void (*free)(struct disk *d);
};

/* Every back end's state starts with this. */
struct disk {
	const struct disk_ops *ops;
	enum disk_format format;
	uint64_t size;
	bool read_only;
	bool no_sync; /* qemu's cache=unsafe: a flush writes caches out but never syncs */
	char *path;
	pthread_mutex_t lock;
	/* the image file's fd and the lock bytes held on it (disk_unlock, disk_relock) */
	int lock_fd;
	unsigned lock_perm, lock_shared;
	/* why the last request failed when bad metadata was the cause ("L2 table at 0x..,
	 * entry N: ..."), else empty: the data path cannot fill a struct hull_err */
	char detail[160];
};

/* Fill the common part (path copied). */
void disk_init_common(struct disk *d, const struct disk_ops *ops, enum disk_format fmt,
		      const char *path, bool read_only);
/* Release the common part (for the back ends' free). */
void disk_fini_common(struct disk *d);

/* Total length of an iovec array, or -EINVAL when it overflows or iovcnt is out of range. */
int64_t iov_total(const struct iovec *iov, int iovcnt);
/* preadv/pwritev the whole vector at off (any count); reads past EOF give zeroes. Returns 0
 * or -errno (-EIO for a write that makes no progress). */
int disk_fd_rw(int fd, uint64_t off, const struct iovec *iov, int iovcnt, bool write);

/* QEMU 7.2's permission bits (BLK_PERM_*) and its lock byte offsets (file-posix.c). */
enum {
	DISK_PERM_CONSISTENT_READ = 1u << 0,
	DISK_PERM_WRITE = 1u << 1,
	DISK_PERM_WRITE_UNCHANGED = 1u << 2,
	DISK_PERM_RESIZE = 1u << 3,
	DISK_PERM_GRAPH_MOD = 1u << 4,
	DISK_PERM_ALL = (1u << 5) - 1,
	DISK_PERM_COUNT = 5,
	DISK_LOCK_PERM_BASE = 100,
	DISK_LOCK_SHARED_BASE = 200,
};
/* The permissions a read-only or read-write open holds and shares, as QEMU's. */
void disk_lock_perms(bool write, bool force_share, unsigned *ret_perm, unsigned *ret_shared);
/* Take QEMU's lock bytes for perm/shared on fd and test them against other users: 0, or
 * -EBUSY with err naming the file and the permission another process holds or refuses. */
int disk_lock_fd(int fd, const char *path, unsigned perm, unsigned shared,
		 struct hull_err *err);

/* Back ends. fd is owned by the callee on success and on failure. */
int raw_open_fd(const char *path, int fd, bool read_only, struct disk **ret,
		struct hull_err *err);
/* The files already open in a backing chain, innermost first: loop detection. */
struct disk_chain {
	dev_t dev;
	ino_t ino;
	unsigned depth;
	const struct disk_chain *next;
};
int qcow2_open_fd(const char *path, int fd, unsigned flags, const struct disk_chain *chain,
		  struct disk **ret, struct hull_err *err);
int qcow2_create(const char *path, const struct disk_create_opts *opts, struct hull_err *err);

/* Backing chains deeper than this are refused (and catch loops that evade the name check). */
#define DISK_MAX_BACKING_DEPTH 64
/* disk_open for a backing file: chain lists the images that lead to it (NULL at the top). */
int disk_open_chain(const char *path, enum disk_format fmt, unsigned flags,
		    const struct disk_chain *chain, struct disk **ret, struct hull_err *err);
