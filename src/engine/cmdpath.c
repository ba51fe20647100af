#include "engine/cmdpath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "common/strv.h"
#include "engine/run.h"

#define MAX_SYMLINKS 40 /* the kernel's MAXSYMLINKS */

/* The rest of path below mount destination dst ("" for dst itself), or NULL if not below. */
static const char *below(const char *path, const char *dst)
{
	size_t n = strlen(dst);

	while (n > 0 && dst[n - 1] == '/')
		n--;
	if (strncmp(path, dst, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	return path + n + (path[n] == '/');
}

/*
 * Open the symlink-free, normalised container path p (O_PATH|O_NOFOLLOW) where the container
 * will see it: in the source of the topmost bind mount that covers it, or in the image's
 * rootfs. -EAGAIN when another kernel file system (proc, tmpfs) is mounted over it: what it
 * holds is known only in the container.
 */
static int open_visible(int rootfs, json_t *mounts, const char *p)
{
	for (size_t i = json_array_size(mounts); i-- > 0;) {
		json_t *m = json_array_get(mounts, i);
		const char *dst = json_string_value(json_object_get(m, "destination"));
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));
		cleanup_free char *ndst = NULL;
		cleanup_close int sfd = -1;
		const char *rest;

		if (!dst || !type || !src)
			continue;
		ndst = path_normalize(dst);
		rest = below(p, ndst);
		if (!rest)
			continue;
		if (strcmp(type, "bind") != 0)
			return -EAGAIN;
		sfd = open(src, O_PATH | O_CLOEXEC);
		if (sfd < 0)
			return -errno;
		return path_open_in_root(sfd, *rest ? rest : ".", O_PATH | O_NOFOLLOW, 0,
					 RESOLVE_NO_SYMLINKS);
	}
	return path_open_in_root(rootfs, p, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
}

/*
 * Resolve the absolute container path like the kernel will in the container: one component
 * at a time, each looked up where the mounts put it, symlinks followed (relative to where
 * they sit, absolute ones from the container's root). Returns an O_PATH fd on the final
 * file, -errno, or -EAGAIN when a kernel file system decides.
 */
static int resolve_visible(int rootfs, json_t *mounts, const char *path)
{
	cleanup_free char *cur = xstrdup("/");
	cleanup_free char *todo = xstrdup(path);
	int links = 0;

	for (;;) {
		char *slash, *comp, *next;
		struct stat st;
		int fd;

		comp = todo + strspn(todo, "/");
		if (!*comp)
			return open_visible(rootfs, mounts, cur);
		slash = strchr(comp, '/');
		if (slash)
			*slash++ = '\0';
		next = path_join(cur, comp);
		free(cur);
		cur = path_normalize(next);
		free(next);
		fd = open_visible(rootfs, mounts, cur);
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
			char *rest;

			(void)close(fd);
			if (n < 0)
				return -errno;
			if (++links > MAX_SYMLINKS)
				return -ELOOP;
			target[n] = '\0';
			rest = xasprintf("%s/%s", target, slash ? slash : "");
			free(todo);
			todo = rest;
			/* a relative target starts from the link's directory */
			next = target[0] == '/' ? xstrdup("/") : path_join(cur, "..");
			free(cur);
			cur = path_normalize(next);
			free(next);
			continue;
		}
		(void)close(fd);
		comp = xstrdup(slash ? slash : "");
		free(todo);
		todo = comp;
	}
}

/* 0: runnable; -ENOENT; -EACCES (not a regular executable file); -EAGAIN: unknown here. */
static int probe(int rootfs, json_t *mounts, const char *path)
{
	cleanup_close int fd = resolve_visible(rootfs, mounts, path);
	struct stat st;

	if (fd == -EAGAIN)
		return -EAGAIN;
	if (fd < 0)
		return fd == -ENOTDIR || fd == -ELOOP ? -ENOENT : fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode) && (st.st_mode & 0111) ? 0 : -EACCES;
}

int ctr_command_check(int rootfs, json_t *mounts, const char *cwd, const char *cmd,
		      const char *path_env, int *ret_exit, struct hull_err *err)
{
	cleanup_free char *copy = xstrdup(path_env ? path_env : "");
	bool denied = false;
	int r;

	if (strchr(cmd, '/')) {
		cleanup_free char *abs = path_join(cwd, cmd);

		r = probe(rootfs, mounts, cmd[0] == '/' ? cmd : abs);
		/* a path that exists but cannot be run (no x bit, a directory, another
		 * architecture) is left to the runtime's exec, which says why in runc's words:
		 * one line and one code whichever way the container is started */
		if (r == 0 || r == -EAGAIN || r == -EACCES)
			return 0;
		*ret_exit = EXIT_NOT_FOUND;
		return hull_err_set(err, -r, "exec %s", cmd);
	}
	/* execvp(3): an empty entry is the working directory, as is a relative one's base */
	for (char *d = copy, *end; d; d = end) {
		cleanup_free char *dir = NULL;
		cleanup_free char *p = NULL;

		end = strchr(d, ':');
		if (end)
			*end++ = '\0';
		dir = d[0] == '/' ? xstrdup(d) : path_join(cwd, d);
		p = path_join(dir, cmd);
		r = probe(rootfs, mounts, p);
		if (r == 0 || r == -EAGAIN)
			return 0;
		denied |= r == -EACCES;
	}
	*ret_exit = denied ? EXIT_CANNOT_EXEC : EXIT_NOT_FOUND;
	if (denied)
		return hull_err_setx(err, EACCES, "exec %s: permission denied", cmd);
	return hull_err_setx(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", cmd);
}
