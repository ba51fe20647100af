/*
 * The container's cgroup mount (a mounts[] entry of type "cgroup"/"cgroup2"): the container
 * sees its own cgroups, not the host's tree (runc's behaviour).
 *
 *   - pure v2 with a new cgroup namespace: a fresh cgroup2 mount (rooted at the namespace);
 *   - pure v2 without one: a bind mount of the container's own cgroup directory;
 *   - v1 (and hybrid): a tmpfs with one directory per host hierarchy (named as on the host:
 *     cpu, memory, systemd, unified...), each holding the container's own cgroup: a fresh
 *     mount of that hierarchy inside a new cgroup namespace, else a bind mount of the
 *     container's directory in it.
 * Runs in the container's init, in its mount namespace, before pivot_root; the parent has
 * already moved it into its cgroups.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

#define CG_MNT_MAX 32

struct hier {
	char *point;   /* host mountpoint, /sys/fs/cgroup/<name> */
	char *opts;    /* cgroup v1 super options without rw/ro ("memory", "none,name=systemd") */
	bool v2;
	char *own;     /* our cgroup in it, from /proc/self/cgroup */
};

static void hiers_free(struct hier *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].point);
		free(h[i].opts);
		free(h[i].own);
	}
}

/* Super options minus rw/ro and flags that are not hierarchy names. */
static char *hier_opts(const char *super)
{
	cleanup_free char *copy = xstrdup(super);
	char *save = NULL, *out = xstrdup("");

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *n;

		if (strcmp(t, "rw") == 0 || strcmp(t, "ro") == 0)
			continue;
		n = xasprintf("%s%s%s", out, *out ? "," : "", t);
		free(out);
		out = n;
	}
	return out;
}

/* True if the controller list of a /proc/self/cgroup line matches the super options. */
static bool same_hier(const char *ctrls, const char *opts)
{
	cleanup_free char *copy = xstrdup(ctrls);
	char *save = NULL;
	size_t n = 0;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
		size_t l = strlen(t);
		const char *p = opts;
		bool found = false;

		while ((p = strstr(p, t))) {
			if ((p == opts || p[-1] == ',') && (p[l] == ',' || p[l] == '\0'))
				found = true;
			p += l;
		}
		if (!found)
			return false;
	}
	return n > 0;
}

static void find_own(struct hier *h, size_t n)
{
	cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (h[i].own)
				continue;
			if (h[i].v2 ? c2 == c1 + 1 : same_hier(c1 + 1, h[i].opts))
				h[i].own = xstrdup(c2 + 1);
		}
	}
}

static size_t host_hiers(struct hier *h)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, n = 0;

	while (f && n < CG_MNT_MAX && getline(&line, &cap, f) > 0) {
		char *fld[12] = { 0 }, *save = NULL, *tok;
		int k = 0, sep = -1;
		bool dup = false;

		for (tok = strtok_r(line, " \n", &save); tok && k < 12;
		     tok = strtok_r(NULL, " \n", &save)) {
			if (sep < 0 && strcmp(tok, "-") == 0)
				sep = k;
			fld[k++] = tok;
		}
		if (sep < 5 || k < sep + 4 || strncmp(fld[4], "/sys/fs/cgroup/", 15) != 0 ||
		    strchr(fld[4] + 15, '/') ||
		    (strcmp(fld[sep + 1], "cgroup") != 0 && strcmp(fld[sep + 1], "cgroup2") != 0))
			continue;
		for (size_t i = 0; i < n; i++)
			dup = dup || strcmp(h[i].point, fld[4]) == 0;
		if (dup)
			continue;
		h[n].point = xstrdup(fld[4]);
		h[n].v2 = strcmp(fld[sep + 1], "cgroup2") == 0;
		h[n].opts = h[n].v2 ? xstrdup("") : hier_opts(fld[sep + 3]);
		n++;
	}
	find_own(h, n);
	return n;
}

