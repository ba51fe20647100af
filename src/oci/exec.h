#pragma once
/*
 * exec's internals (the API is oci_runtime_exec() in runtime.h). Internal to src/oci.
 */
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "container/seccomp.h"
#include "oci/runtime.h"
#include "spec/spec.h"
#include "oci/state.h"

/*
 * Move the calling process into the container's cgroup as the runtime recorded it at create
 * (state_cgroup(): host paths, whatever the caller's or the init's cgroup namespace), or
 * into the sub-cgroups of it that subs (exec --cgroup: "PATH" or "CTRL[,CTRL]:PATH") name.
 * A state file without a recorded cgroup (an older runtime's) falls back to the init's
 * /proc/<pid>/cgroup, relative to the caller's cgroup namespace; a hierarchy the caller
 * cannot see there is skipped.
 */
int exec_cgroup_join(const struct state_rec *rec, char *const *subs, struct hull_err *err);

/* process.rlimits' RLIMIT_NPROC (the last one given), or NULL. */
const struct oci_rlimit *exec_nproc(const struct oci_process *p);

/* What the caller (exec.c) hands to its child (exec-child.c). */
struct exec_ctx {
	struct oci_spec *spec; /* process replaced or overridden */
	const struct oci_exec_opts *opts;
	pid_t init_pid;
	int init_pidfd;
	int root_fd;    /* /proc/<init>/root, O_PATH */
	int console_fd; /* connected console socket, or -1 */
	int sync_fd;    /* the child's end */
	int waiter_fd;  /* sealed memfd of hull-oci-wait (waiter-fd.h) */
	int plan_fd;    /* memfd the caller writes the waiter's plan into */
	int ns_flags;   /* namespaces of the init's that differ from ours, pid included */
	const struct state_rec *rec;
	struct seccomp_filter sec; /* linux.seccomp, built by the caller; no insns: none */
	int listener;   /* connected to linux.seccomp.listenerPath, or -1 */
	bool sec_early; /* the child installs the filter before the uid switch (runc's order) */
	uint64_t keep;  /* capabilities kept through the uid switch for the waiter's seccomp(2) */
	bool sched_by_caller; /* process.scheduler does not survive a fork: the caller sets it */
};

/*
 * Whether the waiter's plan can be written only once the process's pid is known (the
 * listener's message names it; a scheduler is set on it): the process then waits for the
 * caller's go.
 */
bool exec_plan_needs_pid(const struct exec_ctx *x);

/*
 * The child, in the caller's pid namespace: joins the container, sets the process up and
 * execs the waiter in exec mode (waiter/plan.h), which forks the process into the
 * container's pid namespace and sends its pid. Errors go to x->sync_fd (SYNC_ERR).
 */
void exec_child(struct exec_ctx *x) __attribute__((noreturn));
