#include "common/fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fd_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fd_read_file_at(int dirfd, const char *path, size_t max_size, char **ret_buf,
		    size_t *ret_len)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 4096;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap >= max_size)
				return -EFBIG;
			cap = cap * 2 > max_size ? max_size : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max_size)
		return -EFBIG;
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret_buf = steal_ptr(&buf);
	return 0;
}

int fd_tmp_create_beside(int dirfd, const char *path, unsigned mode, char **ret_tmp)
{
	cleanup_free char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd;

	/* O_EXCL: a symlink or hard link planted at the temporary name is never written
	 * through; a stale file of ours (a crashed earlier run with the same pid) is removed
	 * and the create tried once more. */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0)
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	*ret_tmp = steal_ptr(&tmp);
	return fd;
}

static int replace_file(int dirfd, const char *path, const void *buf, size_t len, unsigned mode,
			unsigned flags, bool exact_mode)
{
	cleanup_free char *tmp = NULL;
	cleanup_close int fd = fd_tmp_create_beside(dirfd, path, mode, &tmp);
	int r;

	if (fd < 0)
		return fd;
	r = fd_write_all(fd, buf, len);
	if (r == 0 && exact_mode && fchmod(fd, mode) < 0) /* the umask must not narrow it */
		r = -errno;
	if (r == 0 && (flags & FD_REPLACE_SYNC) && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int fd_write_file_atomic_at(int dirfd, const char *path, const void *buf, size_t len,
			    unsigned mode)
{
	return replace_file(dirfd, path, buf, len, mode, FD_REPLACE_SYNC, false);
}

int fd_replace_file_at(int dirfd, const char *path, const void *buf, size_t len, unsigned mode,
		       unsigned flags)
{
	return replace_file(dirfd, path, buf, len, mode, flags, true);
}

int fd_set_cloexec(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -errno;
	flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
	if (fcntl(fd, F_SETFD, flags) < 0)
		return -errno;
	return 0;
}

int fd_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
	if (fcntl(fd, F_SETFL, flags) < 0)
		return -errno;
	return 0;
}

int fd_cloexec_from(int min_fd)
{
	DIR *d;
	struct dirent *de;

	if (syscall(SYS_close_range, (unsigned)min_fd, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || de->d_name[0] == '.' || fd < min_fd || fd == dirfd(d))
			continue;
		(void)fd_set_cloexec((int)fd, true);
	}
	(void)closedir(d);
	return 0;
}

ssize_t fd_send_with_fd(int sock, int fd, const void *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	n = sendmsg(sock, &m, MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int fd_close_from_except(int min_fd, int *keep, size_t n)
{
	unsigned lo = (unsigned)min_fd;
	int r = 0;

	qsort(keep, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue;
		if ((unsigned)keep[i] > lo &&
		    syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0) < 0)
			r = -errno;
		lo = (unsigned)keep[i] + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		r = -errno;
	return r;
}
