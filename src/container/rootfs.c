/* The rootfs around the mounts: propagation, devices, sysctl, masked paths, pivot_root. */
#include "container/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "common/path.h"
#include "container/mount-internal.h"

int rootfs_prepare(const struct oci_spec *s, struct hull_err *err)
{
	unsigned long prop = MS_SLAVE | MS_REC;
	int fd;

	/* No mount namespace in config.json: we are in the runtime's, which the container
	 * inherits (runtime-spec config-linux.md "Namespaces"), as runc and crun. Everything
	 * is mounted under a private bind of the rootfs, which `delete` detaches. */
	if (!s->ns[OCI_NS_MOUNT].present) {
		if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
			return hull_err_set(err, errno, "bind mount the rootfs %s", s->root_path);
		if (mount(NULL, s->root_path, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
			return hull_err_set(err, errno, "make the rootfs %s rprivate",
					    s->root_path);
		goto open;
	}
	/* Nothing we mount may propagate back to the host: the default is rslave, as runc;
	 * rootfsPropagation shared/slave/private applies to / here and again after pivot. */
	if (s->rootfs_propagation & (MS_PRIVATE | MS_SLAVE))
		prop = s->rootfs_propagation | MS_REC;
	/* shared as given (runc's prepareRoot): the mounts copied from the host keep their peer
	 * groups, so a bind of a shared host mount made shared again propagates both ways
	 * (docker's -v SRC:DST:rshared) */
	if (s->rootfs_propagation & MS_SHARED)
		prop = s->rootfs_propagation;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return hull_err_set(err, errno, "make / %s",
				    prop & MS_PRIVATE ? "rprivate"
				    : prop & MS_SHARED ? "shared" : "rslave");
	/* With / shared, the mount that holds the rootfs may be too: pivot_root(2) refuses a
	 * shared parent, and the rootfs's bind would propagate to its peers. Make that one
	 * mount private, as runc's rootfsParentMountPrivate does. */
	if (prop & MS_SHARED) {
		struct mount_prop mp;

		if (mountinfo_find_self(s->root_path, &mp) == 0 && mp.shared &&
		    mount(NULL, mp.mount_point, NULL, MS_PRIVATE, NULL) < 0)
			return hull_err_set(err, errno, "make %s (the rootfs's mount) private",
					    mp.mount_point);
	}
	/* pivot_root(2) needs the new root to be a mount point. */
	if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return hull_err_set(err, errno, "bind mount the rootfs %s", s->root_path);
open:
	fd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "open the rootfs %s", s->root_path);
	return fd;
}

struct default_dev {
	const char *name;
	unsigned major, minor;
};

static const struct default_dev default_devs[] = {
	{ "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* mknod, or in a user namespace (where mknod is refused) bind the host's node. */
static int make_dev(int root_fd, const char *path, char type, mode_t mode, dev_t dev,
		    bool in_userns, struct hull_err *err)
{
	cleanup_free char *parent = NULL;
	cleanup_close int pfd = -1, dfd = -1;
	const char *base = strrchr(path, '/');
	mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;

	if (in_userns && type != 'p') {
		cleanup_close int fd = -1, top = -1;
		char target[64];
		struct stat st;

		if (stat(path, &st) < 0)
			return hull_err_set(err, errno, "%s: in a user namespace a device is bound "
					    "from the host's node, and the host has none", path);
		fd = mount_target_open(root_fd, path, false, err);
		if (fd < 0)
			return fd;
		fd_proc_path(target, fd);
		if (mount(path, target, NULL, MS_BIND, NULL) < 0)
			return hull_err_set(err, errno, "bind mount device %s", path);
		/* As runc: a device node needs neither setuid nor exec. */
		top = path_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0, 0);
		if (top < 0)
			return hull_err_set(err, -top, "reopen %s", path);
		return mount_set_attrs(top, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0, false, path,
				       err);
	}
	parent = xstrndup(path, (size_t)(base - path));
	pfd = path_mkdirs_in_root(root_fd, *parent ? parent : "/", 0755);
	if (pfd < 0)
		return hull_err_set(err, -pfd, "mkdir %s in the rootfs", parent);
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return hull_err_set(err, errno, "open %s in the rootfs", parent);
	if (mknodat(dfd, base + 1, fmt | (mode & 07777), dev) < 0) {
		if (errno != EEXIST)
			return hull_err_set(err, errno, "mknod %s", path);
		/* An image may ship its own node: replace it with the configured one. */
		if (unlinkat(dfd, base + 1, 0) < 0 ||
		    mknodat(dfd, base + 1, fmt | (mode & 07777), dev) < 0)
			return hull_err_set(err, errno, "mknod %s", path);
	}
	if (fchmodat(dfd, base + 1, mode & 07777, 0) < 0)
		return hull_err_set(err, errno, "chmod %s", path);
	return 0;
}

static bool dev_is_bind_mounted(const struct oci_spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (s->mounts[i].bind && strcmp(s->mounts[i].destination, "/dev") == 0)
			return true;
	return false;
}

static int dev_symlinks(int root_fd, struct hull_err *err)
{
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" },	   { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },
	};
	cleanup_close int pfd = path_mkdirs_in_root(root_fd, "/dev", 0755);
	cleanup_close int dfd = -1;

	if (pfd < 0)
		return hull_err_set(err, -pfd, "mkdir /dev in the rootfs");
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return hull_err_set(err, errno, "open /dev in the rootfs");
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		/* /dev/ptmx must lead to the container's devpts instance (devpts(5)). */
		if (strcmp(links[i][0], "ptmx") == 0)
			(void)unlinkat(dfd, "ptmx", 0);
		if (symlinkat(links[i][1], dfd, links[i][0]) < 0 && errno != EEXIST)
			return hull_err_set(err, errno, "symlink /dev/%s", links[i][0]);
	}
	return 0;
}

