#pragma once
/*
 * `hull exec`: a new process in a running container through the runtime library's exec
 * (oci_runtime_exec(), in process): it joins the container's cgroups and namespaces and gets
 * its root, environment, capability sets, rlimits and seccomp filter, as its init has them;
 * -u, -w and -e override the user, working directory and environment.
 */
#include <stdbool.h>

#include "common/error.h"
#include "engine/container.h"
#include "image/store.h"

struct exec_opts {
	char **args;
	char **env;        /* -e K=V added to the container's environment; "K" takes ours */
	const char *user;  /* USER[:GROUP], numeric or names from the container's files */
	const char *workdir;
	bool interactive;
	bool tty;          /* the runtime's pty (console socket), relayed to our terminal */
};

/*
 * Run the process and wait for it. Returns its exit code (128+N when killed by signal N),
 * or -errno with err set and *ret_exit the docker exit code for the failure: 127 when the
 * command is not found, 126 when it cannot be executed or the runtime failed to start it,
 * 125 for hull's own errors (not running, unknown user, bad flags).
 */
int engine_exec(struct image_store *s, struct ctr *c, const struct exec_opts *o, int *ret_exit,
		struct hull_err *err);
