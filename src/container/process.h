#pragma once
/*
 * The container process itself, the last steps before execve (runtime-spec config.md
 * "Process"): console, rlimits, user and groups, capabilities, no_new_privs, the program.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "spec/spec.h"

/*
 * Open a pty inside the container (after pivot_root), send its master to the console socket
 * sock_fd (SCM_RIGHTS, as runc) and make the slave our stdio and controlling terminal.
 */
int process_console(int sock_fd, const struct oci_process *p, struct hull_err *err);

/*
 * The same pty set-up; bind_console: also bind the slave over /dev/console (the init's
 * console; an exec's pty goes away with it, so `exec -t` passes false).
 */
int process_pty(int sock_fd, const struct oci_process *p, bool bind_console,
		struct hull_err *err);

/* Connect to the --console-socket unix socket at path; returns the fd. */
int process_console_connect(const char *path, struct hull_err *err);

/* setrlimit() each process.rlimits entry; errors name the rlimit. */
int process_rlimits(const struct oci_process *p, struct hull_err *err);

/* oom_score_adj, through /proc/self. */
int process_oom_score_adj(const struct oci_process *p, struct hull_err *err);

/*
 * additionalGids, gid, uid, then capabilities (bounding, permitted, effective, inheritable,
 * ambient) when process.capabilities is given, then no_new_privs.
 */
int process_set_user(const struct oci_process *p, struct hull_err *err);

/*
 * As process_set_user, keeping the capabilities in the mask keep in every set (ambient
 * included) for one more exec: see caps.h. Only meaningful with p->has_caps.
 */
int process_set_user_keep(const struct oci_process *p, uint64_t keep, struct hull_err *err);

/*
 * Resolve args[0] the way execvp(3) would, using PATH from the process env (a default
 * PATH if it has none). *ret_path is a heap string.
 */
int process_find_exec(const struct oci_process *p, char **ret_path, struct hull_err *err);

/* The env value of name in p->env, or NULL. */
/*
 * p->env with HOME added from the container's /etc/passwd for p->uid ("/" when it has no
 * entry), as runc and crun; NULL when p->env has HOME. Call inside the container's root.
 */
char **process_env_with_home(const struct oci_process *p);

/* Give p->uid the pipes and terminal on fds 0-2 (runc's fixStdioPermissions); as root. */
void process_stdio_chown(const struct oci_process *p);

const char *process_getenv(const struct oci_process *p, const char *name);
