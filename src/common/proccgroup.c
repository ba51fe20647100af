/* /proc/PID/cgroup (see proccgroup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/proccgroup.h"

/* The kernel writes one line per hierarchy: a few dozen at most */
#define PROC_CGROUP_MAX (1 << 16)

static int parse_line(char *l, struct proc_cgroup_line *ret)
{
	char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *end = NULL;

	if (!c2 || c1 == l || c2[1] != '/')
		return -EINVAL;
	*c1 = *c2 = '\0';
	errno = 0;
	ret->id = strtoul(l, &end, 10);
	if (errno || *end || *l < '0' || *l > '9')
		return -EINVAL;
	if ((ret->id == 0) != (c1[1] == '\0'))
		return -EINVAL; /* v2's line is "0::", and only it has no controllers */
	ret->controllers = c1 + 1;
	ret->path = c2 + 1;
	return 0;
}

int proc_cgroup_parse(const char *text, struct proc_cgroup *ret)
{
	size_t cap = 1;
	char *save = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->buf = xstrdup(text);
	for (const char *p = text; *p; p++)
		cap += *p == '\n';
	ret->lines = xcalloc(cap, sizeof(*ret->lines));
	for (char *l = strtok_r(ret->buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if ((r = parse_line(l, &ret->lines[ret->n])) < 0) {
			proc_cgroup_free(ret);
			return r;
		}
		ret->n++;
	}
	return 0;
}

int proc_cgroup_read(pid_t pid, struct proc_cgroup *ret)
{
	char path[64];
	char *buf = NULL;
	int r;

	if (pid)
		(void)snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		(void)snprintf(path, sizeof(path), "/proc/self/cgroup");
	if ((r = fd_read_file_at(AT_FDCWD, path, PROC_CGROUP_MAX, &buf, NULL)) < 0)
		return r;
	r = proc_cgroup_parse(buf, ret);
	free(buf);
	return r;
}

void proc_cgroup_free(struct proc_cgroup *cg)
{
	free(cg->buf);
	free(cg->lines);
	memset(cg, 0, sizeof(*cg));
}

bool proc_cgroup_line_has(const struct proc_cgroup_line *l, const char *ctl)
{
	size_t n = strlen(ctl);

	if (!*ctl)
		return l->id == 0 && !*l->controllers;
	for (const char *p = l->controllers; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, ctl, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

const struct proc_cgroup_line *proc_cgroup_find(const struct proc_cgroup *cg, const char *ctl)
{
	for (size_t i = 0; i < cg->n; i++)
		if (proc_cgroup_line_has(&cg->lines[i], ctl))
			return &cg->lines[i];
	return NULL;
}
