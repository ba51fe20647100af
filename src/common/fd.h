#pragma once
/* File-descriptor helpers. All return 0 (or a count) on success and -errno on failure. */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* write()/read() the whole buffer, retrying on EINTR and short counts. */
int fd_write_all(int fd, const void *buf, size_t len);
/* Reads up to len bytes; returns the count read (short only at EOF) or -errno. */
ssize_t fd_read_all(int fd, void *buf, size_t len);

/*
 * Read a whole file at dirfd/path (AT_FDCWD allowed) into a NUL-terminated heap buffer.
 * Files larger than max_size fail with -EFBIG: never trust a file's size (STYLE.md).
 */
int fd_read_file_at(int dirfd, const char *path, size_t max_size, char **ret_buf,
		    size_t *ret_len);

/*
 * Write a file atomically: write to a temporary name in the same directory, fsync, rename
 * over path. A crash leaves either the old or the new content, never a half-written file.
 */
int fd_write_file_atomic_at(int dirfd, const char *path, const void *buf, size_t len,
			    unsigned mode);

/*
 * The same with choices: FD_REPLACE_SYNC fsyncs before the rename (fd_write_file_atomic_at
 * always does); without it a crash may leave the new name with lost content, which suits
 * files that do not outlive a reboot (container records). The file gets exactly mode, the
 * umask left out. Returns 0 or -errno; the temporary name is removed on failure.
 */
#define FD_REPLACE_SYNC 1u
int fd_replace_file_at(int dirfd, const char *path, const void *buf, size_t len, unsigned mode,
		       unsigned flags);

/*
 * Create the temporary file PATH.tmp.PID beside path, for an output that is renamed over
 * path once complete (O_EXCL: never through a symbolic link planted at that name; a stale
 * one of ours is replaced). Returns the fd (*ret_tmp receives the name, to free) or -errno.
 */
int fd_tmp_create_beside(int dirfd, const char *path, unsigned mode, char **ret_tmp);

/*
 * Mark every fd >= min_fd close-on-exec, so nothing leaks into a container or a guest.
 * Uses close_range(CLOSE_RANGE_CLOEXEC) and falls back to /proc/self/fd.
 */
int fd_cloexec_from(int min_fd);
/*
 * Close every fd >= min_fd except those in keep[] (sorted in place; negative entries are
 * ignored), with close_range(2). Returns 0, or -errno of a close_range that failed.
 */
int fd_close_from_except(int min_fd, int *keep, size_t n);
int fd_set_cloexec(int fd, bool on);
int fd_set_nonblock(int fd, bool on);

/*
 * One sendmsg(2) of len bytes of data with fd attached (SCM_RIGHTS), without SIGPIPE.
 * Returns the count sent (maybe short) or -errno.
 */
ssize_t fd_send_with_fd(int sock, int fd, const void *data, size_t len);
