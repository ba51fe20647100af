#pragma once
/*
 * Counters of a running container's cgroups (for `hull stats`), found from its init's
 * /proc/<pid>/cgroup and the host's cgroup mounts (/proc/self/mountinfo): cgroup v1
 * controllers (memory, cpuacct, pids) and, for what v1 lacks, the v2 hierarchy.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ctr_cgstats {
	bool has_mem;
	uint64_t mem_usage;  /* bytes, page cache that can be dropped left out (as docker) */
	uint64_t mem_limit;  /* bytes; UINT64_MAX: no limit */
	bool has_cpu;
	uint64_t cpu_ns;     /* CPU time used by the cgroup */
	bool has_pids;
	uint64_t pids;       /* tasks in the cgroup */
	uint64_t pids_limit; /* UINT64_MAX: no limit */
};

/* Read the counters of the cgroups that pid is in. 0, or -errno when none can be read. */
int ctr_cgroup_stats(pid_t pid, struct ctr_cgstats *ret);
