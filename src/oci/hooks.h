#pragma once
/* Running OCI hooks (runtime-spec config.md "POSIX-platform Hooks"). Internal to src/oci. */
#include <stddef.h>

#include "common/error.h"
#include "spec/spec.h"

/* Run one hook (index i of its kind, for the message); as oci_hooks_run(). */
int oci_hook_run(const struct oci_hook *h, size_t i, enum oci_hook_kind kind,
		 const char *state_json, struct hull_err *err);

/*
 * Run hooks[0..n) in order, each with state_json on its stdin, its args and env (the
 * runtime's environment when the hook has none), and its timeout (killed with SIGKILL when it runs over). Stops at the first hook
 * that fails; the error names the kind, the index and the path.
 */
int oci_hooks_run(const struct oci_hook *hooks, size_t n, enum oci_hook_kind kind,
		  const char *state_json, struct hull_err *err);
