#pragma once
/*
 * `hull exec`: run a process in a running container by joining its namespaces (setns) from
 * /proc/<init>/ns. The runtime library has no exec operation yet, so this is the engine's
 * own: the process gets the container's namespaces, root, environment, user and working
 * directory, but not yet its cgroup, capability set or seccomp filter (docs/engine.md).
 */
#include <stdbool.h>

#include "common/error.h"
#include "engine/container.h"

struct exec_opts {
	char **args;
	char **env;        /* -e K=V added to the container's environment */
	const char *user;  /* USER[:GROUP], numeric or names from the container's files */
	const char *workdir;
	bool interactive;
	bool tty; /* a pty of hull's own, relayed to the caller's terminal */
};

/* Returns the process's exit code (126/127 when it cannot be executed / found), or -errno. */
int engine_exec(struct ctr *c, const struct exec_opts *o, struct hull_err *err);
