#pragma once
/*
 * The mount that holds a path, from /proc/self/mountinfo (proc(5)): its mount point and
 * whether it is shared (a peer group, "shared:N") or a slave ("master:N"). The engine asks it
 * before a bind with shared or slave propagation, as docker does.
 */
#include <stdbool.h>
#include <stddef.h>

struct mount_prop {
	char mount_point[4096];
	bool shared, slave;
};

/*
 * The mount whose mount point is the longest prefix of path (an absolute path without
 * symlinks: realpath's), the last one of that point when several are stacked. text is
 * mountinfo's content (NUL-terminated). 0, or -ENOENT when no line matches (-EINVAL on a
 * relative path).
 */
int mountinfo_find(const char *text, const char *path, struct mount_prop *ret);
/* The same on this process's /proc/self/mountinfo; -errno when it cannot be read. */
int mountinfo_find_self(const char *path, struct mount_prop *ret);
