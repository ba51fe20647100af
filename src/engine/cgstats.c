#include "engine/cgstats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/proccgroup.h"

enum cg_ctl {
	CG_MEMORY,
	CG_CPUACCT,
	CG_PIDS,
	CG_UNIFIED,
	CG_CTL_COUNT,
};

static const char *const ctl_name[CG_CTL_COUNT] = { "memory", "cpuacct", "pids", "" };

static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/*
 * The directory of each controller's cgroup of pid: the mount point of the hierarchy that
 * carries it (mountinfo) joined with pid's path in it (/proc/pid/cgroup, minus the mount's
 * own root). dirs[k] is NULL where there is none.
 */
static void find_dirs(pid_t pid, char *dirs[CG_CTL_COUNT])
{
	struct proc_cgroup cg;
	cleanup_free char *mi = NULL;
	const char *paths[CG_CTL_COUNT] = { 0 };
	char *save = NULL;
	size_t len;

	if (proc_cgroup_read(pid, &cg) < 0)
		return;
	if (fd_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 22, &mi, &len) < 0) {
		proc_cgroup_free(&cg);
		return;
	}
	for (int k = 0; k < CG_CTL_COUNT; k++) {
		const struct proc_cgroup_line *l = proc_cgroup_find(&cg, ctl_name[k]);

		paths[k] = l ? l->path : NULL;
	}
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS" */
	for (char *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char root[512], mnt[512], fstype[32], super[512];
		const char *dash = strstr(l, " - ");

		if (!dash || sscanf(l, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
			continue;
		for (int k = 0; k < CG_CTL_COUNT; k++) {
			size_t rl = strlen(root);
			const char *rest;

			if (!paths[k] || dirs[k])
				continue;
			if (k == CG_UNIFIED ? strcmp(fstype, "cgroup2") != 0
					    : strcmp(fstype, "cgroup") != 0 ||
						      !list_has(super, ctl_name[k]))
				continue;
			if (strcmp(root, "/") == 0)
				rl = 0;
			else if (strncmp(paths[k], root, rl) != 0 ||
				 (paths[k][rl] != '/' && paths[k][rl] != '\0'))
				continue; /* pid's cgroup is not visible under this mount */
			rest = paths[k] + rl;
			dirs[k] = xasprintf("%s%s", mnt, rest);
		}
	}
	proc_cgroup_free(&cg);
}

/* The first number in dir/file (after key when key is not NULL), or -1 */
static int read_u64(const char *dir, const char *file, const char *key, uint64_t *ret)
{
	cleanup_free char *path = NULL;
	cleanup_free char *buf = NULL;
	const char *p;
	size_t len;

	if (!dir)
		return -1;
	path = xasprintf("%s/%s", dir, file);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 16, &buf, &len) < 0)
		return -1;
	p = buf;
	if (key) {
		size_t kl = strlen(key);

		for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
				break;
		if (!p)
			return -1;
		p += kl + 1;
	}
	if (strncmp(p, "max", 3) == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	*ret = strtoull(p, NULL, 10);
	return 0;
}

int ctr_cgroup_stats(pid_t pid, struct ctr_cgstats *ret)
{
	char *dirs[CG_CTL_COUNT] = { 0 };
	const char *mem, *pids;
	uint64_t v = 0;

	memset(ret, 0, sizeof(*ret));
	find_dirs(pid, dirs);
	/* docker's usage: without the inactive page cache, which the kernel drops first */
	if ((mem = dirs[CG_MEMORY]) && read_u64(mem, "memory.usage_in_bytes", NULL,
						 &ret->mem_usage) == 0 &&
	    read_u64(mem, "memory.limit_in_bytes", NULL, &ret->mem_limit) == 0) {
		ret->has_mem = true;
		if (read_u64(mem, "memory.stat", "total_inactive_file", &v) == 0 &&
		    v < ret->mem_usage)
			ret->mem_usage -= v;
		/* v1 says "no limit" with the largest page-aligned long */
		if (ret->mem_limit >= (uint64_t)INT64_MAX - 4096 * 2)
			ret->mem_limit = UINT64_MAX;
	} else if ((mem = dirs[CG_UNIFIED]) &&
		   read_u64(mem, "memory.current", NULL, &ret->mem_usage) == 0 &&
		   read_u64(mem, "memory.max", NULL, &ret->mem_limit) == 0) {
		ret->has_mem = true;
		if (read_u64(mem, "memory.stat", "inactive_file", &v) == 0 && v < ret->mem_usage)
			ret->mem_usage -= v;
	}
	if (read_u64(dirs[CG_CPUACCT], "cpuacct.usage", NULL, &ret->cpu_ns) == 0) {
		ret->has_cpu = true;
	} else if (read_u64(dirs[CG_UNIFIED], "cpu.stat", "usage_usec", &v) == 0) {
		ret->has_cpu = true;
		ret->cpu_ns = v * 1000;
	}
	pids = dirs[CG_PIDS] ? dirs[CG_PIDS] : dirs[CG_UNIFIED];
	if (read_u64(pids, "pids.current", NULL, &ret->pids) == 0 &&
	    read_u64(pids, "pids.max", NULL, &ret->pids_limit) == 0)
		ret->has_pids = true;
	for (int k = 0; k < CG_CTL_COUNT; k++)
		free(dirs[k]);
	return ret->has_mem || ret->has_cpu || ret->has_pids ? 0 : -ENOENT;
}