int rootfs_devices(int root_fd, const struct oci_spec *s, bool in_userns, struct hull_err *err)
{
	mode_t old = umask(0);
	int r = 0;

	if (dev_is_bind_mounted(s))
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(default_devs) && r >= 0; i++) {
		char path[32];

		(void)snprintf(path, sizeof(path), "/dev/%s", default_devs[i].name);
		r = make_dev(root_fd, path, 'c', 0666,
			     makedev(default_devs[i].major, default_devs[i].minor), in_userns, err);
	}
	for (size_t i = 0; i < s->n_devices && r >= 0; i++) {
		const struct oci_device *d = &s->devices[i];
		cleanup_close int fd = -1;

		r = make_dev(root_fd, d->path, d->type, d->has_mode ? d->mode : 0666,
			     makedev((unsigned)d->major, (unsigned)d->minor), in_userns, err);
		if (r < 0 || in_userns || !(d->has_uid || d->has_gid))
			continue;
		fd = path_open_in_root(root_fd, d->path, O_PATH | O_NOFOLLOW, 0, 0);
		if (fd < 0 || fchownat(fd, "", d->has_uid ? d->uid : (uid_t)-1,
				       d->has_gid ? d->gid : (gid_t)-1, AT_EMPTY_PATH) < 0)
			r = hull_err_set(err, fd < 0 ? -fd : errno, "chown %s", d->path);
	}
	if (r >= 0)
		r = dev_symlinks(root_fd, err);
out:
	umask(old);
	return r < 0 ? hull_err_prefix(err, "devices") : 0;
}

int rootfs_sysctl(int root_fd, const struct oci_spec *s, struct hull_err *err)
{
	for (size_t i = 0; i < s->n_sysctl; i++) {
		cleanup_free char *path = xasprintf("/proc/sys/%s", s->sysctl[i].key);
		cleanup_close int fd = -1;
		int r;

		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		fd = path_open_in_root(root_fd, path, O_WRONLY | O_NOFOLLOW, 0, 0);
		if (fd < 0)
			return hull_err_set(err, -fd, "config.json: linux.sysctl: %s",
					    s->sysctl[i].key);
		r = fd_write_all(fd, s->sysctl[i].value, strlen(s->sysctl[i].value));
		if (r < 0)
			return hull_err_set(err, -r, "config.json: linux.sysctl: %s=%s",
					    s->sysctl[i].key, s->sysctl[i].value);
	}
	return 0;
}

