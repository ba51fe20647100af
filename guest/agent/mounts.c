/*
 * MOUNT (proto.h): a virtio-fs share of the host mounted inside the container's root, before
 * its process starts. The target is resolved in the root the agent moved into (boot.c), one
 * component at a time with openat2(RESOLVE_IN_ROOT): a symlink in the image ("/data ->
 * /etc", or "../../x") never leads the mount anywhere but inside the root, and ".." is
 * refused outright (the engine sends normalised destinations).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "proto.h"

static int open_in_root(int root, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

#define LINKS_MAX 40 /* symlinks followed while making a target, as the kernel's limit */

static bool has_dotdot(const char *p)
{
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '/' || !c[2]))
			return true;
	return false;
}

/*
 * comp (the last component of prefix, in the directory parent) is a symlink whose target is
 * missing: path becomes the link's target spliced in its place, rest after it. 0, or -errno.
 */
static int splice_link(int parent, const char *prefix, const char *comp, const char *rest,
		       char *path)
{
	char link[HULL_AGENT_MOUNT_PATH_MAX + 1], out[2 * HULL_AGENT_MOUNT_PATH_MAX + 4];
	ssize_t n = readlinkat(parent, comp, link, sizeof(link) - 1);
	int k;

	if (n < 0)
		return -ENOENT; /* not a link: the component itself went away */
	link[n] = '\0';
	if (link[0] == '/')
		k = snprintf(out, sizeof(out), "%s%s", link, rest);
	else
		k = snprintf(out, sizeof(out), "%.*s/%s%s", (int)(comp - prefix - 1), prefix,
			     link, rest);
	if (k < 0 || (size_t)k > HULL_AGENT_MOUNT_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(path, out, (size_t)k + 1);
	return 0;
}

/*
 * One pass over path: each component made (mkdirat in the directory resolved so far) and the
 * prefix resolved in root. The fd of the whole path; or -EAGAIN with path rewritten when a
 * symlink on the way points at something missing; or -errno.
 */
static int target_walk(int root, char *path)
{
	char prefix[HULL_AGENT_MOUNT_PATH_MAX + 1];
	size_t len = strlen(path);
	int fd = open_in_root(root, "/");

	if (fd < 0)
		return -errno;
	for (size_t i = 1; i <= len; i++) {
		const char *comp;
		int next, r;

		if (i < len && path[i] != '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		comp = strrchr(prefix, '/') + 1;
		if (!*comp || !strcmp(comp, "."))
			continue;
		/* ".." (from a link's target) is resolved by openat2: it stops at the root */
		if (strcmp(comp, "..") && mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			close(fd);
			return r;
		}
		next = open_in_root(root, prefix);
		if (next < 0) {
			r = errno == ENOENT ? splice_link(fd, prefix, comp, path + i, path) : -errno;
			close(fd);
			return r == 0 ? -EAGAIN : r;
		}
		close(fd);
		fd = next;
	}
	return fd;
}

int agent_mount_target(int root, const char *target)
{
	char path[HULL_AGENT_MOUNT_PATH_MAX + 1];
	size_t len = strlen(target);

	/* the host's target is absolute and normalised; links in the image may say ".." */
	if (target[0] != '/' || len > HULL_AGENT_MOUNT_PATH_MAX || has_dotdot(target))
		return -EINVAL;
	memcpy(path, target, len + 1);
	for (unsigned hops = 0; hops <= LINKS_MAX; hops++) {
		int r = target_walk(root, path);

		if (r != -EAGAIN)
			return r;
	}
	return -ELOOP;
}

int agent_mount_parse(const uint8_t *pl, uint32_t len, uint32_t *ret_flags,
		      const char **ret_tag, const char **ret_target)
{
	const char *tag, *target, *end = (const char *)pl + len;
	uint32_t flags;

	if (len < 4)
		return -EINVAL;
	flags = hull_agent_get32(pl);
	tag = (const char *)pl + 4;
	target = memchr(tag, '\0', (size_t)(end - tag));
	if (flags & ~HULL_AGENT_MOUNT_RO || !target || target == tag ||
	    (size_t)(target - tag) > HULL_AGENT_MOUNT_TAG_MAX)
		return -EINVAL;
	target++;
	if (target >= end || memchr(target, '\0', (size_t)(end - target)) != end - 1)
		return -EINVAL; /* not one NUL-terminated string ending the payload */
	*ret_flags = flags;
	*ret_tag = tag;
	*ret_target = target;
	return 0;
}

int agent_mount(const uint8_t *pl, uint32_t len)
{
	const char *tag, *target;
	char fdpath[64];
	uint32_t flags;
	int root, fd, r = agent_mount_parse(pl, len, &flags, &tag, &target);

	if (r < 0)
		return r;
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	fd = agent_mount_target(root, target);
	close(root);
	if (fd < 0) {
		agent_log("mount %s on %s: %s", tag, target, strerror(-fd));
		return fd;
	}
	/* the fd's path: the directory resolved above, whatever the names do meanwhile */
	(void)snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if (mount(tag, fdpath, "virtiofs", flags & HULL_AGENT_MOUNT_RO ? MS_RDONLY : 0, NULL) < 0) {
		r = -errno;
		agent_log("mount virtiofs %s on %s: %s", tag, target, strerror(errno));
	}
	close(fd);
	return r;
}
