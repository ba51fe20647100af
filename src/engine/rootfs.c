#include "engine/rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/cleanup.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "image/digest.h"

/* The mount data is one page: with short relative lower dirs (64 hex digits and a ':'),
 * about 60 layers fit. */
static int overlay_mount(struct image_store *s, const char *dir, char *const *diff_ids,
			 struct hull_err *err)
{
	cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int layers = openat(s->root_fd, "layers", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *lower = xstrdup("");
	cleanup_free char *opts = NULL;
	cleanup_free char *target = xasprintf("%s/rootfs", dir);
	size_t n = strv_length(diff_ids);
	int r = 0;

	if (layers < 0)
		return hull_err_set(err, errno, "%s/layers", s->root);
	for (size_t i = n; i-- > 0;) {
		char *next = xasprintf("%s%s%s", lower, *lower ? ":" : "", digest_hex(diff_ids[i]));

		free(lower);
		lower = next;
	}
	if (n == 0) { /* overlayfs needs one lower dir: an empty one */
		free(lower);
		lower = xasprintf("%s/empty", dir);
		if (mkdir(lower, 0755) < 0 && errno != EEXIST)
			return hull_err_set(err, errno, "%s", lower);
	}
	opts = xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir);
	if (strlen(opts) >= 4096)
		return hull_err_setx(err, E2BIG, "overlay: %zu layers do not fit in the mount "
				     "options", n);
	if (fchdir(layers) < 0)
		return hull_err_set(err, errno, "%s/layers", s->root);
	/* nodev: a device node that came in an image must not open a host device (there is no
	 * device cgroup yet); the container's /dev is a tmpfs of its own */
	if (mount("overlay", target, "overlay", MS_NODEV, opts) < 0)
		r = hull_err_set(err, errno, "mounting overlay on %s", target);
	if (cwd >= 0 && fchdir(cwd) < 0 && r == 0)
		r = hull_err_set(err, errno, "returning to the working directory");
	return r;
}

static int copy_meta(int src, int dst, const char *name, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char list[4096], val[4096];
	cleanup_close int fd = -1;
	ssize_t n;

	if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st->st_mode))
		return utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (fchmodat(dst, name, st->st_mode & 07777, 0) < 0)
		return -errno;
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
		cleanup_close int sfd = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		fd = openat(dst, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		n = sfd >= 0 ? flistxattr(sfd, list, sizeof(list)) : -1;
		for (ssize_t off = 0; fd >= 0 && n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
			ssize_t vl;

			if (strncmp(list + off, "trusted.overlay.", 16) == 0)
				continue;
			vl = fgetxattr(sfd, list + off, val, sizeof(val));
			if (vl >= 0)
				(void)fsetxattr(fd, list + off, val, (size_t)vl, 0);
		}
	}
	return utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int copy_file(int src, int dst, const char *name, const struct stat *st)
{
	cleanup_close int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int out = -1;
	off_t left = st->st_size;

	if (in < 0)
		return -errno;
	out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		/* across file systems (a volume's copy-up from an overlay) on older kernels */
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
			char buf[65536];

			n = read(in, buf, sizeof(buf));
			if (n > 0 && fd_write_all(out, buf, (size_t)n) < 0)
				return -errno;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		left -= n;
	}
	return 0;
}

/*
 * Copy one entry of src into dst. A directory is made (or kept) but not filled: its fds are
 * returned in *ret_sd and *ret_dd for the caller to descend into, and its metadata is
 * applied when it is done, since filling it changes its times.
 */
