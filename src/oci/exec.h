#pragma once
/*
 * exec's internals (the API is oci_runtime_exec() in runtime.h). Internal to src/oci.
 */
#include <sys/types.h>

#include "common/error.h"

/*
 * Move the calling process into every cgroup of process pid (as /proc/<pid>/cgroup names
 * them, relative to the caller's cgroup namespace): v1 hierarchies under /sys/fs/cgroup/
 * <controllers>, the v2 one under the cgroup2 mount (/sys/fs/cgroup or, on a hybrid host,
 * /sys/fs/cgroup/unified). A hierarchy the caller cannot see (not mounted) is skipped.
 */
int exec_cgroup_join(pid_t pid, struct hull_err *err);
