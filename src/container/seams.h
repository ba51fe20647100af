#pragma once
/*
 * Hook points for the parts of the runtime that later issues add (cgroups, seccomp).
 * The runtime calls these at the right moments; the default tables do nothing, and the
 * cgroup/seccomp code replaces them by pointing container_cgroup_ops / container_seccomp_ops
 * at its own tables.
 */
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "oci/spec.h"

struct cgroup_ops {
	/* Parent, after clone and before the child goes on: create the cgroup from
	 * linux.cgroupsPath / linux.resources and move pid into it. */
	int (*enter)(const struct oci_spec *s, const char *id, pid_t pid, struct hull_err *err);
	/* kill --all: signal every process of the container. Return -ENOSYS if unsupported. */
	int (*kill_all)(const char *id, int sig, struct hull_err *err);
	/* ps: pids of the container (heap array in *ret, count returned), -ENOSYS if unknown. */
	int (*pids)(const char *id, pid_t **ret, struct hull_err *err);
	/* delete: remove the cgroup. */
	int (*destroy)(const char *id, struct hull_err *err);
};

struct seccomp_ops {
	/* Child, last thing before execve: load linux.seccomp. */
	int (*load)(const struct oci_spec *s, struct hull_err *err);
};

extern const struct cgroup_ops *container_cgroup_ops;
extern const struct seccomp_ops *container_seccomp_ops;
