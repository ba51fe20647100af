#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"

int path_open_in_root(int root_fd, const char *path, int flags, mode_t mode,
		      unsigned long long extra_resolve)
{
	struct open_how how = {
		.flags = (unsigned long long)flags | O_CLOEXEC,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

/*
 * One pass of path_mkdirs_in_root over path. Returns the fd, -errno, or 1 with *ret_next set
 * to a new path to restart with when a component is a symlink to a directory that does not
 * exist yet (mkdir -p semantics: create the link's target, scoped to the root).
 */
static int mkdirs_pass(int root_fd, const char *path, mode_t mode, char **ret_next)
{
	cleanup_free char *copy = xstrdup(path);
	cleanup_free char *prefix = xcalloc(1, strlen(path) + 2);
	cleanup_close int cur = -1;
	char *save = NULL;
	size_t plen = 0;

	cur = path_open_in_root(root_fd, "/", O_PATH | O_DIRECTORY, 0, 0);
	if (cur < 0)
		return cur;
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		char target[4096];
		ssize_t n;
		int next;

		if (strcmp(comp, ".") == 0)
			continue;
		/* mkdirat() never follows a symlink in its last component (EEXIST), and the
		 * re-open resolves the whole prefix from root_fd with RESOLVE_IN_ROOT, so
		 * neither ".." nor a symlink, absolute or relative, can climb out. */
		if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST)
			return -errno;
		prefix[plen++] = '/';
		memcpy(prefix + plen, comp, strlen(comp) + 1);
		plen += strlen(comp);
		next = path_open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY, 0, 0);
		if (next == -ENOENT && (n = readlinkat(cur, comp, target, sizeof(target) - 1)) > 0) {
			const char *rest = save && *save ? save : "";
			cleanup_free char *dir = NULL;

			target[n] = '\0';
			prefix[plen - strlen(comp)] = '\0';
			dir = target[0] == '/' ? xstrdup(target) : path_join(prefix, target);
			*ret_next = xasprintf("%s/%s", dir, rest);
			return 1;
		}
		if (next < 0)
			return next;
		(void)close(cur);
		cur = next;
	}
	return steal_fd(&cur);
}

int path_mkdirs_in_root(int root_fd, const char *path, mode_t mode)
{
	cleanup_free char *cur = xstrdup(path);

	/* 40 as the kernel's MAXSYMLINKS: a loop of links ends in ELOOP. */
	for (int links = 0; links < 40; links++) {
		char *next = NULL;
		int r = mkdirs_pass(root_fd, cur, mode, &next);

		if (r != 1)
			return r;
		free(cur);
		cur = next;
	}
	return -ELOOP;
}

int path_mkdir_p(const char *path, mode_t mode)
{
	cleanup_free char *copy = xstrdup(path);

	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)la, a, b);
}

bool path_is_absolute(const char *path)
{
	return path && path[0] == '/';
}

char *path_normalize(const char *path)
{
	size_t len = strlen(path);
	bool abs = path[0] == '/';
	char *out = xmalloc(len + 2);
	size_t o = 0, depth = 0;
	const char *p = path;

	if (abs)
		out[o++] = '/';
	while (*p) {
		const char *start;
		size_t n;

		while (*p == '/')
			p++;
		start = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - start);
		if (n == 0 || (n == 1 && start[0] == '.'))
			continue;
		if (n == 2 && start[0] == '.' && start[1] == '.') {
			if (depth > 0) {
				/* drop the last component and its separator */
				while (o > (abs ? 1U : 0U) && out[o - 1] != '/')
					o--;
				if (o > (abs ? 1U : 0U))
					o--;
				depth--;
			} else if (!abs) {
				if (o > 0)
					out[o++] = '/';
				memcpy(out + o, "..", 2);
				o += 2;
			}
			continue;
		}
		if (o > 0 && out[o - 1] != '/')
			out[o++] = '/';
		memcpy(out + o, start, n);
		o += n;
		depth++;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return out;
}
