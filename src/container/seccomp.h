#pragma once
/*
 * linux.seccomp (runtime-spec config-linux.md "Seccomp") through libseccomp.
 *
 * The filter is built with libseccomp and exported as classic BPF, then installed with
 * seccomp(2) by whoever runs last before the user's program: for a container that is the
 * waiter (src/oci/waiter), right before its final execve, so that nothing of the runtime
 * runs under the filter (docs/runtime.md "seccomp"). Errors name the field, e.g.
 *   config.json: linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"
 * A syscall name that libseccomp does not know is skipped with a debug line (as crun).
 */
#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "spec/spec.h" /* struct oci_seccomp */


struct seccomp_filter {
	struct sock_filter *insns; /* heap; NULL when there is no filter */
	size_t n_insns;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2), NEW_LISTENER included */
	bool notify;        /* some rule (or the default) is SCMP_ACT_NOTIFY */
	char *listener_path;
	char *listener_metadata;
};

/*
 * Build the filter from linux.seccomp (parsed by the model); where names it in messages
 * ("config.json: linux.seccomp"). On error *ret is cleared.
 */
int seccomp_filter_build(const struct oci_seccomp *seccomp, const char *where,
			 struct seccomp_filter *ret,
			 struct hull_err *err);
void seccomp_filter_clear(struct seccomp_filter *f);

/*
 * As seccomp_filter_build, with a cache of built filters in cache_dirfd (-1: none). libseccomp
 * takes ~20 ms for a 350-name profile on three architectures, the same profile every time
 * for an engine; a file "<fnv64>.bpf" holds the profile text (sorted keys, with the
 * libseccomp version) and its BPF, used only when the text matches byte for byte. The
 * profile is still checked in full. The directory must be writable by root only (the state
 * root). Cache errors are never fatal.
 */
int seccomp_filter_build_cached(const struct oci_seccomp *seccomp, const char *where,
				int cache_dirfd,
				struct seccomp_filter *ret, struct hull_err *err);

/*
 * Install f in the calling thread with seccomp(2) (needs no_new_privs or CAP_SYS_ADMIN).
 * Returns the notify fd (always > 2 when stdio is open) when f->notify, else 0.
 */
int seccomp_filter_install(const struct seccomp_filter *f, struct hull_err *err);

/*
 * Install f in a forked child (under no_new_privs) to learn now, at create, whether the
 * kernel takes it (flags it lacks, ...), rather than at the final exec. Errors name the field.
 */
int seccomp_filter_try(const struct seccomp_filter *f, struct hull_err *err);

/*
 * Build and install linux.seccomp now (for exec; not "seccomp_load": libseccomp owns that
 * name). Returns 0, or the notify fd when the
 * filter has SCMP_ACT_NOTIFY rules; the caller sends it to the listener.
 */
int seccomp_load_spec(const struct oci_spec *s, struct hull_err *err);

/*
 * The container process state sent to listenerPath with the notify fd (runtime-spec
 * config-linux.md "Seccomp", runtime.md "State"): {"ociVersion", "fds":["seccompFd"],
 * "pid", "metadata", "state"}. state_json is the container state. Heap string.
 */
char *seccomp_listener_message(const struct seccomp_filter *f, const char *state_json);

/* Connect a SOCK_STREAM unix socket to f->listener_path; returns the fd. */
int seccomp_listener_connect(const struct seccomp_filter *f, struct hull_err *err);

/* Send the notify fd nfd with msg (seccomp_listener_message) over the connected sock. */
int seccomp_listener_send(int sock, int nfd, const char *msg, struct hull_err *err);
