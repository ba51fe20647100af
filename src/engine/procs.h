#pragma once
/* The processes of a running container (for `hull top` and `hull stats`), from its backend. */
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "engine/container.h"
#include "image/store.h"

struct ctr_proc {
	pid_t pid, ppid;
	uid_t uid;
	uint64_t cpu_ticks; /* utime + stime */
	uint64_t rss_bytes;
	char *cmd;          /* the command line, spaces between arguments */
};

/* Processes in the container's pid namespace (its init first). *ret: free with ctr_procs_free. */
int ctr_procs(struct image_store *s, struct ctr *c, struct ctr_proc **ret, size_t *ret_n,
	      struct hull_err *err);
void ctr_procs_free(struct ctr_proc *v, size_t n);
