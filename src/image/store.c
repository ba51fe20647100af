#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <search.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/rmtree.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/path.h"
#include "common/strv.h"

char *image_store_root_default(const char *root)
{
	return xstrdup(root && *root ? root : IMAGE_STORE_DEFAULT_ROOT);
}

int image_store_open(const char *root, struct image_store **ret, struct hull_err *err)
{
	static const char *const dirs[] = { "blobs", "blobs/sha256", "layers", "containers",
					    "tmp" };
	cleanup_free char *path = image_store_root_default(root);
	cleanup_free char *abs = NULL;
	struct image_store *s;
	int r;

	r = path_mkdir_p(path, 0700);
	if (r < 0)
		return hull_err_set(err, -r, "image store %s", path);
	abs = realpath(path, NULL);
	if (!abs)
		return hull_err_set(err, errno, "image store %s", path);
	s = xcalloc(1, sizeof(*s));
	s->lock_fd = -1;
	s->root = steal_ptr(&abs);
	s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		r = hull_err_set(err, errno, "image store %s", s->root);
		image_store_free(s);
		return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (mkdirat(s->root_fd, dirs[i], 0700) < 0 && errno != EEXIST) {
			r = hull_err_set(err, errno, "image store %s/%s", s->root, dirs[i]);
			image_store_free(s);
			return r;
		}
	}
	if (faccessat(s->root_fd, "oci-layout", F_OK, 0) < 0) {
		static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

		r = fd_write_file_atomic_at(s->root_fd, "oci-layout", layout, strlen(layout), 0644);
		if (r < 0) {
			r = hull_err_set(err, -r, "image store %s/oci-layout", s->root);
			image_store_free(s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

void image_store_txn_begin(struct image_store *s)
{
	strv_free(s->added);
	s->added = NULL;
	json_decref(s->txn_index);
	s->txn_index = NULL;
	s->in_txn = true;
}

void image_store_txn_added(struct image_store *s, const char *relpath)
{
	if (s->in_txn)
		strv_push(&s->added, relpath);
}

int store_index_write(struct image_store *s, const char *buf, size_t len, struct hull_err *err)
{
	cleanup_free char *tmp = xasprintf("tmp/index-%d.json", (int)getpid());
	cleanup_close int fd = -1;
	int r;

	/* staged in tmp/ (not beside index.json): a writer killed before the rename leaves
	 * its file where the next exclusive lock sweeps it away */
	(void)unlinkat(s->root_fd, tmp, 0);
	fd = openat(s->root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return hull_err_set(err, errno, "%s/%s", s->root, tmp);
	r = store_pwrite_all(fd, buf, len, 0);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(s->root_fd, tmp, s->root_fd, "index.json") < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(s->root_fd, tmp, 0);
		return hull_err_set(err, -r, "writing %s/index.json", s->root);
	}
	return 0;
}

int image_store_txn_end(struct image_store *s, int result, struct hull_err *err)
{
	if (result == 0 && s->txn_index) {
		cleanup_free char *buf = hjson_dump(s->txn_index, JSON_COMPACT);

		result = store_index_write(s, buf, strlen(buf), err);
	}
	for (size_t i = 0; result < 0 && s->added && s->added[i]; i++)
		(void)rm_rf_at(s->root_fd, s->added[i]);
	strv_free(s->added);
	s->added = NULL;
	json_decref(s->txn_index);
	s->txn_index = NULL;
	s->in_txn = false;
	return result;
}

void image_store_free(struct image_store *s)
{
	if (!s)
		return;
	strv_free(s->added);
	json_decref(s->txn_index);
	if (s->lock_fd >= 0)
		(void)close(s->lock_fd);
	if (s->root_fd >= 0)
		(void)close(s->root_fd);
	free(s->root);
	free(s);
}

/*
 * Staging names carry their writer's pid ("PID-XXXXXX", "blob-PID-XXXXXX", "index-PID.json").
 * A load stages its archive before it takes the lock, so an entry whose writer still runs
 * is not garbage. A pid reused meanwhile only delays the sweep of that entry.
 */
static bool tmp_owner_alive(const char *name)
{
	const char *p = name;
	char *end = NULL;
	long pid;

	while (*p && !(*p >= '0' && *p <= '9'))
		p++;
	pid = strtol(p, &end, 10);
	if (end == p || pid <= 0 || pid > INT32_MAX || (*end != '-' && *end != '.'))
		return false;
	/* this process's own staging (a load takes the lock after it extracted) */
	return pid == getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int image_store_lock(struct image_store *s, bool exclusive, struct hull_err *err)
{
	cleanup_close int tmp = -1;
	DIR *d;
	struct dirent *de;

	if (s->lock_fd < 0) {
		s->lock_fd = openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->lock_fd < 0)
			return hull_err_set(err, errno, "%s/lock", s->root);
	}
	while (flock(s->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return hull_err_set(err, errno, "locking %s/lock", s->root);
	if (!exclusive)
		return 0;
	/* Holding the exclusive lock, nobody else is staging: whatever is in tmp/ was left
	 * by a writer that died (kill -9, power loss) and is garbage. */
	tmp = openat(s->root_fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmp < 0)
		return 0;
	d = fdopendir(tmp);
	if (!d)
		return 0;
	tmp = -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    tmp_owner_alive(de->d_name))
			continue;
		log_debug("removing stale %s/tmp/%s", s->root, de->d_name);
		(void)rm_rf_at(dirfd(d), de->d_name);
	}
	(void)closedir(d);
	return 0;
}

int image_store_mktemp(struct image_store *s, char **ret_name, int *ret_fd,
		       struct hull_err *err)
{
	cleanup_free char *tmpl = xasprintf("%s/tmp/%d-XXXXXX", s->root, (int)getpid());
	int fd;

	if (!mkdtemp(tmpl))
		return hull_err_set(err, errno, "creating a directory in %s/tmp", s->root);
	fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "%s", tmpl);
	*ret_fd = fd;
	*ret_name = xstrdup(tmpl + strlen(s->root) + 1);
	return 0;
}

char *store_blob_relpath(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

char *store_layer_relpath(const char *diff_id)
{
	return xasprintf("layers/%s", digest_hex(diff_id));
}

bool store_blob_exists(struct image_store *s, const char *digest)
{
	cleanup_free char *rel = NULL;

	if (!digest_is_valid(digest))
		return false;
	rel = store_blob_relpath(digest);
	return faccessat(s->root_fd, rel, F_OK, 0) == 0;
}

bool store_layer_exists(struct image_store *s, const char *diff_id)
{
	cleanup_free char *rel = NULL;

	if (!digest_is_valid(diff_id))
		return false;
	rel = store_layer_relpath(diff_id);
	return faccessat(s->root_fd, rel, F_OK, 0) == 0;
}

static int hash_fd(int fd, char *ret_digest, uint64_t *ret_size)
{
	struct digest_ctx *ctx = digest_ctx_new();
	static char buf[1 << 16];
	uint64_t total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			digest_ctx_free(ctx);
			return -e;
		}
		if (n == 0)
			break;
		digest_ctx_update(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	digest_ctx_finish(ctx, ret_digest);
	*ret_size = total;
	return 0;
}

int store_blob_put_file(struct image_store *s, const char *tmpname, const char *expect,
			char *ret_digest, uint64_t *ret_size, struct hull_err *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *rel = NULL;
	char digest[DIGEST_STR_LEN + 1];
	uint64_t size = 0;
	int r;

	fd = openat(s->root_fd, tmpname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return hull_err_set(err, errno, "%s/%s", s->root, tmpname);
	r = hash_fd(fd, digest, &size);
	if (r < 0)
		return hull_err_set(err, -r, "reading %s/%s", s->root, tmpname);
	if (expect && strcmp(expect, digest) != 0)
		return hull_err_setx(err, EBADMSG, "content digest mismatch: expected %s, got %s",
				     expect, digest);
	if (fsync(fd) < 0 || fchmod(fd, 0444) < 0)
		return hull_err_set(err, errno, "%s/%s", s->root, tmpname);
	rel = store_blob_relpath(digest);
	if (faccessat(s->root_fd, rel, F_OK, 0) < 0)
		image_store_txn_added(s, rel);
	if (renameat(s->root_fd, tmpname, s->root_fd, rel) < 0)
		return hull_err_set(err, errno, "storing blob %s", digest);
	if (ret_digest)
		memcpy(ret_digest, digest, sizeof(digest));
	if (ret_size)
		*ret_size = size;
	return 0;
}

static int put_via_tmp(struct image_store *s, int in_fd, const void *buf, size_t len,
		       const char *expect, char *ret_digest, uint64_t *ret_size,
		       struct hull_err *err)
{
	cleanup_free char *full = xasprintf("%s/tmp/blob-%d-XXXXXX", s->root, (int)getpid());
	cleanup_close int fd = -1;
	const char *name;
	int r = 0;

	fd = mkostemp(full, O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "creating a file in %s/tmp", s->root);
	name = full + strlen(s->root) + 1;
	if (buf) {
		r = store_pwrite_all(fd, buf, len, 0);
	} else {
		static char cbuf[1 << 16];
		off_t off = 0;

		for (;;) {
			ssize_t n = read(in_fd, cbuf, sizeof(cbuf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = -errno;
				break;
			}
			if (n == 0)
				break;
			r = store_pwrite_all(fd, cbuf, (size_t)n, off);
			if (r < 0)
				break;
			off += n;
		}
	}
	if (r < 0) {
		(void)unlink(full);
		return hull_err_set(err, -r, "writing %s", full);
	}
	r = store_blob_put_file(s, name, expect, ret_digest, ret_size, err);
	if (r < 0)
		(void)unlink(full);
	return r;
}

int store_blob_put_fd(struct image_store *s, int fd, const char *expect, char *ret_digest,
		      uint64_t *ret_size, struct hull_err *err)
{
	return put_via_tmp(s, fd, NULL, 0, expect, ret_digest, ret_size, err);
}

int store_blob_put_buf(struct image_store *s, const void *buf, size_t len, char *ret_digest,
		       struct hull_err *err)
{
	char digest[DIGEST_STR_LEN + 1];

	/* Manifests and configs are small and often already present: skip the write. */
	digest_buf(buf, len, digest);
	if (store_blob_exists(s, digest)) {
		if (ret_digest)
			memcpy(ret_digest, digest, sizeof(digest));
		return 0;
	}
	return put_via_tmp(s, -1, buf ? buf : "", len, NULL, ret_digest, NULL, err);
}

int store_blob_open(struct image_store *s, const char *digest, struct hull_err *err)
{
	cleanup_free char *rel = NULL;
	int fd;

	if (!digest_is_valid(digest))
		return hull_err_setx(err, EINVAL, "invalid digest '%s'", digest);
	rel = store_blob_relpath(digest);
	fd = openat(s->root_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return hull_err_set(err, errno, "blob %s", digest);
	return fd;
}

int store_blob_read(struct image_store *s, const char *digest, size_t max, char **ret_buf,
		    size_t *ret_len, struct hull_err *err)
{
	cleanup_free char *rel = NULL;
	int r;

	if (!digest_is_valid(digest))
		return hull_err_setx(err, EINVAL, "invalid digest '%s'", digest);
	rel = store_blob_relpath(digest);
	r = fd_read_file_at(s->root_fd, rel, max, ret_buf, ret_len);
	if (r == -EFBIG)
		return hull_err_setx(err, EFBIG, "blob %s: larger than %zu bytes", digest, max);
	if (r < 0)
		return hull_err_set(err, -r, "blob %s", digest);
	return 0;
}

int store_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int store_open_regular_in(int dirfd, const char *relpath)
{
	struct stat st;
	int fd = path_open_in_root(dirfd, relpath, O_RDONLY | O_NONBLOCK, 0, 0);

	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever, with the
	 * store lock held; a regular file ignores the flag, which is cleared anyway */
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		(void)close(fd);
		return -EINVAL;
	}
	return fd;
}

int rm_rf_at_freed(int dirfd, const char *name, uint64_t *freed)
{
	int r = rm_tree_at_freed(dirfd, name, freed);

	if (r < 0)
		errno = -r; /* callers report errno */
	return r;
}

int rm_rf_at(int dirfd, const char *name)
{
	return rm_rf_at_freed(dirfd, name, NULL);
}

struct du_state {
	dev_t dev;
	void *seen; /* tsearch tree of inode numbers with more than one link */
	uint64_t total;
};

static int ino_cmp(const void *a, const void *b)
{
	ino_t x = *(const ino_t *)a, y = *(const ino_t *)b;

	return x < y ? -1 : x > y;
}

static void du_add(struct du_state *du, const struct stat *st)
{
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		ino_t *key = xmalloc(sizeof(*key));
		void *found;

		*key = st->st_ino;
		found = tsearch(key, &du->seen, ino_cmp);
		if (found && *(ino_t **)found != key) {
			free(key); /* counted already */
			return;
		}
	}
	du->total += (uint64_t)st->st_blocks * 512;
}

struct du_level {
	dev_t dev;
	ino_t ino;
	long pos; /* where to resume reading the parent */
};

/* Down into the sub-directory name of d: remember where d was, return the new stream. */
static DIR *du_down(DIR *d, const char *name, struct du_level **stack, size_t *n, size_t *cap)
{
	int next = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	DIR *nd;

	if (next < 0 || fstat(dirfd(d), &st) < 0) {
		if (next >= 0)
			(void)close(next);
		return NULL;
	}
	nd = fdopendir(next);
	if (!nd) {
		(void)close(next);
		return NULL;
	}
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*stack = xrealloc(*stack, *cap * sizeof(**stack));
	}
	(*stack)[(*n)++] = (struct du_level){ st.st_dev, st.st_ino, telldir(d) };
	(void)closedir(d);
	return nd;
}

/* Back up to the parent (checked against what du_down recorded), where reading stopped. */
static DIR *du_up(DIR *d, struct du_level *stack, size_t *n)
{
	int up = openat(dirfd(d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	DIR *pd;

	(*n)--;
	if (up < 0 || fstat(up, &st) < 0 || st.st_dev != stack[*n].dev ||
	    st.st_ino != stack[*n].ino || !(pd = fdopendir(up))) {
		if (up >= 0)
			(void)close(up);
		return NULL;
	}
	seekdir(pd, stack[*n].pos);
	return pd;
}

/*
 * As rm_rf_at, without recursion and with one directory open at a time, whatever the depth:
 * down with openat, up with ".." checked against the inode recorded on the way down.
 */
int store_du_at(int at, const char *name, uint64_t *ret)
{
	struct du_state du = { 0 };
	struct du_level *stack = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int fd, r = 0;

	*ret = 0;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	du.dev = st.st_dev;
	du_add(&du, &st);
	fd = S_ISDIR(st.st_mode)
		     ? openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		     : -1;
	if (fd >= 0 && !(d = fdopendir(fd)))
		(void)close(fd);
	while (d) {
		de = readdir(d);
		if (!de) {
			DIR *up = NULL;

			if (n && !(up = du_up(d, stack, &n)))
				r = -EBUSY; /* moved while we walked it: a partial count */
			(void)closedir(d);
			d = up;
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != du.dev) /* a mount point (a running container's rootfs) */
			continue;
		du_add(&du, &st);
		if (S_ISDIR(st.st_mode)) {
			DIR *down = du_down(d, de->d_name, &stack, &n, &cap);

			if (down)
				d = down;
		}
	}
	free(stack);
	tdestroy(du.seen, free);
	*ret = du.total;
	return r;
}
