#pragma once
/* The container's init, from clone() to execve(). Internal to src/oci. */
#include <stdbool.h>

#include "oci/runtime.h"
#include "spec/spec.h"

struct init_args {
	const struct oci_spec *spec;
	const struct oci_create_opts *opts;
	const char *id;
	const char *state_root; /* --root: holds the seccomp filter cache; NULL: no cache */
	int sync_fd;    /* SOCK_SEQPACKET to the parent */
	int fifo_fd;    /* exec fifo, O_RDONLY|O_NONBLOCK */
	int console_fd; /* connected console socket, or -1 */
	bool new_userns; /* wait for the parent to write uid_map/gid_map, then become root */
	bool in_userns;  /* new or joined: mknod and some mounts are refused */
};

/* Never returns: execs the container process, or reports on sync_fd and exits 1. */
void oci_init_main(const struct init_args *a) __attribute__((noreturn));
