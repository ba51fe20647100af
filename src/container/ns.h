#pragma once
/* Namespaces (config-linux.md "Namespaces", "User namespace mappings"). */
#include <sys/types.h>

#include "common/error.h"
#include "oci/spec.h"

/* clone flags for the namespaces config.json asks to create (those without a path). */
int ns_clone_flags(const struct oci_spec *s);

/*
 * Child side: setns() into every namespace given by path, user first (it grants the
 * capabilities needed to join the others); pid is handled by ns_pid_enter_for_children().
 */
int ns_join_paths(const struct oci_spec *s, struct hull_err *err);

/*
 * Parent side, before clone: when linux.namespaces has a pid namespace path, join it for
 * our children only and return an fd on our own pid namespace for ns_pid_restore(); -1 if
 * there is nothing to do; -errno on failure.
 */
int ns_pid_enter_for_children(const struct oci_spec *s, struct hull_err *err);
void ns_pid_restore(int saved_fd);

/* Parent side: write uid_map and gid_map of the child's new user namespace. */
int ns_write_idmaps(pid_t pid, const struct oci_spec *s, struct hull_err *err);

/* Child side, after the parent placed us in our cgroup: unshare a new cgroup namespace. */
int ns_cgroup_setup(const struct oci_spec *s, struct hull_err *err);

/* Child side: unshare a time namespace and set its offsets (they apply from execve on). */
int ns_time_setup(const struct oci_spec *s, struct hull_err *err);
