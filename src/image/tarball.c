#include "image/tarball.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/path.h"
#include "image/store.h"

static bool path_is_clean(const char *p)
{
	cleanup_free char *copy = NULL;
	char *save = NULL;

	if (!p || !*p || p[0] == '/' || strlen(p) >= PATH_MAX)
		return false;
	copy = xstrdup(p);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (strcmp(c, "..") == 0)
			return false;
	return true;
}

static int extract_entry(struct archive *a, struct archive_entry *e, int dirfd,
			 const char *path, struct hull_err *err)
{
	const char *name = archive_entry_pathname(e);
	cleanup_free char *copy = NULL;
	cleanup_close int parent = -1;
	cleanup_close int fd = -1;
	char *slash, *base;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	if (!path_is_clean(name))
		return hull_err_setx(err, EPERM, "%s: entry '%s': path leaves the archive", path,
				     name ? name : "");
	copy = xstrdup(name);
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	if (slash)
		*slash = '\0';
	parent = slash ? path_mkdirs_in_root(dirfd, copy, 0700)
		       : fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (parent < 0)
		return hull_err_set(err, -parent, "%s: entry '%s'", path, name);
	if (strcmp(base, ".") == 0)
		return 0;
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		if (mkdirat(parent, base, 0700) < 0 && errno != EEXIST)
			return hull_err_set(err, errno, "%s: entry '%s'", path, name);
		return 0;
	case AE_IFLNK:
		if (!archive_entry_symlink(e) || archive_entry_symlink(e)[0] == '/')
			return hull_err_setx(err, EPERM, "%s: entry '%s': absolute link refused",
					     path, name);
		if (symlinkat(archive_entry_symlink(e), parent, base) < 0)
			return hull_err_set(err, errno, "%s: entry '%s'", path, name);
		return 0;
	case AE_IFREG:
		break;
	default:
		return hull_err_setx(err, EINVAL, "%s: entry '%s': unexpected file type", path,
				     name);
	}
	if (archive_entry_hardlink(e))
		return hull_err_setx(err, EINVAL, "%s: entry '%s': hard link not expected", path,
				     name);
	fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_set(err, errno, "%s: entry '%s'", path, name);
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		int w = store_pwrite_all(fd, buf, len, off);

		if (w < 0)
			return hull_err_set(err, -w, "%s: entry '%s'", path, name);
	}
	if (r != ARCHIVE_EOF)
		return hull_err_setx(err, EIO, "%s: entry '%s': %s", path, name,
				     archive_error_string(a));
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return hull_err_set(err, errno, "%s: entry '%s'", path, name);
	return 0;
}

int archive_extract_plain(const char *path, int dirfd, struct hull_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	unsigned long n = 0;
	int r;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	/* "-" is standard input (libarchive reads stdin for a NULL name) */
	if (archive_read_open_filename(a, strcmp(path, "-") == 0 ? NULL : path, 1 << 16) !=
	    ARCHIVE_OK) {
		r = hull_err_setx(err, EINVAL, "%s: %s", path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (++n > ARCHIVE_MAX_ENTRIES) {
			r = hull_err_setx(err, E2BIG, "%s: more than %d entries", path,
					  ARCHIVE_MAX_ENTRIES);
			goto out;
		}
		r = extract_entry(a, e, dirfd, path, err);
		if (r < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		r = hull_err_setx(err, EINVAL, "%s: not a valid tar archive: %s", path,
				  archive_error_string(a));
		goto out;
	}
	r = 0;
out:
	archive_read_free(a);
	return r;
}

struct archive_out {
	struct archive *a;
	int fd;
	char *path, *tmp;
	bool committed;
};

int archive_out_open(const char *path, struct archive_out **ret, struct hull_err *err)
{
	struct archive_out *o = xcalloc(1, sizeof(*o));

	/* "-": standard output, written in place (a pipe or a redirection has no name to
	 * rename into) */
	o->path = xstrdup(strcmp(path, "-") == 0 ? "standard output" : path);
	o->fd = strcmp(path, "-") == 0 ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
				       : fd_tmp_create_beside(AT_FDCWD, path, 0644, &o->tmp);
	if (strcmp(path, "-") == 0 && o->fd < 0)
		o->fd = -errno;
	if (o->fd < 0) {
		int r = hull_err_set(err, -o->fd, "%s", o->path);

		archive_out_free(o);
		return r;
	}
	o->a = archive_write_new();
	archive_write_set_format_pax_restricted(o->a);
	if (archive_write_open_fd(o->a, o->fd) != ARCHIVE_OK) {
		int r = hull_err_setx(err, EIO, "%s: %s", path, archive_error_string(o->a));

		archive_out_free(o);
		return r;
	}
	*ret = o;
	return 0;
}

static struct archive_entry *new_entry(const char *name, mode_t type, mode_t perm,
				       uint64_t size)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, 0, 0);
	return e;
}

int archive_out_dir(struct archive_out *o, const char *name, struct hull_err *err)
{
	struct archive_entry *e = new_entry(name, AE_IFDIR, 0755, 0);
	int r = archive_write_header(o->a, e);

	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return hull_err_setx(err, EIO, "%s: %s", o->path, archive_error_string(o->a));
	return 0;
}

int archive_out_buf(struct archive_out *o, const char *name, const void *buf, size_t len,
		    struct hull_err *err)
{
	struct archive_entry *e = new_entry(name, AE_IFREG, 0644, len);
	int r = archive_write_header(o->a, e);

	archive_entry_free(e);
	if (r != ARCHIVE_OK || (len && archive_write_data(o->a, buf, len) != (la_ssize_t)len))
		return hull_err_setx(err, EIO, "%s: %s", o->path, archive_error_string(o->a));
	return 0;
}

int archive_out_fd(struct archive_out *o, const char *name, int fd, uint64_t size,
		   struct hull_err *err)
{
	struct archive_entry *e = new_entry(name, AE_IFREG, 0644, size);
	static char buf[1 << 16];
	uint64_t done = 0;
	int r = archive_write_header(o->a, e);

	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return hull_err_setx(err, EIO, "%s: %s", o->path, archive_error_string(o->a));
	while (done < size) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return hull_err_set(err, n < 0 ? errno : EIO, "%s: reading %s", o->path,
					    name);
		if (archive_write_data(o->a, buf, (size_t)n) != n)
			return hull_err_setx(err, EIO, "%s: %s", o->path,
					     archive_error_string(o->a));
		done += (uint64_t)n;
	}
	return 0;
}

int archive_out_commit(struct archive_out *o, struct hull_err *err)
{
	if (archive_write_close(o->a) != ARCHIVE_OK)
		return hull_err_setx(err, EIO, "%s: %s", o->path, archive_error_string(o->a));
	if (close(o->fd) < 0) {
		o->fd = -1;
		return hull_err_set(err, errno, "%s", o->path);
	}
	o->fd = -1;
	if (o->tmp && rename(o->tmp, o->path) < 0)
		return hull_err_set(err, errno, "%s", o->path);
	o->committed = true;
	return 0;
}

void archive_out_free(struct archive_out *o)
{
	if (!o)
		return;
	if (o->a)
		archive_write_free(o->a);
	if (o->fd >= 0)
		(void)close(o->fd);
	if (!o->committed && o->tmp)
		(void)unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	free(o);
}