/* One hierarchy at <dir_fd>/<name>. */
static int mount_hier(int dir_fd, const struct hier *h, const struct oci_mount *m,
		      bool new_cgroupns, struct hull_err *err)
{
	const char *name = strrchr(h->point, '/') + 1;
	unsigned long fl = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	cleanup_close int fd = -1;
	char target[64];

	if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "mkdir %s/%s", m->destination, name);
	fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "open %s/%s", m->destination, name);
	fd_proc_path(target, fd);
	if (new_cgroupns) {
		if (mount("cgroup", target, h->v2 ? "cgroup2" : "cgroup", fl,
			  h->v2 ? NULL : h->opts) < 0)
			return hull_err_set(err, errno, "mount cgroup (%s) on %s/%s",
					    h->v2 ? "cgroup2" : h->opts, m->destination, name);
		return 0;
	}
	{
		cleanup_free char *src = xasprintf("%s%s", h->point, h->own ? h->own : "/");
		cleanup_close int top = -1;
		uint64_t set = 0;

		if (mount(src, target, NULL, MS_BIND, NULL) < 0)
			return hull_err_set(err, errno, "bind mount %s on %s/%s", src,
					    m->destination, name);
		top = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (top < 0)
			return hull_err_set(err, errno, "reopen %s/%s", m->destination, name);
		set |= (fl & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0;
		set |= (fl & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0;
		set |= (fl & MS_NODEV) ? MOUNT_ATTR_NODEV : 0;
		set |= (fl & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0;
		return mount_set_attrs(top, set, 0, false, m->destination, err);
	}
}

int cgroup_mount_in_root(int root_fd, const struct oci_mount *m, bool new_cgroupns,
			 struct hull_err *err)
{
	struct hier h[CG_MNT_MAX] = { 0 };
	cleanup_close int fd = -1, dir = -1;
	char target[64];
	size_t n = 0;
	int r = 0;

	/* Options that are not mount flags are the filesystem's: only a cgroup2 mount of our
	 * own takes them (the kernel checks them); anything else would be dropped silently. */
	if (m->data && *m->data && !(cgroup_host_is_v2() && new_cgroupns))
		return hull_err_setx(err, EINVAL, "options \"%s\": unknown for a cgroup mount",
				     m->data);
	fd = mount_target_open(root_fd, m->destination, true, err);
	if (fd < 0)
		return fd;
	fd_proc_path(target, fd);
	if (cgroup_host_is_v2()) {
		struct hier v2 = { .point = (char *)"/sys/fs/cgroup/", .v2 = true };

		if (new_cgroupns) {
			if (mount("cgroup2", target, "cgroup2", m->flags & ~MS_REMOUNT, m->data) < 0)
				return hull_err_set(err, errno, "mount cgroup2 on %s%s%s",
						    m->destination, m->data ? " with " : "",
						    m->data ? m->data : "");
			return 0;
		}
		find_own(&v2, 1);
		{
			cleanup_free char *src = xasprintf("/sys/fs/cgroup%s", v2.own ? v2.own : "");
			cleanup_close int top = -1;
			unsigned long fl = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);

			free(v2.own);
			if (mount(src, target, NULL, MS_BIND, NULL) < 0)
				return hull_err_set(err, errno, "bind mount %s on %s", src,
						    m->destination);
			/* The fd names the covered directory: reopen to reach the mount. */
			top = path_open_in_root(root_fd, m->destination, O_PATH | O_DIRECTORY, 0, 0);
			if (top < 0)
				return hull_err_set(err, -top, "reopen %s", m->destination);
			return mount_set_attrs(top,
					       ((fl & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0) |
						       ((fl & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
						       ((fl & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) |
						       ((fl & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0),
					       0, false, m->destination, err);
		}
	}
	/* v1: a tmpfs to hold one directory per hierarchy. */
	if (mount("tmpfs", target, "tmpfs",
		  (m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), "mode=755") < 0)
		return hull_err_set(err, errno, "mount tmpfs on %s", m->destination);
	dir = path_open_in_root(root_fd, m->destination, O_RDONLY | O_DIRECTORY, 0, 0);
	if (dir < 0)
		return hull_err_set(err, -dir, "open %s", m->destination);
	n = host_hiers(h);
	for (size_t i = 0; i < n && r == 0; i++)
		r = mount_hier(dir, &h[i], m, new_cgroupns, err);
	hiers_free(h, n);
	if (r < 0)
		return r;
	if (m->flags & MS_RDONLY) {
		cleanup_close int top = path_open_in_root(root_fd, m->destination,
							  O_PATH | O_DIRECTORY, 0, 0);

		if (top < 0)
			return hull_err_set(err, -top, "reopen %s", m->destination);
		/* Recursive: every hierarchy under it too, whatever mount_hier() did. */
		return mount_set_attrs(top, MOUNT_ATTR_RDONLY, 0, true, m->destination, err);
	}
	return 0;
}