static int mask_path(int root_fd, const char *path, struct hull_err *err)
{
	cleanup_close int fd = path_open_in_root(root_fd, path, O_PATH | O_NOFOLLOW, 0, 0);
	char target[64];
	struct stat st;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return hull_err_set(err, -fd, "config.json: linux.maskedPaths: %s", path);
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "config.json: linux.maskedPaths: %s", path);
	fd_proc_path(target, fd);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0k") < 0)
			return hull_err_set(err, errno,
					    "config.json: linux.maskedPaths: mount tmpfs on %s",
					    path);
	} else if (mount("/dev/null", target, NULL, MS_BIND, NULL) < 0) {
		return hull_err_set(err, errno,
				    "config.json: linux.maskedPaths: bind /dev/null on %s", path);
	}
	return 0;
}

static int readonly_path(int root_fd, const char *path, struct hull_err *err)
{
	cleanup_close int fd = path_open_in_root(root_fd, path, O_PATH, 0, 0);
	cleanup_close int top = -1;
	char target[64];

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return hull_err_set(err, -fd, "config.json: linux.readonlyPaths: %s", path);
	fd_proc_path(target, fd);
	if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return hull_err_set(err, errno, "config.json: linux.readonlyPaths: bind %s", path);
	top = path_open_in_root(root_fd, path, O_PATH, 0, 0);
	if (top < 0)
		return hull_err_set(err, -top, "config.json: linux.readonlyPaths: reopen %s", path);
	return mount_set_attrs(top, MOUNT_ATTR_RDONLY, 0, true, path, err);
}

int rootfs_mask_paths(int root_fd, const struct oci_spec *s, struct hull_err *err)
{
	int r;

	for (size_t i = 0; s->readonly_paths && s->readonly_paths[i]; i++)
		if ((r = readonly_path(root_fd, s->readonly_paths[i], err)) < 0)
			return r;
	for (size_t i = 0; s->masked_paths && s->masked_paths[i]; i++)
		if ((r = mask_path(root_fd, s->masked_paths[i], err)) < 0)
			return r;
	return 0;
}

int rootfs_enter(const struct oci_spec *s, bool no_pivot, struct hull_err *err)
{
	cleanup_close int oldroot = -1;

	if (!s->ns[OCI_NS_MOUNT].present) {
		/* In the runtime's mount namespace: neither pivot_root nor a move of / (they
		 * would change the host's root); the root is the private bind of the rootfs. */
		if (chdir(s->root_path) < 0 || chroot(".") < 0 || chdir("/") < 0)
			return hull_err_set(err, errno, "chroot to the rootfs %s", s->root_path);
		goto attrs;
	}
	if (!no_pivot && (oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return hull_err_set(err, errno, "open /");
	if (chdir(s->root_path) < 0)
		return hull_err_set(err, errno, "chdir to the rootfs %s", s->root_path);
	if (no_pivot) {
		if (mount(s->root_path, "/", NULL, MS_MOVE, NULL) < 0)
			return hull_err_set(err, errno, "move the rootfs to /");
		if (chroot(".") < 0)
			return hull_err_set(err, errno, "chroot to the rootfs");
	} else {
		/* pivot_root(".", ".") stacks the old root on top of the new one. Step onto the
		 * old root (our cwd is still the new one), make it rslave so that detaching it
		 * cannot propagate to the host, and detach it. */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return hull_err_set(err, errno, "pivot_root to %s", s->root_path);
		if (fchdir(oldroot) < 0)
			return hull_err_set(err, errno, "fchdir to the old root");
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			return hull_err_set(err, errno, "make the old root rslave");
		if (umount2(".", MNT_DETACH) < 0)
			return hull_err_set(err, errno, "detach the old root");
	}
	if (chdir("/") < 0)
		return hull_err_set(err, errno, "chdir to /");
	if (s->rootfs_propagation && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
		return hull_err_set(err, errno, "set rootfsPropagation");
attrs:
	if (s->root_readonly) {
		cleanup_close int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			return hull_err_set(err, errno, "open /");
		if (mount_set_attrs(fd, MOUNT_ATTR_RDONLY, 0, false, "/", err) < 0)
			return hull_err_prefix(err, "root.readonly");
	}
	return 0;
}
