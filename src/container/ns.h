#pragma once
/* Namespaces (config-linux.md "Namespaces", "User namespace mappings"). */
#include <sys/types.h>

#include "common/error.h"
#include "spec/spec.h"

/* clone flags for the namespaces config.json asks to create (those without a path). */
int ns_clone_flags(const struct oci_spec *s);

/*
 * Child side: setns() into every namespace given by path, user first (it grants the
 * capabilities needed to join the others); pid is handled by ns_pid_enter_for_children().
 */
int ns_join_paths(const struct oci_spec *s, struct hull_err *err);

/*
 * Parent side, before clone: when linux.namespaces has a pid namespace path, join it for
 * our children only and set *ret_saved to an fd on our own pid namespace for
 * ns_pid_restore(). Returns 0 (*ret_saved is -1 when there was nothing to do) or -errno:
 * no return value means both "nothing to do" and a failure (an EPERM is -1).
 */
int ns_pid_enter_for_children(const struct oci_spec *s, int *ret_saved, struct hull_err *err);
void ns_pid_restore(int saved_fd);

/* Parent side: write uid_map and gid_map of the child's new user namespace. */
int ns_write_idmaps(pid_t pid, const struct oci_spec *s, struct hull_err *err);

/*
 * Child side, in a network namespace of our own (not one joined by path): bring the loopback
 * interface up, as docker, podman, runc's users (through the CNI loopback plugin) and crun
 * expect: a new namespace starts with lo down, and 127.0.0.1 unreachable.
 */
int ns_net_setup(const struct oci_spec *s, struct hull_err *err);

/*
 * Parent side, before clone: refuse a linux.sysctl key whose namespace is joined by a path
 * that is the runtime's own namespace (the model has already refused keys of a namespace the
 * container lacks, spec_sysctl_ns()). runc makes the same check for net.*; here for all three.
 */
int ns_sysctl_check(const struct oci_spec *s, struct hull_err *err);

/* Child side, after the parent placed us in our cgroup: unshare a new cgroup namespace. */
int ns_cgroup_setup(const struct oci_spec *s, struct hull_err *err);

/*
 * Parent side, before clone: unshare a new time namespace for our children and write its
 * offsets (or join the one given by path), setting *ret_saved to an fd on our own time
 * namespace for ns_time_restore() (-1 when config.json has no time namespace). Returns 0 or
 * -errno (with *ret_saved -1 and our namespace unchanged). The child
 * enters it by being forked: on kernels before 6.x an execve() does not switch time
 * namespaces, so unsharing in the child would leave the container's own process outside.
 * The caller must be single-threaded (setns(2) of a time namespace requires it).
 */
int ns_time_enter_for_children(const struct oci_spec *s, int *ret_saved, struct hull_err *err);
void ns_time_restore(int saved_fd);

/*
 * The CLONE_NEW* flags of the namespaces in which process pid differs from the caller (the
 * ones an exec into pid's container must join). Returns the flags (>= 0) or -errno.
 */
int ns_differing(pid_t pid);

/*
 * Join the namespaces flags (CLONE_NEW*) of the process pidfd refers to (pid, in our pid
 * namespace): one setns(pidfd, flags) where the kernel allows it (5.8+), which joins them
 * all at once (the user namespace first), else /proc/<pid>/ns/<name> one at a time, user
 * first. A pid namespace applies to our children only (setns(2)).
 */
int ns_join_process(int pidfd, pid_t pid, int flags, struct hull_err *err);
