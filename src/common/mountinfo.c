/* The mount that holds a path (mountinfo.h). */
#include "common/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo: decode src[0..n) into dst. */
static void unescape(const char *src, size_t n, char *dst, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		if (src[i] == '\\' && i + 3 < n &&
		    src[i + 1] >= '0' && src[i + 1] <= '3' && src[i + 2] >= '0' &&
		    src[i + 2] <= '7' && src[i + 3] >= '0' && src[i + 3] <= '7') {
			dst[k++] = (char)((src[i + 1] - '0') * 64 + (src[i + 2] - '0') * 8 +
					  (src[i + 3] - '0'));
			i += 3;
		} else {
			dst[k++] = src[i];
		}
	}
	dst[k] = '\0';
}

/* mp holds path: equal, "/" or a prefix followed by '/' */
static size_t holds(const char *mp, const char *path)
{
	size_t n = strlen(mp);

	if (strcmp(mp, "/") == 0)
		return 1;
	if (strncmp(mp, path, n) == 0 && (path[n] == '\0' || path[n] == '/'))
		return n + 1;
	return 0;
}

/* Field i (0-based, space-separated) of line [s, e): its start and length, or NULL. */
static const char *field(const char *s, const char *e, unsigned i, size_t *len)
{
	for (; i > 0 && s < e; i--) {
		s = memchr(s, ' ', (size_t)(e - s));
		if (!s)
			return NULL;
		s++;
	}
	if (s >= e)
		return NULL;
	*len = (size_t)((const char *)(memchr(s, ' ', (size_t)(e - s)) ?: e) - s);
	return s;
}

int mountinfo_find(const char *text, const char *path, struct mount_prop *ret)
{
	size_t best = 0;

	if (path[0] != '/')
		return -EINVAL;
	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n') ?: s + strlen(s), *f, *sep;
		char mp[sizeof(ret->mount_point)];
		size_t len, score;

		f = field(s, e, 4, &len);
		if (f) {
			unescape(f, len, mp, sizeof(mp));
			score = holds(mp, path);
			/* >=: a later mount at the same point is on top */
			if (score && score >= best) {
				best = score;
				memcpy(ret->mount_point, mp, sizeof(mp));
				/* optional fields: between field 6 and " - " */
				sep = strstr(f, " - ");
				if (sep && sep > e)
					sep = NULL;
				ret->shared = ret->slave = false;
				for (const char *o = f + len; sep && o < sep; o++) {
					if (strncmp(o, " shared:", 8) == 0)
						ret->shared = true;
					if (strncmp(o, " master:", 8) == 0)
						ret->slave = true;
				}
			}
		}
		s = *e ? e + 1 : e;
	}
	return best ? 0 : -ENOENT;
}

int mountinfo_find_self(const char *path, struct mount_prop *ret)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 64 << 20, &text, &len);

	if (r < 0)
		return r;
	return mountinfo_find(text, path, ret);
}
