#include "engine/procs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"

static char *ns_of(pid_t pid)
{
	char path[64], buf[64];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static int read_proc(pid_t pid, struct ctr_proc *p)
{
	char path[64];
	cleanup_free char *stat = NULL;
	cleanup_free char *status = NULL;
	cleanup_free char *cmdline = NULL;
	size_t len = 0;
	unsigned long long ut = 0, st = 0;
	long rss = 0;
	int ppid = 0;
	char *close_paren;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (fd_read_file_at(AT_FDCWD, path, 4096, &stat, NULL) < 0)
		return -1;
	close_paren = strrchr(stat, ')');
	if (!close_paren || sscanf(close_paren + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
				   "%*d %*d %*d %*d %*d %*d %*u %*u %ld", &ppid, &ut, &st, &rss) != 4)
		return -1;
	p->pid = pid;
	p->ppid = ppid;
	p->cpu_ticks = ut + st;
	p->rss_bytes = (uint64_t)(rss > 0 ? rss : 0) * (uint64_t)sysconf(_SC_PAGESIZE);
	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 16, &status, NULL) == 0) {
		char *u = strstr(status, "\nUid:");

		p->uid = u ? (uid_t)strtoul(u + 5, NULL, 10) : 0;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 16, &cmdline, &len) == 0 && len > 0) {
		for (size_t i = 0; i + 1 < len; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		p->cmd = steal_ptr(&cmdline);
	} else {
		char *open_paren = strchr(stat, '(');

		p->cmd = open_paren ? xasprintf("[%.*s]", (int)(close_paren - open_paren - 1),
						open_paren + 1)
				    : xstrdup("?");
	}
	return 0;
}

int ctr_procs(struct ctr *c, struct ctr_proc **ret, size_t *ret_n, struct hull_err *err)
{
	cleanup_free char *ns = NULL;
	struct ctr_proc *v = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	if (ctr_status_live(c) != CTR_RUNNING || c->state.pid <= 0)
		return hull_err_setx(err, EINVAL, "container %s is not running", c->name);
	ns = ns_of(c->state.pid);
	if (!ns)
		return hull_err_set(err, errno, "container %s: /proc/%d", c->name, c->state.pid);
	d = opendir("/proc");
	if (!d)
		return hull_err_set(err, errno, "/proc");
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		cleanup_free char *pns = NULL;
		struct ctr_proc p = { 0 };

		if (pid <= 0)
			continue;
		pns = ns_of(pid);
		if (!pns || strcmp(pns, ns) != 0 || read_proc(pid, &p) < 0)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		/* the init first */
		if (pid == c->state.pid && n > 0) {
			v[n] = v[0];
			v[0] = p;
		} else {
			v[n] = p;
		}
		n++;
	}
	(void)closedir(d);
	*ret = v;
	*ret_n = n;
	return 0;
}

void ctr_procs_free(struct ctr_proc *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].cmd);
	free(v);
}
