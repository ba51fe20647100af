/*
 * tmpcopyup (runc's extension, used by podman for --tmpfs): a tmpfs mounted over a
 * directory of the image starts with a copy of what that directory held.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "container/mount-internal.h"

#define COPYUP_MAX_DEPTH 64

static int copy_file(int sfd, int dfd, const char *name, const struct stat *st)
{
	cleanup_close int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int out = -1;
	off_t left = st->st_size;

	if (in < 0)
		return -errno;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     st->st_mode & 07777);
	if (out < 0)
		return -errno;
	while (left > 0) {
		ssize_t n = sendfile(out, in, NULL, (size_t)left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		left -= n;
	}
	return 0;
}

/* Copy the directory sfd into dfd (both directories), ownership and modes included. */
int copyup_dir(int sfd, int dfd, int depth)
{
	cleanup_close int rfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (depth > COPYUP_MAX_DEPTH)
		return -ELOOP;
	if (rfd < 0)
		return -errno;
	d = fdopendir(rfd);
	if (!d)
		return -errno;
	rfd = -1;
	while (r == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		struct stat st;

		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int s2 = -1, d2 = -1;

			if (mkdirat(dfd, n, st.st_mode & 07777) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			s2 = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			d2 = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = s2 < 0 || d2 < 0 ? -errno : copyup_dir(s2, d2, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			r = copy_file(dirfd(d), dfd, n, &st);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t len = readlinkat(dirfd(d), n, target, sizeof(target) - 1);

			if (len < 0)
				r = -errno;
			else if ((target[len] = '\0', symlinkat(target, dfd, n)) < 0)
				r = -errno;
		} else {
			continue; /* devices, fifos, sockets: not copied */
		}
		if (r == 0 && fchownat(dfd, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	(void)closedir(d);
	return r;
}
