#include "common/rmtree.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

struct rm_frame {
	char *name; /* in the parent directory */
	dev_t dev;  /* this directory's identity, checked when it is reopened */
	ino_t ino;
	blkcnt_t blocks; /* what its removal releases (counted when asked for) */
	DIR *d;		 /* NULL while closed (deep levels) */
};

static int frame_open(struct rm_frame *f, int fd, const char *name)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		(void)close(fd);
		return -e;
	}
	f->d = fdopendir(fd);
	if (!f->d) {
		int e = errno;

		(void)close(fd);
		return -e;
	}
	f->name = xstrdup(name);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->blocks = st.st_blocks;
	return 0;
}

/* Reopen the closed parent p through "..", of the child directory fd. */
static int frame_reopen(struct rm_frame *p, int child_fd)
{
	int fd = openat(child_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
		(void)close(fd);
		return -ESTALE;
	}
	p->d = fdopendir(fd);
	if (!p->d) {
		int e = errno;

		(void)close(fd);
		return -e;
	}
	return 0;
}

/*
 * unlinkat(at, name, flags), adding to *freed (when not NULL) the bytes it released as du
 * counts them (st_blocks): those of an inode that loses its last link.
 */
static int unlink_counted(int at, const char *name, int flags, uint64_t *freed)
{
	struct stat st;
	bool have = freed && fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (unlinkat(at, name, flags) < 0)
		return -1;
	if (have && (S_ISDIR(st.st_mode) || st.st_nlink <= 1))
		*freed += (uint64_t)st.st_blocks * 512;
	return 0;
}

/* Remove the entry of directory d: 0 done, 1 a non-empty directory to descend into. */
static int rm_entry(DIR *d, const char *name, uint64_t *freed)
{
	if (unlink_counted(dirfd(d), name, 0, freed) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (unlink_counted(dirfd(d), name, AT_REMOVEDIR, freed) == 0 || errno == ENOENT)
		return 0;
	if (errno == ENOTDIR) /* unlink's EPERM was about a file */
		return -EPERM;
	return errno == ENOTEMPTY || errno == EEXIST ? 1 : -errno;
}

int rm_tree_at(int at, const char *name)
{
	return rm_tree_at_freed(at, name, NULL);
}

int rm_tree_at_freed(int at, const char *name, uint64_t *freed)
{
	struct rm_frame *st = NULL;
	size_t n = 0, cap = 0;
	int fd, r = 0;

	if (unlink_counted(at, name, 0, freed) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	st = xcalloc(cap = 16, sizeof(*st));
	r = frame_open(&st[n], fd, name);
	if (r == 0)
		n++;
	while (n > 0 && r == 0) {
		struct rm_frame *f = &st[n - 1];
		struct dirent *de;

		errno = 0;
		de = readdir(f->d);
		if (de) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			r = rm_entry(f->d, de->d_name, freed);
			if (r <= 0)
				continue;
			fd = openat(dirfd(f->d), de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				r = errno == ENOENT ? 0 : -errno;
				continue;
			}
			if (n == cap)
				st = xreallocarray(st, cap *= 2, sizeof(*st));
			f = &st[n - 1];
			r = frame_open(&st[n], fd, de->d_name);
			if (r < 0)
				continue;
			n++;
			/* deep down, the parent is closed; its listing restarts when it is reopened
			 * (what was removed is gone from it) */
			if (n > RM_TREE_KEEP_OPEN) {
				(void)closedir(f->d);
				f->d = NULL;
			}
			continue;
		}
		if (errno) {
			r = -errno;
			break;
		}
		/* f is empty: remove it from its parent */
		if (n >= 2 && !st[n - 2].d)
			r = frame_reopen(&st[n - 2], dirfd(f->d));
		if (r == 0 &&
		    unlinkat(n >= 2 ? dirfd(st[n - 2].d) : at, f->name, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT)
			r = -errno;
		else if (r == 0 && freed)
			*freed += (uint64_t)f->blocks * 512;
		(void)closedir(f->d);
		free(f->name);
		n--;
	}
	for (size_t i = 0; i < n; i++) {
		if (st[i].d)
			(void)closedir(st[i].d);
		free(st[i].name);
	}
	free(st);
	return r;
}
