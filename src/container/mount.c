/* mounts[] of config.json, inside the container's mount namespace, before pivot_root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/path.h"
#include "container/cgroup.h"
#include "container/mount-internal.h"
#include "container/rootfs.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

void fd_proc_path(char buf[static 64], int fd)
{
	(void)snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

#define MOUNT_ATTRS_RESTRICT \
	(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

/* Mount attributes for mount_setattr(2) from MS_* flags (what a bind remount can change). */
static uint64_t attrs_from_flags(unsigned long flags)
{
	uint64_t a = 0;

	if (flags & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (flags & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	if (flags & MS_NOSYMFOLLOW)
		a |= MOUNT_ATTR_NOSYMFOLLOW;
	if (flags & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	else if (flags & MS_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	return a;
}

int mount_set_attrs(int fd, uint64_t set, uint64_t clr, bool recursive, const char *what,
		    struct hull_err *err)
{
	struct mount_attr attr = { .attr_set = set, .attr_clr = clr };

	if (!set && !clr)
		return 0;
	if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
			  sizeof(attr)) < 0)
		return hull_err_set(err, errno, "set mount attributes of %s", what);
	return 0;
}

/*
 * Open (creating if needed) the target of a mount inside the root: a directory, or an
 * empty file when the source of a bind mount is not a directory.
 */
/* Create dst as an empty file; *ret_next is set when dst is a symlink (to its target). */
static int target_file_create(int root_fd, const char *dst, char **ret_next,
			      struct hull_err *err)
{
	cleanup_free char *parent = NULL;
	cleanup_close int pfd = -1, dfd = -1, f = -1;
	const char *base = strrchr(dst, '/');
	char link[4096];
	ssize_t n;

	parent = xstrndup(dst, (size_t)(base - dst));
	pfd = path_mkdirs_in_root(root_fd, *parent ? parent : "/", 0755);
	if (pfd < 0)
		return hull_err_set(err, -pfd, "mkdir %s in the rootfs", parent);
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return hull_err_set(err, errno, "open %s in the rootfs", parent);
	f = openat(dfd, base + 1, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f >= 0 || errno == EEXIST)
		return 0;
	if (errno != ELOOP)
		return hull_err_set(err, errno, "create %s in the rootfs", dst);
	/* A dangling symlink: create its target, resolved in the root (as runc and crun). */
	n = readlinkat(dfd, base + 1, link, sizeof(link) - 1);
	if (n <= 0)
		return hull_err_set(err, n < 0 ? errno : EINVAL, "readlink %s in the rootfs", dst);
	link[n] = '\0';
	*ret_next = link[0] == '/' ? xstrdup(link) : path_join(*parent ? parent : "/", link);
	return 0;
}

/*
 * Open (creating if needed) the target of a mount inside the root: a directory, or an
 * empty file when the source of a bind mount is not a directory. A dangling symlink on
 * the way (or as the target) gets its target created, inside the root.
 */
int mount_target_open(int root_fd, const char *dst, bool is_dir, struct hull_err *err)
{
	cleanup_free char *cur = xstrdup(dst);
	int fd, r;

	if (is_dir) {
		fd = path_mkdirs_in_root(root_fd, dst, 0755);
		if (fd < 0)
			return hull_err_set(err, -fd, "mkdir %s in the rootfs", dst);
		return fd;
	}
	/* 40 as the kernel's MAXSYMLINKS: a loop of links ends in ELOOP. */
	for (int links = 0; links < 40; links++) {
		char *next = NULL;

		fd = path_open_in_root(root_fd, cur, O_PATH, 0, 0);
		if (fd >= 0)
			return fd;
		if ((r = target_file_create(root_fd, cur, &next, err)) < 0)
			return r;
		if (!next) {
			fd = path_open_in_root(root_fd, cur, O_PATH, 0, 0);
			if (fd < 0)
				return hull_err_set(err, -fd, "open %s in the rootfs", dst);
			return fd;
		}
		free(cur);
		cur = path_normalize(next);
		free(next);
	}
	return hull_err_setx(err, ELOOP, "open %s in the rootfs: too many symlinks", dst);
}

static int bind_mount(int root_fd, const struct oci_mount *m, struct hull_err *err)
{
	cleanup_close int fd = -1, top = -1;
	uint64_t set, clr;
	char target[64];
	struct stat st;
	int r;

	if (m->has_src_fd ? fstat(m->src_fd, &st) < 0 : stat(m->source, &st) < 0)
		return hull_err_set(err, errno, "bind mount source %s", m->source);
	fd = mount_target_open(root_fd, m->destination, S_ISDIR(st.st_mode), err);
	if (fd < 0)
		return fd;
	fd_proc_path(target, fd);
	if (m->has_src_fd) {
		/* The tree the runtime cloned before the user namespace (runc's mount fds). */
		if (move_mount(m->src_fd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH |
			       MOVE_MOUNT_T_EMPTY_PATH) < 0)
			return hull_err_set(err, errno, "bind mount %s on %s", m->source,
					    m->destination);
	} else if (mount(m->source, target, NULL, MS_BIND | (m->recursive ? MS_REC : 0),
			 NULL) < 0) {
		return hull_err_set(err, errno, "bind mount %s on %s", m->source, m->destination);
	}
	/* The fd still names the covered directory: reopen to reach the new mount. Its
	 * flags change through mount_setattr(2), which touches only the attributes named,
	 * so flags locked by a user namespace (nosuid, nodev...) stay as they were. */
	top = path_open_in_root(root_fd, m->destination, O_PATH, 0, 0);
	if (top < 0)
		return hull_err_set(err, -top, "reopen %s", m->destination);
	set = attrs_from_flags(m->flags);
	clr = attrs_from_flags(m->clear_flags) & ~MOUNT_ATTR__ATIME;
	if (m->flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME))
		clr |= MOUNT_ATTR__ATIME; /* one atime mode replaces another (relatime is 0) */
	/* A recursive bind gets the restricting flags on every submount too: "ro" on an rbind
	 * of /sys (the sysfs fallback below, or -v /sys:/sys:ro) must cover /sys/fs/cgroup and
	 * the hierarchies under it, not only the top (as docker's recursive read-only binds).
	 * Only flags that restrict, only set: clearing a flag locked by a user namespace on a
	 * submount would fail, and an atime mode is the top's alone. */
	if ((r = mount_set_attrs(top, set, clr, false, m->destination, err)) < 0 ||
	    (m->recursive && (r = mount_set_attrs(top, set & MOUNT_ATTRS_RESTRICT, 0, true,
						   m->destination, err)) < 0) ||
	    (r = mount_set_attrs(top, m->attr_set, m->attr_clr, true, m->destination, err)) < 0)
		return r;
	if (m->propagation) {
		fd_proc_path(target, top);
		if (mount(NULL, target, NULL, m->propagation, NULL) < 0)
			return hull_err_set(err, errno, "set propagation of %s", m->destination);
	}
	return 0;
}

/* A cgroup filesystem: the container's own cgroups (container/cgroup-mount.c). */
static int cgroup_mount(int root_fd, const struct oci_mount *m, const struct oci_spec *s,
			struct hull_err *err)
{
	return cgroup_mount_in_root(root_fd, m, s->ns[OCI_NS_CGROUP].present, err);
}

static bool has_mode_option(const char *data)
{
	for (const char *p = data; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
		if (strncmp(p, "mode=", 5) == 0)
			return true;
	return false;
}

/*
 * A tmpfs without mode= keeps the mode of the directory it covers (mount_fd, opened before
 * the mount), as runc and crun, rather than tmpfs's 1777.
 */
static int tmpfs_keep_mode(int root_fd, int mount_fd, const struct oci_mount *m,
			   struct hull_err *err)
{
	cleanup_close int top = -1;
	struct stat st;

	if (strcmp(m->type, "tmpfs") != 0 || has_mode_option(m->data))
		return 0;
	if (fstat(mount_fd, &st) < 0)
		return hull_err_set(err, errno, "stat %s", m->destination);
	top = path_open_in_root(root_fd, m->destination, O_RDONLY | O_DIRECTORY, 0, 0);
	if (top < 0)
		return hull_err_set(err, -top, "reopen %s", m->destination);
	if (fchmod(top, st.st_mode & 07777) < 0 && errno != EROFS)
		return hull_err_set(err, errno, "chmod the tmpfs on %s", m->destination);
	return 0;
}

static int fs_mount(int root_fd, const struct oci_mount *m, const struct oci_spec *s,
		    bool in_userns, struct hull_err *err)
{
	cleanup_close int fd = -1, under = -1;
	char target[64];
	unsigned long flags = m->flags & ~MS_REMOUNT;
	int r;

	if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0)
		return cgroup_mount(root_fd, m, s, err);
	fd = mount_target_open(root_fd, m->destination, true, err);
	if (fd < 0)
		return fd;
	fd_proc_path(target, fd);
	/* tmpcopyup: keep a handle on what the tmpfs is about to cover. */
	if (m->tmpcopyup && strcmp(m->type, "tmpfs") == 0 &&
	    (under = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return hull_err_set(err, errno, "tmpcopyup: open %s", m->destination);
	if (mount(m->source, target, m->type, flags, m->data) < 0) {
		int e = errno;

		/* sysfs and mqueue need a network / ipc namespace of their own when the
		 * caller is in a user namespace: bind the host's instead, as runc does. */
		if (e == EPERM && in_userns &&
		    (strcmp(m->type, "sysfs") == 0 || strcmp(m->type, "mqueue") == 0)) {
			struct oci_mount b = *m;

			b.source = (char *)(strcmp(m->type, "sysfs") == 0 ? "/sys" : "/dev/mqueue");
			b.bind = true;
			b.recursive = true;
			return bind_mount(root_fd, &b, err);
		}
		return hull_err_set(err, e, "mount %s (%s) on %s", m->source, m->type,
				    m->destination);
	}
	if ((r = tmpfs_keep_mode(root_fd, fd, m, err)) < 0)
		return r;
	if (under >= 0) {
		cleanup_close int top = path_open_in_root(root_fd, m->destination,
							  O_RDONLY | O_DIRECTORY, 0, 0);

		r = top < 0 ? top : copyup_dir(under, top, 0);

		if (r < 0)
			return hull_err_set(err, -r, "tmpcopyup into %s", m->destination);
	}
	if (m->propagation || m->attr_set || m->attr_clr) {
		cleanup_close int top = path_open_in_root(root_fd, m->destination, O_PATH, 0, 0);

		if (top < 0)
			return hull_err_set(err, -top, "reopen %s", m->destination);
		if ((r = mount_set_attrs(top, m->attr_set, m->attr_clr, true, m->destination,
					 err)) < 0)
			return r;
		fd_proc_path(target, top);
		if (m->propagation && mount(NULL, target, NULL, m->propagation, NULL) < 0)
			return hull_err_set(err, errno, "set propagation of %s", m->destination);
	}
	return 0;
}

int rootfs_mount_all(int root_fd, const struct oci_spec *s, bool in_userns,
		     struct hull_err *err)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct oci_mount *m = &s->mounts[i];
		int r;

		r = m->bind ? bind_mount(root_fd, m, err) : fs_mount(root_fd, m, s, in_userns, err);
		if (r < 0)
			return hull_err_prefix(err, "config.json: mounts[%zu]", i);
	}
	return 0;
}
