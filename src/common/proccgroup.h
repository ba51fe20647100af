#pragma once
/* One reader of /proc/PID/cgroup: v1 lines "ID:CONTROLLERS:PATH" and v2's "0::PATH". */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc_cgroup_line {
	unsigned long id;	 /* the hierarchy id; 0 for v2 */
	const char *controllers; /* "cpu,cpuacct", "name=systemd", "" for v2 */
	const char *path;	 /* "/user.slice/..." (may contain ':') */
};

struct proc_cgroup {
	char *buf; /* the text, split in place; the lines point into it */
	struct proc_cgroup_line *lines;
	size_t n;
};

/* Parses text (copied). 0, or -EINVAL naming nothing: a line without "ID:...:/" is bad. */
int proc_cgroup_parse(const char *text, struct proc_cgroup *ret);

/* Reads and parses /proc/PID/cgroup (pid 0: /proc/self/cgroup). 0 or -errno. */
int proc_cgroup_read(pid_t pid, struct proc_cgroup *ret);

void proc_cgroup_free(struct proc_cgroup *cg);

/* Is ctl one of line's comma-separated controllers ("" matches v2's unified line only)? */
bool proc_cgroup_line_has(const struct proc_cgroup_line *l, const char *ctl);

/* The line for ctl ("" for v2's), or NULL */
const struct proc_cgroup_line *proc_cgroup_find(const struct proc_cgroup *cg, const char *ctl);
