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

int agent_mount_target(int root, const char *target)
{
	char prefix[HULL_AGENT_MOUNT_PATH_MAX + 1];
	size_t len = strlen(target);
	int fd = -1;

	if (target[0] != '/' || len > HULL_AGENT_MOUNT_PATH_MAX)
		return -EINVAL;
	for (size_t i = 1; i <= len; i++) {
		const char *comp;
		int parent;

		if (i < len && target[i] != '/')
			continue;
		memcpy(prefix, target, i);
		prefix[i] = '\0';
		comp = strrchr(prefix, '/') + 1;
		if (!*comp || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, ".."))
			return fd >= 0 ? (close(fd), -EINVAL) : -EINVAL;
		parent = fd >= 0 ? fd : root;
		/* made inside the directory resolved so far: never through a symlink */
		if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
			int e = -errno;

			if (fd >= 0)
				close(fd);
			return e;
		}
		if (fd >= 0)
			close(fd);
		fd = open_in_root(root, prefix);
		if (fd < 0)
			return -errno;
	}
	return fd >= 0 ? fd : open_in_root(root, "/");
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
