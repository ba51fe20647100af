#pragma once
/*
 * cgroups for a container, on cgroup v1 (one hierarchy per controller, as on this host, with
 * an optional cgroup2 at /sys/fs/cgroup/unified) and on pure cgroup v2 (/sys/fs/cgroup is
 * cgroup2). The back end is chosen by looking at the host.
 *
 * A container's cgroup is a set of directories (struct cgroup_paths), one per mounted
 * hierarchy on v1 and one on v2. They are resolved once at create time, from
 * linux.cgroupsPath (absolute: from each hierarchy's root; relative: from the caller's own
 * cgroup in that hierarchy; absent: "<id>" relative, which is what runc 1.1's cgroupfs driver
 * does) and recorded in the
 * container's state, so that later commands find them whatever the caller's cgroup is.
 *
 * linux.resources maps to each back end as runc maps it (runc's libcontainer/cgroups/fs and
 * fs2). Every value is validated before anything is written; update writes all or restores
 * the old values and names the field that failed.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "spec/spec.h"

enum cgroup_ctrl {
	CG_CPU,
	CG_CPUACCT,
	CG_CPUSET,
	CG_MEMORY,
	CG_PIDS,
	CG_BLKIO,
	CG_DEVICES,
	CG_FREEZER,
	CG_HUGETLB,
	CG_NET_CLS,
	CG_NET_PRIO,
	CG_PERF_EVENT,
	CG_RDMA,
	CG_MISC,
	CG_SYSTEMD,  /* the name=systemd hierarchy (no controller) */
	CG_UNIFIED,  /* the cgroup2 directory: the only one on v2, optional on v1 (hybrid) */
	CG_COUNT,
};

struct cgroup_paths {
	bool v2;              /* pure cgroup v2: only dirs[CG_UNIFIED] */
	char *dirs[CG_COUNT]; /* absolute directories; NULL when the hierarchy is not mounted */
};

/* Name of a controller as in /proc/cgroups and the state file ("memory", "unified"). */
const char *cgroup_ctrl_name(enum cgroup_ctrl c);

/* True if /sys/fs/cgroup is a cgroup2 filesystem (pure v2). */
bool cgroup_host_is_v2(void);

/*
 * Resolve the directories of a container's cgroup (see above). ret is filled in (free with
 * cgroup_paths_clear()). Errors name config.json's linux.cgroupsPath.
 */
int cgroup_paths_resolve(const char *cgroups_path, const char *id, struct cgroup_paths *ret,
			 struct hull_err *err);
void cgroup_paths_clear(struct cgroup_paths *p);
/* {"v2":bool,"paths":{"memory":"/sys/fs/cgroup/memory/x",...}} for the state file. */
json_t *cgroup_paths_to_json(const struct cgroup_paths *p);
int cgroup_paths_from_json(json_t *o, struct cgroup_paths *ret, struct hull_err *err);

/*
 * Validate linux.resources of s, create the cgroup directories and apply the resources (no
 * process is in them yet). On failure the directories created are removed again.
 */
int cgroup_create(const struct cgroup_paths *p, const struct oci_spec *s, struct hull_err *err);
/*
 * Move pid into every hierarchy of p; skip_unified: it is in the cgroup2 one already
 * (clone3's CLONE_INTO_CGROUP).
 */
int cgroup_enter(const struct cgroup_paths *p, pid_t pid, bool skip_unified,
		 struct hull_err *err);
/*
 * On pure v2, a directory fd of the container's cgroup for clone3(CLONE_INTO_CGROUP), which
 * starts the child inside it (no migration, so no wait on the kernel's cgroup rwsem); -1 on
 * v1 or on error. The caller closes it.
 */
int cgroup_open_unified(const struct cgroup_paths *p);
/* cgroup_create() then cgroup_enter(); on failure nothing is left. */
int cgroup_create_enter(const struct cgroup_paths *p, const struct oci_spec *s, pid_t pid,
			struct hull_err *err);

/*
 * Change the resources of an existing cgroup. res was parsed by spec_resources_parse (its
 * devices are not touched); where names it in messages ("r.json: resources"). When a write
 * fails, the values already written are restored and the error names the field.
 */
int cgroup_update(const struct cgroup_paths *p, const struct oci_resources *res,
		  const char *where, struct hull_err *err);

/* Remove the cgroup directories (killing what is left in them). Absent ones are fine. */
int cgroup_destroy(const struct cgroup_paths *p, struct hull_err *err);

/* Pids in the cgroup (heap array, count in *ret_n). */
int cgroup_procs(const struct cgroup_paths *p, pid_t **ret, size_t *ret_n, struct hull_err *err);

/* Signal every process of the cgroup (frozen while signalling, as runc does). */
int cgroup_kill_all(const struct cgroup_paths *p, int sig, struct hull_err *err);

/* Freeze (pause) or thaw (resume); returns once the kernel reports the new state. */
int cgroup_freeze(const struct cgroup_paths *p, bool freeze, struct hull_err *err);
bool cgroup_is_frozen(const struct cgroup_paths *p);

/* runc's "stats" event data: {"cpu":..,"memory":..,"pids":..,"blkio":..,"hugetlb":..}. */
int cgroup_stats(const struct cgroup_paths *p, json_t **ret, struct hull_err *err);
/* How many processes the kernel's OOM killer has killed in the cgroup so far. */
int cgroup_oom_kills(const struct cgroup_paths *p, uint64_t *ret);

/*
 * The container's cgroup mount m (type cgroup or cgroup2) inside root_fd: its own cgroups
 * only (see cgroup-mount.c). Runs in the init before pivot_root.
 */
int cgroup_mount_in_root(int root_fd, const struct oci_mount *m, bool new_cgroupns,
			 struct hull_err *err);