static int copy_entry(int src, int dst, const char *name, unsigned flags, struct stat *st,
		      int *ret_sd, int *ret_dd, struct hull_err *err)
{
	struct stat old;
	bool exists = fstatat(dst, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
	int r = 0;

	*ret_sd = *ret_dd = -1;
	if (fstatat(src, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return hull_err_set(err, errno, "copying %s", name);
	if ((flags & CTR_COPY_NO_DEVICES) && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
		return 0;
	/* an overlayfs whiteout: the lower layers' entry is deleted */
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		r = rm_tree_at(dst, name);
		return r < 0 ? hull_err_set(err, -r, "removing %s", name) : 0;
	}
	if (exists && !(S_ISDIR(st->st_mode) && S_ISDIR(old.st_mode)))
		(void)rm_tree_at(dst, name);
	if (S_ISDIR(st->st_mode)) {
		cleanup_close int sd = -1;
		char v;

		sd = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sd < 0)
			return hull_err_set(err, errno, "copying %s", name);
		/* opaque: nothing of the lower layers shows through */
		if (exists && S_ISDIR(old.st_mode) &&
		    fgetxattr(sd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y')
			(void)rm_tree_at(dst, name);
		if (mkdirat(dst, name, 0700) < 0 && errno != EEXIST)
			return hull_err_set(err, errno, "copying %s", name);
		*ret_dd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*ret_dd < 0)
			return hull_err_set(err, errno, "copying %s", name);
		*ret_sd = steal_fd(&sd);
		return 0;
	} else if (S_ISREG(st->st_mode)) {
		r = copy_file(src, dst, name, st);
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);

		if (n < 0)
			return hull_err_set(err, errno, "copying %s", name);
		target[n] = '\0';
		r = symlinkat(target, dst, name) < 0 ? -errno : 0;
	} else {
		r = mknodat(dst, name, st->st_mode, st->st_rdev) < 0 ? -errno : 0;
	}
	if (r == 0)
		r = copy_meta(src, dst, name, st);
	if (r < 0)
		return hull_err_set(err, -r, "copying %s", name);
	return 0;
}

/* One directory being copied: its entries (read when it was entered) and where we are. */
struct copy_frame {
	char **names;
	size_t next;
	char *name;	      /* in the parent; NULL for the top */
	struct stat st;	      /* the source directory's, applied when it is done */
	struct stat sid, did; /* the source and copy directories, checked when reopened */
};

static char **list_names(int dir_fd)
{
	int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			(void)close(fd);
		return NULL;
	}
	names = xcalloc(1, sizeof(*names));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strv_push(&names, de->d_name);
	(void)closedir(d);
	return names;
}

/* Go up from *fd to its parent, which must be the directory want. */
static int go_up(int *fd, const struct stat *want)
{
	int p = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (p < 0)
		return -errno;
	if (fstat(p, &st) < 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino) {
		(void)close(p);
		return -ESTALE;
	}
	(void)close(*fd);
	*fd = p;
	return 0;
}

static int push_frame(struct copy_frame **stack, size_t *n, int sd, int dd, const char *name,
		      const struct stat *st)
{
	struct copy_frame *f;

	*stack = xreallocarray(*stack, *n + 1, sizeof(**stack));
	f = &(*stack)[*n];
	memset(f, 0, sizeof(*f));
	f->names = list_names(sd);
	if (!f->names || fstat(sd, &f->sid) < 0 || fstat(dd, &f->did) < 0) {
		int e = errno;

		strv_free(f->names);
		return -e;
	}
	f->name = name ? xstrdup(name) : NULL;
	if (st)
		f->st = *st;
	(*n)++;
	return 0;
}

/*
 * Copy the tree src into dst (merging: a layer over the ones before). Iterative, with one
 * pair of descriptors whatever the depth: a deep directory (2,000 levels is a legal path)
 * must neither overflow the stack nor exhaust RLIMIT_NOFILE. Going back up is through "..",
 * checked against the directory we came down from.
 */
int ctr_copy_tree(int src, int dst, unsigned flags, struct hull_err *err)
{
	struct copy_frame *stack = NULL;
	size_t n = 0;
	int sd = fcntl(src, F_DUPFD_CLOEXEC, 3), dd = fcntl(dst, F_DUPFD_CLOEXEC, 3);
	int r = sd < 0 || dd < 0 ? -errno : push_frame(&stack, &n, sd, dd, NULL, NULL);

	if (r < 0)
		r = hull_err_set(err, -r, "reading a layer");
	while (r == 0 && n > 0) {
		struct copy_frame *f = &stack[n - 1];
		int csd, cdd;
		struct stat st;

		if (f->names[f->next]) {
			const char *name = f->names[f->next++];

			r = copy_entry(sd, dd, name, flags, &st, &csd, &cdd, err);
			if (r < 0 || csd < 0)
				continue;
			(void)close(sd);
			(void)close(dd);
			sd = csd;
			dd = cdd;
			r = push_frame(&stack, &n, sd, dd, name, &st);
			if (r < 0)
				r = hull_err_set(err, -r, "copying %s", name);
			continue;
		}
		if (n == 1) {
			strv_free(f->names);
			n--;
			break;
		}
		r = go_up(&sd, &stack[n - 2].sid);
		if (r == 0)
			r = go_up(&dd, &stack[n - 2].did);
		if (r == 0)
			r = copy_meta(sd, dd, f->name, &f->st);
		if (r < 0)
			r = hull_err_set(err, -r, "copying %s", f->name);
		strv_free(f->names);
		free(f->name);
		n--;
	}
	for (size_t i = 0; i < n; i++) {
		strv_free(stack[i].names);
		free(stack[i].name);
	}
	free(stack);
	if (sd >= 0)
		(void)close(sd);
	if (dd >= 0)
		(void)close(dd);
	return r;
}

static int copy_layers(struct image_store *s, const char *dir, char *const *diff_ids,
		       struct hull_err *err)
{
	cleanup_free char *target = xasprintf("%s/rootfs", dir);
	cleanup_close int dst = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dst < 0)
		return hull_err_set(err, errno, "%s", target);
	for (size_t i = 0; diff_ids[i]; i++) {
		cleanup_free char *rel = store_layer_relpath(diff_ids[i]);
		cleanup_close int src = openat(s->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r;

		if (src < 0)
			return hull_err_set(err, errno, "layer %s", diff_ids[i]);
		r = ctr_copy_tree(src, dst, 0, err);
		if (r < 0)
			return hull_err_prefix(err, "copying layer %s", diff_ids[i]);
	}
	return 0;
}

int ctr_rootfs_setup(struct image_store *s, const char *dir, char *const *diff_ids,
		     bool force_copy, const char **ret_mode, struct hull_err *err)
{
	static const char *const subdirs[] = { "rootfs", "upper", "work" };

	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, subdirs[i]);

		/* overlayfs shows the upper dir's mode on the root: 0755 like the layers */
		if (mkdir(p, i < 2 ? 0755 : 0700) < 0 && errno != EEXIST)
			return hull_err_set(err, errno, "%s", p);
	}
	if (!force_copy && overlay_mount(s, dir, diff_ids, err) == 0) {
		*ret_mode = "overlay";
		return 0;
	}
	*ret_mode = "copy";
	return copy_layers(s, dir, diff_ids, err);
}

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	cleanup_free char *parent = xasprintf("%s/..", path);

	return stat(path, &a) == 0 && stat(parent, &b) == 0 &&
	       (a.st_dev != b.st_dev || a.st_ino == b.st_ino);
}

int ctr_rootfs_ensure(struct image_store *s, const char *dir, char *const *diff_ids,
		      const char *mode, struct hull_err *err)
{
	cleanup_free char *target = xasprintf("%s/rootfs", dir);

	if (!mode || strcmp(mode, "overlay") != 0 || is_mountpoint(target))
		return 0;
	return overlay_mount(s, dir, diff_ids, err);
}

int ctr_rootfs_teardown(const char *dir, struct hull_err *err)
{
	cleanup_free char *target = xasprintf("%s/rootfs", dir);

	if (!is_mountpoint(target))
		return 0;
	if (umount2(target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return hull_err_set(err, errno, "unmounting %s", target);
	return 0;
}
